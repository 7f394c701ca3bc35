"""What the artifact cache holds: versions, sources, mirror paths and checksum files.

Versions come from the product, not from here: each is the default of the role that installs
the artifact (``crictl_version`` of roles/crictl for crictl and critest, ``containerd_version``,
``oci_runtime_runc_version``, ``crio_version``, ``kubelet_version``, which may name
``kubenode_kubernetes_version``), read with PyYAML, so the test bed builds exactly what the
roles install by default. Every artifact is published in the
mirror tree under the path its upstream project uses for release downloads
(``github/<org>/<repo>/releases/download/<tag>/<file>``,
``dl.k8s.io/release/<tag>/bin/linux/<arch>/<file>``), next to the checksum file that upstream
publishes in its own format (see ``ChecksumFile``), so a site mirror of the upstream files works
with the same ``*_url`` variables; only the base URL changes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

ARCH = "amd64"

GITHUB = "github"
K8S_RELEASE = "dl.k8s.io/release"
REPO_ROOT = Path(__file__).resolve().parents[2]

# name -> (role, variable): the role default each artifact's version comes from.
VERSION_SOURCES = {
    "crictl": ("crictl", "crictl_version"),
    "critest": ("crictl", "crictl_version"),
    "containerd": ("containerd", "containerd_version"),
    "runc": ("oci_runtime", "oci_runtime_runc_version"),
    "crio": ("crio", "crio_version"),
    "kubelet": ("kubelet", "kubelet_version"),
}
_PLAIN_VERSION = re.compile(r"\d+\.\d+\.\d+")
_ALIAS = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")

# Tags for a cgo build with libseccomp only (no gpgme, btrfs, ostree, selinux headers), linked static.
STATIC_CGO_TAGS = ("netgo", "osusergo", "seccomp")


def _owning_role(variable: str, root: Path) -> str | None:
    """The role whose public prefix ``<role>_`` names ``variable`` (the longest such role name)."""
    roles = [d.name for d in (root / "roles").iterdir() if (d / "defaults" / "main.yml").is_file()] if (root / "roles").is_dir() else []
    owners = [r for r in roles if variable.startswith(f"{r}_")]
    return max(owners, key=len) if owners else None


def role_default_version(role: str, variable: str, root: Path = REPO_ROOT, _seen: tuple[str, ...] = ()) -> str:
    """Return the plain version ``X.Y.Z`` that ``roles/<role>/defaults/main.yml`` sets ``variable`` to.

    A default that only names another role's public variable (``kubelet_version:
    "{{ kubenode_kubernetes_version }}"``: one variable, no filter, no expression) is followed to
    that variable's default, in the role its prefix names; that is still a role default, the
    single source.

    Raises:
        RuntimeError: the file or the variable is missing, or its value is not a plain
            version (any other Jinja expression, a range, a ``v`` prefix); the message names the
            file, the variable and the value.
    """
    import yaml  # PyYAML (the venv's); imported here so the rest of the test bed stays stdlib-only

    path = root / "roles" / role / "defaults" / "main.yml"
    try:
        defaults = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RuntimeError(f"cannot read the version of {variable} from {path}: {exc}") from None
    if variable not in defaults:
        raise RuntimeError(f"{path} does not set {variable}: the test bed builds the version the role installs by default")
    value = str(defaults[variable]).strip()
    alias = _ALIAS.fullmatch(value)
    if alias and alias.group(1) not in (*_seen, variable):
        target = alias.group(1)
        owner = role if target in defaults else _owning_role(target, root)
        if owner is not None:
            return role_default_version(owner, target, root, (*_seen, variable))
    if "{{" in value or "{%" in value:
        raise RuntimeError(
            f"{path}: {variable} is the Jinja expression {value!r}, not a plain version; the test bed builds "
            f"the role's default version and evaluates no templates (it follows only a bare reference to "
            f"another role default, such as '{{{{ kubenode_kubernetes_version }}}}'): set {variable} to a plain X.Y.Z there"
        )
    if not _PLAIN_VERSION.fullmatch(value):
        raise RuntimeError(f"{path}: {variable} is {value!r}, not a plain version X.Y.Z (no 'v' prefix, no range)")
    return value


@functools.lru_cache(maxsize=None)
def versions(root: Path = REPO_ROOT) -> dict[str, str]:
    """Return artifact name -> version, each from its role's defaults (see ``VERSION_SOURCES``)."""
    return {name: role_default_version(role, variable, root) for name, (role, variable) in VERSION_SOURCES.items()}


