"""Command line of the artifact cache.

    python -m tools.artifacts build [--cluster] [NAME ...]
                                                 build what is missing or stale (all by default; --cluster: also
                                                 kubeadm, the control plane and etcd), write checksum files
    python -m tools.artifacts manifest           print the manifest (name, version, sha256, path, checksum_path)
    python -m tools.artifacts verify             check every cached file against its sha256, and the checksum files
    python -m tools.artifacts path               print the mirror root served to guests

Versions are the roles' defaults (roles/<role>/defaults/main.yml, see catalog.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from . import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.artifacts", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build")
    p.add_argument("names", nargs="*")
    p.add_argument("--cluster", action="store_true", help="also the kubeadm cluster's binaries and control-plane images")
    sub.add_parser("manifest")
    sub.add_parser("verify")
    sub.add_parser("path")
    args = parser.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.cmd == "build":
            manifest = build.build_all(set(args.names) or None, log=log, cluster=args.cluster)
            for name, entry in manifest["artifacts"].items():
                log(f"artifacts: {name:12} {entry['version']:8} {entry['sha256']}  {entry['path']} (+ {entry.get('checksum_path')})")
        elif args.cmd == "manifest":
            print(json.dumps(build.load_manifest(), indent=2))
        elif args.cmd == "verify":
            problems = build.verify_cache()
            for problem in problems:
                log(f"artifacts: {problem}")
            return 1 if problems else 0
        elif args.cmd == "path":
            print(build.mirror_root())
    except (RuntimeError, OSError) as exc:
        log(f"artifacts: error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
