"""Pure parts of the VM test bed: archive discovery, QEMU command line, KVM probe verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.testbed import accel, image, mirror, vm

DEB822 = """\
Types: deb
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://archive.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://disabled.example/debian
Enabled: no
Suites: bookworm
"""


@pytest.mark.parametrize(
    ("text", "uris"),
    [
        (DEB822, ["http://archive.example/debian", "http://archive.example/debian-security"]),
        ("deb http://h/debian bookworm main\n# deb http://x/debian sid main\n", ["http://h/debian"]),
        ("deb [arch=amd64 signed-by=/k.gpg] http://h/debian bookworm main", ["http://h/debian"]),
        ("deb-src http://h/debian bookworm main", []),
        ("", []),
    ],
)
def test_apt_source_uris_are_read_from_both_formats(text, uris):
    assert mirror.parse_apt_uris(text) == uris


@pytest.mark.parametrize(
    ("uris", "expected"),
    [
        (["http://a.example/debian", "http://a.example/debian-security"],
         mirror.DebianMirror("http://a.example/debian", "http://a.example/debian-security")),
        (["https://tls.example/debian", "http://a.example/debian/"], mirror.DebianMirror("http://a.example/debian", None)),
        # A security archive on another host cannot be forwarded to the same guest address.
        (["http://a.example/debian", "http://b.example/debian-security"], mirror.DebianMirror("http://a.example/debian", None)),
        (["https://tls.example/debian", "http://x.example/ubuntu"], None),
    ],
)
def test_a_plain_http_debian_archive_is_picked(uris, expected):
    assert mirror.pick_debian_mirror(uris) == expected


@pytest.mark.parametrize("suite", image.SUITES)
def test_guest_sources_name_only_reachable_suites(suite):
    sources = mirror.DebianMirror("http://a.example:8080/debian", "http://a.example:8080/debian-security").guest_sources(suite)
    assert sources.splitlines() == [
        f"deb http://a.example:8080/debian {suite} main",
        f"deb http://a.example:8080/debian {suite}-updates main",
        f"deb http://a.example:8080/debian-security {suite}-security main",
    ]
    # No security archive on the archive's host: the guest could not reach it, so it is not listed.
    assert mirror.DebianMirror("http://a.example:8080/debian").guest_sources(suite).splitlines() == [
        f"deb http://a.example:8080/debian {suite} main",
        f"deb http://a.example:8080/debian {suite}-updates main",
    ]
    assert mirror.DebianMirror("http://a.example:8080/debian").port == 8080


def test_debian_12_and_13_images_are_built_from_their_suite():
    assert set(image.SUITES) == {"trixie", "bookworm"} and image.DEFAULT_SUITE == "trixie"
    m = mirror.DebianMirror("http://a.example/debian", "http://a.example/debian-security")
    argv = image.debvm_argv(Path("/x/rootfs.ext4"), "bookworm", m, Path("/x/packages.txt"))
    assert argv[argv.index("-r") + 1] == "bookworm"
    assert argv[-2:] == ["http://a.example/debian", "deb http://a.example/debian bookworm-updates main"]
    assert any("bookworm-security" in a for a in argv if a.startswith("--customize-hook="))
    # One cache entry per suite.
    assert image.image_key({"suite": "bookworm", "recipe": image.RECIPE_VERSION}).startswith("bookworm-")


def test_up_and_image_take_a_known_suite(monkeypatch):
    from tools.testbed import __main__ as cli

    seen = {}
    monkeypatch.setattr(cli.vm, "up", lambda group, name, **kw: seen.update(kw) or (_ for _ in ()).throw(RuntimeError("stop")))
    assert cli.main(["up", "g", "n", "--suite", "bookworm"]) == 1
    assert seen["suite"] == "bookworm"
    with pytest.raises(SystemExit):
        cli.main(["image", "--suite", "buster"])


def test_the_mirror_can_be_forced_by_environment(monkeypatch):
    monkeypatch.setenv("KUBENODE_DEBIAN_MIRROR", "http://forced.example/debian")
    assert mirror.host_debian_mirror().host == "forced.example"
    monkeypatch.setenv("KUBENODE_DEBIAN_MIRROR", "ftp://nope")
    with pytest.raises(RuntimeError, match="KUBENODE_DEBIAN_MIRROR"):
        mirror.host_debian_mirror()


def _argv(tmp_path, **kw):
    base = image.BaseImage(tmp_path / "img")
    args = dict(image=base, directory=tmp_path / "vm", accel="tcg", ssh_port=40022, httpd_port=41000,
                archive_host="archive.example", archive_port=80, public_key="ssh-ed25519 AAAA test",
                hostname="g-n", memory_mb=2048, cpus=2)
    args.update(kw)
    return vm.qemu_argv(**args)


def test_vm_network_is_restricted_and_bound_to_loopback(tmp_path):
    argv = _argv(tmp_path)
    netdev = argv[argv.index("-netdev") + 1]
    assert netdev.startswith("user,") and "restrict=on" in netdev
    rules = netdev.split(",")
    assert [r for r in rules if r.startswith("hostfwd=")] == ["hostfwd=tcp:127.0.0.1:40022-:22"]
    guestfwd = [r for r in rules if r.startswith("guestfwd=")]
    assert guestfwd == [
        "guestfwd=tcp:10.0.2.100:80-cmd:socat STDIO TCP:archive.example:80",
        "guestfwd=tcp:10.0.2.100:8080-cmd:socat STDIO TCP:127.0.0.1:41000",
    ]


def test_vm_without_artifact_mirror_has_only_the_archive_forward(tmp_path):
    netdev = _argv(tmp_path, httpd_port=None)[_argv(tmp_path, httpd_port=None).index("-netdev") + 1]
    assert netdev.count("guestfwd=") == 1


def test_vm_key_and_name_come_from_smbios_credentials(tmp_path):
    argv = _argv(tmp_path)
    smbios = [argv[i + 1] for i, a in enumerate(argv) if a == "-smbios"]
    assert "type=11,value=io.systemd.credential:ssh.authorized_keys.root=ssh-ed25519 AAAA test" in smbios
    assert "type=11,value=io.systemd.credential:system.hostname=g-n" in smbios
    # Debian 12's systemd 252 has no system.hostname credential: the kernel command line says it too.
    assert "systemd.hostname=g-n" in argv[argv.index("-append") + 1].split()


@pytest.mark.parametrize(("kind", "expected"), [("tcg", ["-accel", "tcg,thread=multi,tb-size=512", "-cpu", "qemu64"]), ("kvm", ["-accel", "kvm", "-cpu", "host"])])
def test_vm_uses_the_chosen_accelerator(tmp_path, kind, expected):
    argv = _argv(tmp_path, accel=kind)
    i = argv.index("-accel")
    assert argv[i:i + 4] == expected


def test_vm_disk_is_the_instance_overlay(tmp_path):
    argv = _argv(tmp_path)
    drive = argv[argv.index("-drive") + 1]
    assert drive.startswith(f"file={tmp_path / 'vm' / 'disk.qcow2'},") and "format=qcow2" in drive


@pytest.mark.parametrize(
    ("serial", "stderr", "exited", "verdict"),
    [
        ("[    0.0] Linux version 6.12\nWelcome to Debian GNU/Linux 13 (trixie)!", "", False, "kvm"),
        ("Probing EDD (edd=off to disable)... ok", "", False, None),
        ("", "KVM internal error. Suberror: 1\nemulation failure", False, "tcg"),
        ("", "qemu-system-x86_64: failed to set MSR 0x10a to 0x69", True, "tcg"),
        ("", "", True, "tcg"),
    ],
)
def test_kvm_probe_verdicts(serial, stderr, exited, verdict):
    assert accel.classify_probe(serial, stderr, exited) == verdict


def test_image_key_changes_with_every_input():
    inputs = {"suite": "trixie", "recipe": 1, "packages": ["a"], "archive": "http://a/debian"}
    key = image.image_key(inputs)
    assert key.startswith("trixie-") and key == image.image_key(dict(inputs))
    for field, value in (("recipe", 2), ("packages", ["a", "b"]), ("archive", "http://b/debian")):
        assert image.image_key({**inputs, field: value}) != key


def test_image_recipe_bakes_no_key_and_only_reachable_sources(tmp_path):
    argv = image.debvm_argv(tmp_path / "rootfs.ext4", "trixie", mirror.DebianMirror("http://a.example/debian"), tmp_path / "p.txt")
    assert "-k" not in argv and "--sshkey" not in " ".join(argv)
    hooks = " ".join(a for a in argv if a.startswith("--customize-hook="))
    assert "10.0.2.100 a.example" in hooks
    assert "--lock root" in hooks
    assert "trixie-security" not in hooks  # no security archive on that host
    # The test bed's low CPU weight for kubelet, outside the files the roles manage.
    assert f"printf '[Service]\\nCPUWeight=10\\n' > \"$1{image.KUBELET_CPU_DROPIN}\"" in hooks
    assert str(image.KUBELET_CPU_DROPIN).startswith("/etc/systemd/system.control/kubelet.service.d/")


@pytest.mark.parametrize("bad", ["", "../x", ".hidden", "a/b"])
def test_instance_names_cannot_escape_the_cache(bad):
    with pytest.raises(ValueError):
        vm.instance_dir(bad, "node")
    with pytest.raises(ValueError):
        vm.instance_dir("group", bad)


def test_instance_dir_is_under_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBENODE_CACHE", str(tmp_path))
    assert vm.instance_dir("g", "n") == Path(tmp_path) / "instances" / "g" / "n"


def test_a_control_plane_serves_its_api_on_loopback_and_reaches_it_as_the_cluster_endpoint(tmp_path):
    netdev = _argv(tmp_path, api_port=46443, api_server=True)[_argv(tmp_path).index("-netdev") + 1]
    rules = netdev.split(",")
    assert "hostfwd=tcp:127.0.0.1:46443-:6443" in rules
    assert f"guestfwd=tcp:{vm.CONTROL_PLANE_ENDPOINT}-cmd:socat STDIO TCP:127.0.0.1:46443" in rules


def test_a_joining_node_only_reaches_the_api_server(tmp_path):
    rules = _argv(tmp_path, api_port=46443)[_argv(tmp_path).index("-netdev") + 1].split(",")
    assert [r for r in rules if r.startswith("hostfwd=")] == ["hostfwd=tcp:127.0.0.1:40022-:22"]
    assert "guestfwd=tcp:10.0.2.100:6443-cmd:socat STDIO TCP:127.0.0.1:46443" in rules


def test_joining_needs_a_running_control_plane(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBENODE_CACHE", str(tmp_path))
    with pytest.raises(RuntimeError, match="g/cp is not a running control-plane instance: start it first"):
        vm.up("g", "w1", api_server_of="cp")


def test_the_test_bed_undoes_a_one_cpu_pin_before_it_starts_a_vm():
    """A process pinned to one CPU (as Mitogen pins what Ansible runs on a small machine) gets
    every CPU back, so the VM it starts does not share one core with all the others."""
    import os

    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        vm.use_every_cpu()
        assert os.sched_getaffinity(0) == set(range(os.cpu_count()))
    finally:
        os.sched_setaffinity(0, before)