@dataclass(frozen=True)
class ChecksumFile:
    """The checksum file upstream publishes next to a release file, in upstream's format.

    ``path`` is its place in the mirror tree; ``style`` is ``sha256sum`` (lines
    ``<sha256>  <file name>``, what ``sha256sum`` prints; one file may list several release
    files, as runc's ``runc.sha256sum`` does) or ``bare`` (the hash alone, as dl.k8s.io's
    ``kubelet.sha256``).
    """

    path: str
    style: str

    def __post_init__(self):
        if self.style not in ("sha256sum", "bare"):
            raise ValueError(f"unknown checksum file style {self.style!r}")


def sibling_checksum(mirror_path: str, suffix: str, style: str) -> ChecksumFile:
    """The checksum file named ``<release file><suffix>`` beside ``mirror_path``."""
    return ChecksumFile(mirror_path + suffix, style)


def directory_checksum(mirror_path: str, name: str, style: str = "sha256sum") -> ChecksumFile:
    """One checksum file ``name`` for every release file of a directory (runc's ``runc.sha256sum``)."""
    return ChecksumFile(mirror_path.rsplit("/", 1)[0] + "/" + name, style)


def checksum_text(style: str, files: list[tuple[str, str]]) -> str:
    """Return the content of a checksum file listing ``files`` (file name, sha256), in ``style``.

    >>> checksum_text("sha256sum", [("runc.amd64", "a" * 64)]) == "a" * 64 + "  runc.amd64\n"
    True
    """
    if style == "bare":
        if len(files) != 1:
            raise ValueError(f"a bare checksum file holds one hash, not {len(files)}")
        return files[0][1] + "\n"
    if style == "sha256sum":
        return "".join(f"{digest}  {name}\n" for name, digest in sorted(files))
    raise ValueError(f"unknown checksum file style {style!r}")


@dataclass(frozen=True)
class CBuild:
    """A C program shipped inside a Go module's source (CRI-O's pinns), built with make."""

    source_dir: str  # relative to the module root
    make_args: tuple[str, ...]
    output: str  # relative to source_dir
    member: str  # path inside the release archive


@dataclass(frozen=True)
class GoBuild:
    """Binaries built from one Go module version, packed like the upstream release file.

    Each binary is built inside a throw-away wrapper module that requires ``module@version``
    (and, for k8s.io/kubernetes, replaces every staging module by its published version).
    """

    name: str
    version: str
    module: str
    binaries: tuple[tuple[str, str], ...]  # (package import path, member path in the archive)
    mirror_path: str
    checksum: ChecksumFile
    archive: bool = True  # False: the single binary is the released file
    ldflags: tuple[str, ...] = ()
    cgo: bool = False
    static: bool = False
    tags: tuple[str, ...] = ()
    test_binary: bool = False  # built with `go test -c` (critest)
    staging_replaces: bool = False  # k8s.io/kubernetes: pin k8s.io/* staging modules
    c_builds: tuple[CBuild, ...] = ()
    recipe: int = 1

    def inputs(self, go_version: str) -> dict:
        """What the built bytes depend on (the cache key; the checksum file is not an input)."""
        return {
            "kind": "go",
            "module": f"{self.module}@v{self.version}",
            "binaries": [list(b) for b in self.binaries],
            "ldflags": list(self.ldflags),
            "cgo": self.cgo,
            "static": self.static,
            "tags": list(self.tags),
            "test_binary": self.test_binary,
            "c_builds": [c.member for c in self.c_builds],
            "go": go_version,
            "recipe": self.recipe,
        }


