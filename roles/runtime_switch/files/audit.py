#!/usr/bin/env python3
"""Audit what a runtime left on the node after a switch; print JSON (read-only).

Usage: audit.py <json: {"socket", "unit", "processes", "paths"}>
"""

import json
import os
import stat
import subprocess
import sys


def run(*argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def main():
    spec = json.loads(sys.argv[1])
    socket = spec["socket"]
    try:
        present = stat.S_ISSOCK(os.stat(socket).st_mode)
    except OSError:
        present = False
    answers = present and run("crictl", "--runtime-endpoint", f"unix://{socket}", "--timeout", "3s", "version") != ""
    containers = run("crictl", "--runtime-endpoint", f"unix://{socket}", "ps", "-a", "-q").split() if answers else []
    processes = [p for name in spec["processes"] for p in run("pgrep", "-x", name).split()]
    result = {
        "socket": "present" if present else "absent",
        "answers": answers,
        "unit_active": run("systemctl", "is-active", spec["unit"]) or "unknown",
        "unit_enabled": run("systemctl", "is-enabled", spec["unit"]) or "unknown",
        "processes": processes,
        "containers": len(containers),
        "kept": [p for p in spec["paths"] if os.path.exists(p)],
    }
    result["left_anything"] = bool(answers or result["unit_active"] == "active" or result["unit_enabled"] == "enabled"
                                   or processes or containers)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
