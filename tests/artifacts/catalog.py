"""What the artifact cache holds: versions, sources and mirror paths (the single source of truth).

Versions belong together: Kubernetes 1.36 (kubelet), CRI-O of the same minor, cri-tools of
the same minor, containerd 2.3 (LTS; supported by Kubernetes 1.36) and runc 1.4 (the line
CRI-O 1.36 ships). Every artifact is published in the mirror tree under the path its upstream
project uses for release downloads (``github/<org>/<repo>/releases/download/<tag>/<file>``,
``dl.k8s.io/release/<tag>/bin/linux/<arch>/<file>``), so a site mirror of the upstream files
works with the same ``*_url`` variables; only the base URL changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARCH = "amd64"

KUBERNETES_VERSION = "1.36.5"
CRI_TOOLS_VERSION = "1.36.0"
CRIO_VERSION = "1.36.3"
CONTAINERD_VERSION = "2.3.7"
RUNC_VERSION = "1.4.4"

GITHUB = "github"
K8S_RELEASE = "dl.k8s.io/release"

# Tags for a cgo build with libseccomp only (no gpgme, btrfs, ostree, selinux headers), linked static.
STATIC_CGO_TAGS = ("netgo", "osusergo", "seccomp")


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
    source: str = ""  # "busybox" (host busybox-static) or "pause" (src/pause.c)
    extra: dict = field(default_factory=dict)

    def inputs(self, source_version: str) -> dict:
        return {"kind": "oci", "reference": self.reference, "source": self.source, "source_version": source_version, "recipe": 1}


def _gh(org_repo: str, tag: str, filename: str) -> str:
    return f"{GITHUB}/{org_repo}/releases/download/{tag}/{filename}"


CRICTL = GoBuild(
    name="crictl",
    version=CRI_TOOLS_VERSION,
    module="sigs.k8s.io/cri-tools",
    binaries=(("sigs.k8s.io/cri-tools/cmd/crictl", "crictl"),),
    ldflags=(f"-X sigs.k8s.io/cri-tools/pkg/version.Version=v{CRI_TOOLS_VERSION}",),
    mirror_path=_gh("kubernetes-sigs/cri-tools", f"v{CRI_TOOLS_VERSION}", f"crictl-v{CRI_TOOLS_VERSION}-linux-{ARCH}.tar.gz"),
)

CRITEST = GoBuild(
    name="critest",
    version=CRI_TOOLS_VERSION,
    module="sigs.k8s.io/cri-tools",
    binaries=(("sigs.k8s.io/cri-tools/cmd/critest", "critest"),),
    ldflags=(f"-X sigs.k8s.io/cri-tools/pkg/version.Version=v{CRI_TOOLS_VERSION}",),
    test_binary=True,
    mirror_path=_gh("kubernetes-sigs/cri-tools", f"v{CRI_TOOLS_VERSION}", f"critest-v{CRI_TOOLS_VERSION}-linux-{ARCH}.tar.gz"),
)

CRIO = GoBuild(
    name="crio",
    version=CRIO_VERSION,
    module="github.com/cri-o/cri-o",
    binaries=(("github.com/cri-o/cri-o/cmd/crio", "cri-o/bin/crio"),),
    cgo=True,
    static=True,
    tags=STATIC_CGO_TAGS + ("containers_image_openpgp", "containers_image_ostree_stub", "exclude_graphdriver_btrfs", "btrfs_noversion"),
    c_builds=(CBuild(source_dir="pinns", make_args=("CFLAGS=-std=c99 -Os -Wall -Werror -Wextra -static",), output="../bin/pinns",
                     member="cri-o/bin/pinns"),),
    mirror_path=_gh("cri-o/cri-o", f"v{CRIO_VERSION}", f"cri-o.{ARCH}.v{CRIO_VERSION}.tar.gz"),
)

CONTAINERD = GoBuild(
    name="containerd",
    version=CONTAINERD_VERSION,
    module="github.com/containerd/containerd/v2",
    binaries=(
        ("github.com/containerd/containerd/v2/cmd/containerd", "bin/containerd"),
        ("github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2", "bin/containerd-shim-runc-v2"),
        ("github.com/containerd/containerd/v2/cmd/ctr", "bin/ctr"),
    ),
    tags=("no_btrfs", "no_devmapper", "no_zfs"),
    ldflags=(
        f"-X github.com/containerd/containerd/v2/version.Version=v{CONTAINERD_VERSION}",
        "-X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2",
        "-X github.com/containerd/containerd/v2/version.Revision=kubenode-build",
    ),
    mirror_path=_gh("containerd/containerd", f"v{CONTAINERD_VERSION}", f"containerd-{CONTAINERD_VERSION}-linux-{ARCH}.tar.gz"),
)

RUNC = GoBuild(
    name="runc",
    version=RUNC_VERSION,
    module="github.com/opencontainers/runc",
    binaries=(("github.com/opencontainers/runc", "runc"),),
    archive=False,
    cgo=True,
    static=True,
    tags=STATIC_CGO_TAGS,
    ldflags=(f"-X main.version={RUNC_VERSION}", f"-X main.gitCommit=v{RUNC_VERSION}"),
    mirror_path=_gh("opencontainers/runc", f"v{RUNC_VERSION}", f"runc.{ARCH}"),
)

KUBELET = GoBuild(
    name="kubelet",
    version=KUBERNETES_VERSION,
    module="k8s.io/kubernetes",
    binaries=(("k8s.io/kubernetes/cmd/kubelet", "kubelet"),),
    archive=False,
    staging_replaces=True,
    ldflags=(
        f"-X k8s.io/component-base/version.gitVersion=v{KUBERNETES_VERSION}",
        "-X k8s.io/component-base/version.gitMajor=1",
        f"-X k8s.io/component-base/version.gitMinor={KUBERNETES_VERSION.split('.')[1]}",
        "-X k8s.io/component-base/version.gitTreeState=clean",
        "-X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z",
    ),
    mirror_path=f"{K8S_RELEASE}/v{KUBERNETES_VERSION}/bin/linux/{ARCH}/kubelet",
)

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

GO_BUILDS: tuple[GoBuild, ...] = (CRICTL, CRITEST, RUNC, CONTAINERD, CRIO, KUBELET)
IMAGES: tuple[OciImage, ...] = (PAUSE_IMAGE, TEST_IMAGE)