@dataclass(frozen=True)
class OciImage:
    """A small OCI image archive built from local files (see oci.py)."""

    name: str
    version: str
    reference: str
    mirror_path: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    # "busybox" (Debian's busybox, see build.py), "pause" (src/pause.c) or "binary" (``binary``).
    source: str = ""
    extra: dict = field(default_factory=dict)
    user: str = ""  # the image config's User
    # Files added to (or replacing) the source's: (path in the image, text, mode).
    files: tuple[tuple[str, str, int], ...] = ()
    # Programs compiled static from src/: (source file, path in the image, mode).
    compiled: tuple[tuple[str, str, int], ...] = ()
    # source "binary": (artifact name, its archive member or "" for a single-file artifact,
    # path in the image), a binary of this cache alone in the image.
    binary: tuple[str, str, str] = ()

    @property
    def checksum(self) -> ChecksumFile:
        """``<file>.sha256`` holding the bare hash."""
        return sibling_checksum(self.mirror_path, ".sha256", "bare")

    def inputs(self, source_version: str) -> dict:
        """What the archive's bytes depend on (``source_version``: the source's and the compiled
        programs' versions, from the build)."""
        return {"kind": "oci", "reference": self.reference, "source": self.source, "source_version": source_version, "recipe": 2,
                "entrypoint": list(self.entrypoint), "cmd": list(self.cmd), "user": self.user,
                "files": [list(f) for f in self.files], "compiled": [list(c) for c in self.compiled],
                **({"binary": list(self.binary)} if self.binary else {})}


def _gh(org_repo: str, tag: str, filename: str) -> str:
    return f"{GITHUB}/{org_repo}/releases/download/{tag}/{filename}"


