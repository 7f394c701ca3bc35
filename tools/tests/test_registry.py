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
