"""The test bed's registries: loopback only, TLS always, auth on the private one, one forward each."""

from __future__ import annotations

from pathlib import Path

from tools.testbed import registry, vm
from tools.testbed.image import BaseImage


def test_the_registry_config_binds_loopback_with_tls_and_auth_only_where_asked():
    pki = Path("/pki")
    public = registry.registry_config(root=Path("/store/public"), port=5555, pki=pki, htpasswd=None, readonly=True)
    private = registry.registry_config(root=Path("/store/private"), port=5556, pki=pki, htpasswd=Path("/auth/htpasswd"), readonly=True)
    assert public["http"] == {"addr": "127.0.0.1:5555", "tls": {"certificate": "/pki/server.crt", "key": "/pki/server.key"}}
    assert "debug" not in public["http"] and "auth" not in public
    assert public["storage"]["maintenance"]["readonly"] == {"enabled": True}
    assert private["auth"] == {"htpasswd": {"realm": "kubenode test bed", "path": "/auth/htpasswd"}}


def test_each_registry_is_forwarded_into_the_guest_from_loopback():
    argv = vm.qemu_argv(image=BaseImage(Path("/img")), directory=Path("/inst"), accel="tcg", ssh_port=2222, httpd_port=8888,
                        archive_host="archive", archive_port=80, public_key="k", hostname="h", memory_mb=512, cpus=1,
                        registry_ports={"public": 40000, "private": 40001})
    netdev = argv[argv.index("-netdev") + 1]
    assert "restrict=on" in netdev
    assert "guestfwd=tcp:10.0.2.100:5000-cmd:socat STDIO TCP:127.0.0.1:40000" in netdev
    assert "guestfwd=tcp:10.0.2.100:5001-cmd:socat STDIO TCP:127.0.0.1:40001" in netdev


def test_every_served_name_is_a_repository_path_and_the_private_image_is_its_own():
    names = [s.name for s in registry.SERVED]
    assert len(names) == len(set(names))
    assert all("/" not in n.split(":")[0][:1] and ":" in n for n in names)
    assert f"pause:{registry.PAUSE_TAG}" in names
    (private,) = [s for s in registry.SERVED if s.private]
    assert private.artifact == ""  # the marker image: no public image shares its digest


# Every image critest 1.36 pulls (cri-tools pkg/validate/consts.go, multi_container_linux.go,
# security_context_linux.go, pkg/framework/test_context.go), by its upstream name.
CRITEST_PULLS = (
    "registry.k8s.io/e2e-test-images/busybox:1.29-2",
    "registry.k8s.io/e2e-test-images/nginx:1.14-2",
    "registry.k8s.io/e2e-test-images/httpd:2.4.39-4",
    "registry.k8s.io/e2e-test-images/nonewprivs:1.3",
    "registry.k8s.io/pause:3.9",
    "k8s.gcr.io/pause:3.9",
    "gcr.io/k8s-staging-cri-tools/hostnet-nginx-amd64:latest",
    "gcr.io/k8s-staging-cri-tools/test-image-user-uid:latest",
    "gcr.io/k8s-staging-cri-tools/test-image-user-username:latest",
    "gcr.io/k8s-staging-cri-tools/test-image-user-uid-group:latest",
    "gcr.io/k8s-staging-cri-tools/test-image-user-username-group:latest",
    "gcr.io/k8s-staging-cri-tools/test-image-predefined-group:latest",
    "gcr.io/k8s-staging-cri-tools/test-image-latest:latest",
    "gcr.io/k8s-staging-cri-tools/test-image-tag:test",
    "gcr.io/k8s-staging-cri-tools/test-image-tag:all",
    *(f"gcr.io/k8s-staging-cri-tools/test-image-{n}:latest" for n in (1, 2, 3)),
    *(f"gcr.io/k8s-staging-cri-tools/test-image-tags:{n}" for n in (1, 2, 3)),
)


def test_every_image_critest_pulls_is_served_under_a_mirrored_registry():
    served = {s.name: s.artifact for s in registry.SERVED if not s.private}
    for reference in CRITEST_PULLS:
        host, path = reference.split("/", 1)
        assert host in registry.MIRRORED and path in served, reference
    # Three different images, and one image under three tags.
    assert len({served[f"k8s-staging-cri-tools/test-image-{n}:latest"] for n in (1, 2, 3)}) == 3
    assert len({served[f"k8s-staging-cri-tools/test-image-tags:{n}"] for n in (1, 2, 3)}) == 1
    # critest removes its pause image by ID: never the node's sandbox image.
    assert served["pause:3.9"] != served[f"pause:{registry.PAUSE_TAG}"]