def go_builds(v: dict[str, str] | None = None) -> tuple[GoBuild, ...]:
    """Return the Go builds for the versions ``v`` (name -> version; default: the roles' defaults)."""
    v = versions() if v is None else v
    cri_tools, crio, containerd, runc, kubernetes = v["crictl"], v["crio"], v["containerd"], v["runc"], v["kubelet"]
    if v["critest"] != cri_tools:
        raise RuntimeError(f"crictl {cri_tools} and critest {v['critest']} are one cri-tools release: give them one version")
    crictl_path = _gh("kubernetes-sigs/cri-tools", f"v{cri_tools}", f"crictl-v{cri_tools}-linux-{ARCH}.tar.gz")
    critest_path = _gh("kubernetes-sigs/cri-tools", f"v{cri_tools}", f"critest-v{cri_tools}-linux-{ARCH}.tar.gz")
    crio_path = _gh("cri-o/cri-o", f"v{crio}", f"cri-o.{ARCH}.v{crio}.tar.gz")
    containerd_path = _gh("containerd/containerd", f"v{containerd}", f"containerd-{containerd}-linux-{ARCH}.tar.gz")
    runc_path = _gh("opencontainers/runc", f"v{runc}", f"runc.{ARCH}")
    kubelet_path = f"{K8S_RELEASE}/v{kubernetes}/bin/linux/{ARCH}/kubelet"
    crictl = GoBuild(
        name="crictl",
        version=cri_tools,
        module="sigs.k8s.io/cri-tools",
        binaries=(("sigs.k8s.io/cri-tools/cmd/crictl", "crictl"),),
        ldflags=(f"-X sigs.k8s.io/cri-tools/pkg/version.Version=v{cri_tools}",),
        mirror_path=crictl_path,
        # cri-tools: <file>.sha256, one sha256sum line.
        checksum=sibling_checksum(crictl_path, ".sha256", "sha256sum"),
    )
    critest = GoBuild(
        name="critest",
        version=cri_tools,
        module="sigs.k8s.io/cri-tools",
        binaries=(("sigs.k8s.io/cri-tools/cmd/critest", "critest"),),
        ldflags=(f"-X sigs.k8s.io/cri-tools/pkg/version.Version=v{cri_tools}",),
        test_binary=True,
        mirror_path=critest_path,
        checksum=sibling_checksum(critest_path, ".sha256", "sha256sum"),
    )
    crio_build = GoBuild(
        name="crio",
        version=crio,
        module="github.com/cri-o/cri-o",
        binaries=(("github.com/cri-o/cri-o/cmd/crio", "cri-o/bin/crio"),),
        cgo=True,
        static=True,
        # apparmor: as CRI-O's release bundle; CRI-O then confines containers with its default
        # profile wherever the kernel has AppArmor and apparmor_parser is installed (pure Go: it
        # runs apparmor_parser, no libapparmor), and leaves them unconfined, as before, elsewhere.
        tags=STATIC_CGO_TAGS + ("apparmor", "containers_image_openpgp", "containers_image_ostree_stub", "exclude_graphdriver_btrfs",
                                "btrfs_noversion"),
        c_builds=(CBuild(source_dir="pinns", make_args=("CFLAGS=-std=c99 -Os -Wall -Werror -Wextra -static",), output="../bin/pinns",
                         member="cri-o/bin/pinns"),),
        mirror_path=crio_path,
        # CRI-O: <file>.sha256sum, sha256sum output.
        checksum=sibling_checksum(crio_path, ".sha256sum", "sha256sum"),
    )
    containerd_build = GoBuild(
        name="containerd",
        version=containerd,
        module="github.com/containerd/containerd/v2",
        binaries=(
            ("github.com/containerd/containerd/v2/cmd/containerd", "bin/containerd"),
            ("github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2", "bin/containerd-shim-runc-v2"),
            ("github.com/containerd/containerd/v2/cmd/ctr", "bin/ctr"),
        ),
        tags=("no_btrfs", "no_devmapper", "no_zfs"),
        ldflags=(
            f"-X github.com/containerd/containerd/v2/version.Version=v{containerd}",
            "-X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2",
            "-X github.com/containerd/containerd/v2/version.Revision=kubenode-build",
        ),
        mirror_path=containerd_path,
        # containerd: <file>.sha256sum, sha256sum output.
        checksum=sibling_checksum(containerd_path, ".sha256sum", "sha256sum"),
    )
    runc_build = GoBuild(
        name="runc",
        version=runc,
        module="github.com/opencontainers/runc",
        binaries=(("github.com/opencontainers/runc", "runc"),),
        archive=False,
        cgo=True,
        static=True,
        tags=STATIC_CGO_TAGS,
        ldflags=(f"-X main.version={runc}", f"-X main.gitCommit=v{runc}"),
        mirror_path=runc_path,
        # runc: one runc.sha256sum per release, a sha256sum line per release file.
        checksum=directory_checksum(runc_path, "runc.sha256sum"),
    )
    kubelet = GoBuild(
        name="kubelet",
        version=kubernetes,
        module="k8s.io/kubernetes",
        binaries=(("k8s.io/kubernetes/cmd/kubelet", "kubelet"),),
        archive=False,
        staging_replaces=True,
        ldflags=_kubernetes_ldflags(kubernetes),
        mirror_path=kubelet_path,
        # dl.k8s.io: kubelet.sha256 holds the bare hash.
        checksum=sibling_checksum(kubelet_path, ".sha256", "bare"),
    )
    return (crictl, critest, runc_build, containerd_build, crio_build, kubelet)


def _kubernetes_ldflags(kubernetes: str) -> tuple[str, ...]:
    """The version stamp of a Kubernetes binary (what ``--version`` and the version RPCs report)."""
    return (
        f"-X k8s.io/component-base/version.gitVersion=v{kubernetes}",
        "-X k8s.io/component-base/version.gitMajor=1",
        f"-X k8s.io/component-base/version.gitMinor={kubernetes.split('.')[1]}",
        "-X k8s.io/component-base/version.gitTreeState=clean",
        "-X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z",
    )


