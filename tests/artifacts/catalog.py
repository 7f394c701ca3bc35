"""What the artifact cache holds: versions, sources and mirror paths (the single source of truth).

Every artifact is published in the mirror tree under the same relative path its upstream
project uses for release downloads, so a site mirror of the upstream release pages works
with the same ``*_url`` variables (only the base URL changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARCH = "amd64"

# The Kubernetes minor the project targets, and the cri-tools release of that minor.
KUBERNETES_VERSION = "1.37.2"
CRI_TOOLS_VERSION = "1.37.0"


@dataclass(frozen=True)
class GoTool:
    """A Go command built with ``go install <package>@<version>`` into a release tarball."""

    name: str
    version: str
    package: str
    ldflags: tuple[str, ...] = ()
    cgo: bool = False
    tags: tuple[str, ...] = ()
    mirror_path: str = ""
    binary: str = ""

    def inputs(self, go_version: str) -> dict:
        return {
            "kind": "go",
            "package": f"{self.package}@v{self.version}",
            "ldflags": list(self.ldflags),
            "cgo": self.cgo,
            "tags": list(self.tags),
            "go": go_version,
            "recipe": 1,
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


CRICTL = GoTool(
    name="crictl",
    version=CRI_TOOLS_VERSION,
    package="sigs.k8s.io/cri-tools/cmd/crictl",
    ldflags=(f"-X sigs.k8s.io/cri-tools/pkg/version.Version=v{CRI_TOOLS_VERSION}",),
    mirror_path=f"kubernetes-sigs/cri-tools/releases/download/v{CRI_TOOLS_VERSION}/crictl-v{CRI_TOOLS_VERSION}-linux-{ARCH}.tar.gz",
    binary="crictl",
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

GO_TOOLS: tuple[GoTool, ...] = (CRICTL,)
IMAGES: tuple[OciImage, ...] = (PAUSE_IMAGE, TEST_IMAGE)
