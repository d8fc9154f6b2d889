"""Smoke test of the lab itself: seed topology, salt, network, offline apt, cut/heal, down."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

SEED = {
    "ll-mysql": "10.231.7.10",
    "ll-config-server": "10.231.7.11",
    "ll-node-1": "10.231.7.12",
    "ll-node-2": "10.231.7.13",
}
STATE_DIR = Path(os.environ.get("LAYLINE_LAB_STATE", "/var/lib/layline-lab"))
CACHE_DIR = Path(os.environ.get("LAYLINE_LAB_CACHE", "/var/cache/layline-lab"))


@pytest.fixture(scope="module")
def seed(lab, tmp_path_factory):
    pillar = tmp_path_factory.mktemp("pillar")
    (pillar / "top.sls").write_text("base: {}\n")
    try:
        lab.up("seed", pillar=pillar, nodes=2)
        yield lab
    finally:
        lab.down()  # always: no machines or bridge survive a failing test


def _pingable(lab, src: str, address: str) -> bool:
    return lab.shell(src, ["ping", "-c", "1", "-W", "2", address]).returncode == 0


def test_topology_in_state(seed):
    state = seed.state()
    assert state["topology"] == "seed"
    assert {m: i["address"] for m, i in state["machines"].items()} == SEED


def test_ping_all_minions(seed):
    assert seed.salt("*", "test.ping") == {m: True for m in SEED}


def test_minion_ids_and_hostnames(seed):
    fqdns = seed.salt("*", "grains.get", "fqdn")
    assert fqdns == {m: f"{m}.orb.local" for m in SEED}
    proc = seed.shell("ll-node-1", "cat /etc/hostname /etc/salt/minion_id", check=True)
    assert proc.stdout.split() == ["ll-node-1.orb.local", "ll-node-1"]


def test_machines_reach_each_other(seed):
    for src in SEED:
        targets = [a for m, a in SEED.items() if m != src] + ["10.231.7.1"]
        script = " && ".join(f"ping -c 1 -W 2 {a} >/dev/null" for a in targets)
        proc = seed.shell(src, script)
        assert proc.returncode == 0, f"{src} cannot reach all of {targets}: {proc.stdout}"


def test_hosts_resolve(seed):
    script = (
        "for n in "
        + " ".join(f"{m}.orb.local {m}" for m in SEED)
        + " salt-master; do getent hosts $n; done"
    )
    proc = seed.shell("ll-node-2", script, check=True)
    resolved = {}
    for line in proc.stdout.splitlines():
        address, *names = line.split()
        for name in names:
            resolved[name] = address
    for machine, address in SEED.items():
        assert resolved[f"{machine}.orb.local"] == address
        assert resolved[machine] == address
    assert resolved["salt-master"] == "10.231.7.1"


def test_offline_apt_mirror(seed):
    proc = seed.shell("ll-mysql", "apt-get update -q && apt-get install -s mariadb-server")
    assert proc.returncode == 0, proc.stdout
    assert "Inst mariadb-server " in proc.stdout
    sources = seed.shell(
        "ll-mysql", "cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -v '^#'"
    ).stdout.split("\n")
    assert [s for s in sources if s.strip()] == ["deb [trusted=yes] file:/srv/lab-mirror ./"]
    assert seed.shell("ll-mysql", "dpkg -s mariadb-server").returncode != 0  # not installed


def test_cut_and_heal(seed):
    target = SEED["ll-node-2"]
    assert _pingable(seed, "ll-node-1", target)
    seed.cut("ll-node-2")
    try:
        assert not _pingable(seed, "ll-node-1", target)
        answer = seed.salt("ll-node-2", "test.ping", timeout=3, check=False)
        assert answer.get("ll-node-2") is not True
    finally:
        seed.heal("ll-node-2")
    seed.wait_for(lambda: _pingable(seed, "ll-node-1", target), 30, what="ping after heal")
    seed.wait_for(
        lambda: (
            seed.salt("ll-node-2", "test.ping", timeout=5, check=False).get("ll-node-2") is True
        ),
        90,
        what="test.ping from ll-node-2 after heal",
    )


def test_stop_and_start(seed):
    seed.stop("ll-node-2")
    assert "stopped" in [
        line.split()[3] for line in seed.status().splitlines() if line.startswith("ll-node-2 ")
    ]
    assert not _pingable(seed, "ll-node-1", SEED["ll-node-2"])
    seed.start("ll-node-2")  # waits for test.ping
    assert seed.salt("ll-node-2", "test.ping") == {"ll-node-2": True}


def test_shell_exit_code_passes_through(seed):
    assert seed.shell("ll-node-1", "exit 7").returncode == 7


def test_down_leaves_nothing(seed):
    seed.down()
    seed.down()  # idempotent
    procs = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            procs.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    assert not [p for p in procs if "systemd-nspawn" in p and str(STATE_DIR) in p]
    assert not [p for p in procs if str(STATE_DIR / "master") in p]
    assert not Path("/sys/class/net/llbr0").exists()
    mounts = Path("/proc/mounts").read_text()
    assert str(STATE_DIR) not in mounts and str(CACHE_DIR) not in mounts
    assert not (STATE_DIR / "machines").exists()
    assert not (STATE_DIR / "state.json").exists()