# etcd at the version kubeadm pins for each Kubernetes minor (cmd/kubeadm/app/constants
# SupportedEtcdVersion; the image tag adds kubeadm's "-0" build suffix). build.py checks the
# tags against what the built kubeadm itself lists (`kubeadm config images list`).
KUBEADM_ETCD = {36: "3.6.8"}
# The control-plane components kubeadm runs as static pods, each from its image.
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def kubeadm_etcd_version(kubernetes: str) -> str:
    """etcd's version for ``kubernetes`` (``KUBEADM_ETCD``); raises RuntimeError for an unknown minor."""
    minor = int(kubernetes.split(".")[1])
    if minor not in KUBEADM_ETCD:
        raise RuntimeError(f"no etcd version is known for Kubernetes {kubernetes}: add kubeadm's SupportedEtcdVersion "
                           f"for 1.{minor} to KUBEADM_ETCD in tools/artifacts/catalog.py")
    return KUBEADM_ETCD[minor]


def cluster_builds(v: dict[str, str] | None = None) -> tuple[GoBuild, ...]:
    """The builds only a kubeadm cluster needs (``tools.artifacts build --cluster``): kubeadm
    (installed on nodes by role kubelet in kubeadm mode, from dl.k8s.io's path), the control
    plane's binaries and etcd (each packed into the image kubeadm pulls, see CLUSTER_IMAGES)."""
    v = versions() if v is None else v
    kubernetes = v["kubelet"]
    builds = []
    for name in ("kubeadm", *CONTROL_PLANE):
        path = f"{K8S_RELEASE}/v{kubernetes}/bin/linux/{ARCH}/{name}"
        builds.append(GoBuild(name=name, version=kubernetes, module="k8s.io/kubernetes",
                              binaries=((f"k8s.io/kubernetes/cmd/{name}", name),), archive=False, staging_replaces=True,
                              ldflags=_kubernetes_ldflags(kubernetes), mirror_path=path,
                              checksum=sibling_checksum(path, ".sha256", "bare")))
    etcd = kubeadm_etcd_version(kubernetes)
    etcd_path = _gh("etcd-io/etcd", f"v{etcd}", f"etcd-v{etcd}-linux-{ARCH}.tar.gz")
    builds.append(GoBuild(
        name="etcd", version=etcd, module="go.etcd.io/etcd/server/v3",
        binaries=(("go.etcd.io/etcd/server/v3", f"etcd-v{etcd}-linux-{ARCH}/etcd"),),
        ldflags=("-X go.etcd.io/etcd/api/v3/version.GitSHA=kubenode-build",),
        mirror_path=etcd_path,
        # etcd: one SHA256SUMS per release, a sha256sum line per release file.
        checksum=directory_checksum(etcd_path, "SHA256SUMS")))
    return tuple(builds)


PAUSE_IMAGE = OciImage(
    name="pause-image",
    version="1.0",
    reference="localhost/kubenode/pause:1.0",
    mirror_path="images/kubenode-pause-1.0.oci.tar",
    entrypoint=("/pause",),
    source="pause",
)

TEST_IMAGE = OciImage(
    name="test-image",
    version="1",
    reference="localhost/kubenode/busybox:1",
    mirror_path="images/kubenode-busybox-1.oci.tar",
    cmd=("/bin/sh",),
    source="busybox",
)

# Equivalents of the images critest pulls (cri-tools pkg/validate/consts.go and images/ at
# the critest version), built from the same busybox under critest's own names, so its image,
# networking and security-context specs run offline through the test bed's registry mirrors
# (tools/testbed/registry.py serves them). What each spec needs of its image is in the comments.
CRI_TOOLS_IMAGES = "gcr.io/k8s-staging-cri-tools"
E2E_IMAGES = "registry.k8s.io/e2e-test-images"


def _web_server(port: int) -> str:
    """nginx's stand-in: busybox httpd on ``port``, under a first process named nginx that
    writes /var/run/nginx.pid (the host-PID spec reads it and looks for it with ``pidof nginx``)
    and, like nginx's master, has "master process" in its command line (the container-PID spec
    greps /proc/1/cmdline for it): the script runs itself again with those words, same pid."""
    return ("#!/bin/sh\n"
            f"# A stand-in for nginx: busybox httpd serving /usr/share/nginx/html on port {port}.\n"
            '[ "$1" = master ] || exec "$0" master "nginx: master process" "$@"\n'
            "echo $$ > /var/run/nginx.pid\n"
            f"httpd -f -p {port} -h /usr/share/nginx/html &\n"
            "trap 'kill $! 2>/dev/null; exit 0' TERM INT QUIT\n"
            "wait\n")


_WEB_ROOT = ("usr/share/nginx/html/index.html", "<html><body><h1>kubenode test bed web server</h1></body></html>\n", 0o644)
_HTTPD = ("#!/bin/sh\n"
          "# A stand-in for httpd: busybox httpd on port 80 (the multi-container specs look for \"httpd\" in its log).\n"
          "echo \"httpd: serving /usr/local/apache2/htdocs on port 80\"\n"
          "httpd -f -p 80 -h /usr/local/apache2/htdocs &\n"
          "trap 'kill $! 2>/dev/null; exit 0' TERM INT QUIT\n"
          "wait\n")
# The image-predefined-group image: user default-user (1000) in group-defined-in-image (50000).
_PREDEFINED_GROUP = (
    ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\ndefault-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n", 0o644),
    ("etc/group", "root:x:0:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n", 0o644),
    ("home/default-user/", "", 0o755),
)


def _critest_image(name: str, reference: str, **kwargs) -> OciImage:
    """One of critest's images, on busybox with its CMD (``sh``, as images built FROM busybox inherit)."""
    path = reference.split("/", 1)[1].replace("/", "-").replace(":", "-")
    return OciImage(name=f"critest-{name}", version="1", reference=reference, mirror_path=f"images/critest/{path}.oci.tar",
                    **{"source": "busybox", "cmd": ("sh",), **kwargs})


CRITEST_IMAGES: tuple[OciImage, ...] = (
    # Web server of the networking, port-forward and host-PID specs: HTTP 200 on port 80.
    _critest_image("nginx", f"{E2E_IMAGES}/nginx:1.14-2", cmd=("nginx", "-g", "daemon off;"),
                   files=(("usr/sbin/nginx", _web_server(80), 0o755), _WEB_ROOT, ("var/run/", "", 0o755))),
    # Host-network web server: port 12003 (images/hostnet-nginx).
    _critest_image("hostnet-nginx", f"{CRI_TOOLS_IMAGES}/hostnet-nginx-{ARCH}:latest", cmd=("nginx", "-g", "daemon off;"),
                   files=(("usr/sbin/nginx", _web_server(12003), 0o755), _WEB_ROOT, ("var/run/", "", 0o755))),
    # Multi-container specs: a long-running server on port 80 that logs "httpd".
    _critest_image("httpd", f"{E2E_IMAGES}/httpd:2.4.39-4", cmd=("httpd-foreground",),
                   files=(("usr/local/bin/httpd-foreground", _HTTPD, 0o755),
                          ("usr/local/apache2/htdocs/index.html", "<html><body><h1>It works!</h1></body></html>\n", 0o644))),
    # no_new_privs specs: a setuid-root program that prints its effective uid.
    _critest_image("nonewprivs", f"{E2E_IMAGES}/nonewprivs:1.3", entrypoint=("/usr/local/bin/nnp",), cmd=(),
                   compiled=(("nnp.c", "usr/local/bin/nnp", 0o4755),)),
    # Image user specs (images/image-user): the config's User, read by ImageStatus.
    _critest_image("user-uid", f"{CRI_TOOLS_IMAGES}/test-image-user-uid:latest", user="1002"),
    _critest_image("user-username", f"{CRI_TOOLS_IMAGES}/test-image-user-username:latest", user="www-data"),
    _critest_image("user-uid-group", f"{CRI_TOOLS_IMAGES}/test-image-user-uid-group:latest", user="1003:1004"),
    _critest_image("user-username-group", f"{CRI_TOOLS_IMAGES}/test-image-user-username-group:latest", user="www-data:1004"),
    # Supplemental-groups specs (images/image-predefined-group).
    _critest_image("predefined-group", f"{CRI_TOOLS_IMAGES}/test-image-predefined-group:latest", user="1000",
                   files=_PREDEFINED_GROUP),
    # Image specs (images/image-test): three different images, one image under three tags
    # (registry.py serves it as :1, :2 and :3), and pulls by tag and by implicit latest.
    *(_critest_image(f"test-image-{n}", f"{CRI_TOOLS_IMAGES}/test-image-{n}:latest", files=((f"test-image-{n}", f"{n}\n", 0o644),))
      for n in ("1", "2", "3")),
    _critest_image("test-image-tags", f"{CRI_TOOLS_IMAGES}/test-image-tags:1", files=(("test-image-tags", "tags\n", 0o644),)),
    _critest_image("test-image-latest", f"{CRI_TOOLS_IMAGES}/test-image-latest:latest", files=(("test-image-latest", "latest\n", 0o644),)),
    _critest_image("test-image-tag", f"{CRI_TOOLS_IMAGES}/test-image-tag:test", files=(("test-image-tag", "test\n", 0o644),)),
    _critest_image("test-image-tag-all", f"{CRI_TOOLS_IMAGES}/test-image-tag:all", files=(("test-image-tag-all", "all\n", 0o644),)),
    # The image specs pull registry.k8s.io/pause:3.9 and k8s.gcr.io/pause:3.9 and want one image
    # with exactly those two tags, then remove it by ID: its own image, not the node's sandbox image.
    _critest_image("pause", "registry.k8s.io/pause:3.9", source="pause", cmd=(), entrypoint=("/pause",),
                   files=(("etc/kubenode-critest-pause", "pause 3.9 for critest's image specs\n", 0o644),)),
)

IMAGES: tuple[OciImage, ...] = (PAUSE_IMAGE, TEST_IMAGE, *CRITEST_IMAGES)

# /etc/passwd and /etc/group of the control-plane images (as distroless's, which upstream's
# images build on): kubeadm runs the components as root unless told otherwise.
_DISTROLESS_USERS = (
    ("etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                   "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n", 0o644),
    ("etc/group", "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n", 0o644),
    ("tmp/", "", 0o1777),
)


def cluster_images(v: dict[str, str] | None = None) -> tuple[OciImage, ...]:
    """The images ``kubeadm init`` pulls (``kubeadm config images list`` of the built kubeadm,
    checked by build.py), each holding its binary from ``cluster_builds`` at /usr/local/bin,
    under kubeadm's names and tags. kube-proxy and CoreDNS are not built: the cluster skips
    kubeadm's addon phases (no test needs Service proxying or cluster DNS)."""
    v = versions() if v is None else v
    kubernetes, etcd = v["kubelet"], kubeadm_etcd_version(v["kubelet"])
    images = [OciImage(name=f"image-{name}", version=kubernetes, reference=f"registry.k8s.io/{name}:v{kubernetes}",
                       mirror_path=f"images/cluster/{name}-v{kubernetes}.oci.tar", source="binary", files=_DISTROLESS_USERS,
                       binary=(name, "", f"usr/local/bin/{name}"))
              for name in CONTROL_PLANE]
    images.append(OciImage(name="image-etcd", version=etcd, reference=f"registry.k8s.io/etcd:{etcd}-0",
                           mirror_path=f"images/cluster/etcd-{etcd}-0.oci.tar", source="binary", files=_DISTROLESS_USERS,
                           binary=("etcd", f"etcd-v{etcd}-linux-{ARCH}/etcd", "usr/local/bin/etcd")))
    return tuple(images)
