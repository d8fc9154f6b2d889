"""Cluster life cycle in the lab: add a node, remove it, upgrade 2.5.4 -> 2.5.5 and roll back.

One seed topology (ll-mysql, ll-config-server, ll-node-1, ll-node-2) for the module; the tests
run in order and each starts from the state the previous one left. The pillar lives in a tmp dir
the lab's master reads (`--pillar`); each step rewrites it and refreshes the minions' pillar.
A watcher polls `/cluster/members` about once a second during every step: the original members
never drop below N-1 Up, and a leaving node is never seen Down.

The seed pillar's monitoring role (Prometheus on ll-mysql) follows: a node added or removed
is added to or removed from its scrape targets by the same apply.

The restarts go through `salt-run state.orch layline.rolling` when the checkout has it (issue
9a); otherwise the test restarts the marked engines itself, one at a time, the way the runner
does (graceful stop, `layline_release.switch` when the marker carries a version, start, wait
until Up on another member and ready).
"""

from __future__ import annotations

import copy
import json
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml
from formula import assert_applied, changed, prometheus_targets

pytestmark = pytest.mark.lab

CHECKOUT = Path(__file__).resolve().parents[2]
SEED_PILLAR = CHECKOUT / "test" / "pillar" / "seed" / "layline.sls"
HAS_RUNNER = (CHECKOUT / "layline" / "rolling.sls").is_file() or (
    CHECKOUT / "layline" / "rolling" / "init.sls"
).is_file()
DOMAIN = "orb.local"
ENGINE_LOG = "/var/lib/layline/.layline/reactive-engine/log/reactive-engine.log"
MARKER = "/var/lib/layline-formula/pending/layline-reactive-engine.json"
CURRENT = "/opt/layline/current"
CACHE = "/var/cache/layline"
CLUSTER_FILE = "/var/lib/layline/.layline/config-server/clusters/Production.json"
UNIT = "layline-reactive-engine"


def _address(machine: str) -> str:
    return f"pekko://layline@{machine}.{DOMAIN}:5843"


def _pillar(nodes: list[str], version: str = "2.5.4") -> dict:
    data = yaml.safe_load(SEED_PILLAR.read_text())
    layline = copy.deepcopy(data["layline"])
    layline["version"] = version
    dist = f"salt://test/simulator/dist/layline-linux-amd64-{version}.sh"
    layline["distribution"] = {"source": dist, "source_hash": dist + ".sha256"}
    layline["cluster"]["nodes"] = [{"minion": n, "hostname": f"{n}.{DOMAIN}"} for n in nodes]
    layline["cluster"]["min_nr_of_members"] = 1
    # The watcher polls the management port (8558) from the lab host, which the guide's
    # firewall refuses by design; test_formula_seed proves the firewall.
    layline["firewall"] = {"enabled": False}
    return {"layline": layline}


class Cluster:
    """The lab plus the pillar dir it was started with."""

    def __init__(self, lab, pillar_dir: Path):
        self.lab = lab
        self.pillar_dir = pillar_dir

    def set_pillar(self, nodes: list[str], version: str = "2.5.4") -> None:
        (self.pillar_dir / "layline.sls").write_text(yaml.safe_dump(_pillar(nodes, version)))
        # nothing else: the CA minion's apply writes the new nodes' signing policies itself
        self._refresh()

    def _refresh(self) -> None:
        refreshed = self.lab.salt("*", "saltutil.refresh_pillar", "wait=True")
        assert all(v is True for v in refreshed.values()), refreshed

    def apply(self, target: str = "*", tgt_type: str | None = None) -> dict:
        return self.lab.salt(target, "state.apply", "layline", tgt_type=tgt_type, timeout=900)

    def members(self, machine: str) -> dict | None:
        url = f"http://{self.lab.address(machine)}:8558/cluster/members"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (lab address)
                return json.loads(answer.read())
        except (OSError, ValueError):
            return None

    def up(self, machine: str, seen_from: list[str]) -> bool:
        for other in seen_from:
            view = self.members(other)
            if view is not None:
                return any(
                    m.get("node") == _address(machine) and m.get("status") == "Up"
                    for m in view.get("members", [])
                )
        return False

    def versions(self) -> dict:
        rows = self.lab.salt("ll-config-server", "layline.status")["ll-config-server"]
        return {row["node"] or row["hostname"]: row["version"] for row in rows}

    def marker(self, machine: str) -> dict | None:
        proc = self.lab.shell(machine, f"cat {MARKER}")
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def roll(self, engines: list[str]) -> None:
        """Restart every marked engine, one at a time (the runner when the checkout has it)."""
        if HAS_RUNNER:
            proc = self.lab.cmd("run", "state.orch", "layline.rolling", check=False, timeout=1800)
            assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
            assert not [m for m in engines if self.marker(m)], "markers left after the run"
            return
        for machine in reversed(engines):  # newest first, the first seed node last
            if self.marker(machine) is not None:
                self.roll_one(machine, [m for m in engines if m != machine])

    def roll_one(self, machine: str, others: list[str]) -> None:
        """One node through the restart a rolling run gives it: graceful stop, wait until the
        others no longer list it, switch to the marker's version, start, Up and ready."""
        marker = self.marker(machine)
        self.lab.shell(machine, f"systemctl stop {UNIT}", check=True, timeout=120)

        def gone():
            view = self.members(others[0])
            return view is not None and not any(
                m.get("node") == _address(machine) for m in view.get("members", [])
            )

        self.lab.wait_for(gone, timeout=60, what=f"{machine} to leave")
        if marker.get("version"):
            switched = self.lab.salt(
                machine, "layline_release.switch", f"version={marker['version']}"
            )
            assert switched[machine]["active"] == marker["version"], switched
        self.lab.shell(machine, f"systemctl start {UNIT}", check=True)
        self.lab.wait_for(
            lambda: self.up(machine, others) and self.members(machine) is not None,
            timeout=120,
            what=f"{machine} Up again",
        )
        self.lab.shell(machine, f"rm -f {MARKER}", check=True)


class Watcher:
    """Polls /cluster/members about once a second: Up count of the watched members, and every
    status any member was seen in."""

    def __init__(self, cluster: Cluster, watched: list[str]):
        self.cluster, self.watched = cluster, watched
        self.min_up = len(watched)
        self.seen: dict[str, set[str]] = {}
        self.polls = 0
        self.misses = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for machine in self.watched:
                view = self.cluster.members(machine)
                if view is not None:
                    break
            else:
                # nobody answers: one slow poll under load is not an outage, two in a row are
                self.misses += 1
                if self.misses >= 2:
                    self.min_up = 0
                continue
            self.misses = 0
            self.polls += 1
            statuses = {m.get("node"): m.get("status") for m in view.get("members", [])}
            for node, status in statuses.items():
                self.seen.setdefault(node, set()).add(status)
            up = sum(statuses.get(_address(m)) == "Up" for m in self.watched)
            self.min_up = min(self.min_up, up)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


@pytest.fixture(scope="module")
def cluster(lab, tmp_path_factory):
    pillar_dir = tmp_path_factory.mktemp("membership-pillar")
    # the seed's top, the nodes from here (the CA minion makes their signing policies)
    (pillar_dir / "top.sls").write_text((SEED_PILLAR.parent / "top.sls").read_text())
    (pillar_dir / "layline.sls").write_text(yaml.safe_dump(_pillar(["ll-node-1", "ll-node-2"])))
    try:
        lab.up("seed", pillar=pillar_dir, nodes=2)
        lab.salt("*", "saltutil.sync_all")
        result = Cluster(lab, pillar_dir)
        assert_applied(result.apply(), ["ll-mysql", "ll-config-server", "ll-node-1", "ll-node-2"])
        lab.wait_for(
            lambda: result.up("ll-node-1", ["ll-node-2"]) and result.up("ll-node-2", ["ll-node-1"]),
            timeout=120,
            what="two engines Up",
        )
        # the engines started from this very configuration: nothing to restart
        for machine in ("ll-node-1", "ll-node-2"):
            lab.shell(machine, f"rm -f {MARKER}", check=True)
        yield result
    finally:
        lab.down()


def _sql_hosts(lab) -> list[str]:
    proc = lab.shell(
        "ll-mysql",
        ["mysql", "-N", "-B", "-e", "SELECT host FROM mysql.user WHERE user='layline'"],
        check=True,
    )
    return sorted(proc.stdout.split())


def _cluster_urls(lab) -> list[str]:
    proc = lab.shell("ll-config-server", f"cat {CLUSTER_FILE}", check=True)
    return [node["data"] for node in json.loads(proc.stdout)["bootstrapNodes"]]


def test_add_node(cluster):
    lab = cluster.lab
    lab.add("ll-node-3")
    assert lab.salt("ll-node-3", "saltutil.sync_all")
    cluster.set_pillar(["ll-node-1", "ll-node-2", "ll-node-3"])
    with Watcher(cluster, ["ll-node-1", "ll-node-2"]) as watcher:
        assert_applied(
            cluster.apply(), ["ll-mysql", "ll-config-server", "ll-node-1", "ll-node-2", "ll-node-3"]
        )
        lab.wait_for(
            lambda: cluster.up("ll-node-3", ["ll-node-1"]), timeout=120, what="ll-node-3 Up"
        )
        # the existing engines got the new seed list and wait for their restart
        for machine in ("ll-node-1", "ll-node-2"):
            assert cluster.marker(machine), f"{machine} has no restart marker"
        cluster.roll(["ll-node-1", "ll-node-2", "ll-node-3"])
    assert watcher.polls > 10 and watcher.min_up >= 1, (watcher.min_up, watcher.seen)
    # accounts are keyed by canonical address (skip-name-resolve)
    assert lab.address("ll-node-3") in _sql_hosts(lab)
    # its account existed before its engine started: not one refused login in its log
    log = lab.shell("ll-node-3", f"cat {ENGINE_LOG}", check=True).stdout
    assert "Access denied" not in log and "cluster address" in log
    assert "http://ll-node-3.orb.local:5842" in _cluster_urls(lab)
    conf = lab.shell(
        "ll-node-1", "cat /etc/layline/reactive-engine/application.conf", check=True
    ).stdout
    assert "ll-node-3.orb.local" in conf
    assert all(
        cluster.up(m, ["ll-node-1", "ll-node-2"]) for m in ("ll-node-1", "ll-node-2", "ll-node-3")
    )
    # the monitoring role (on ll-mysql, from the seed pillar) scrapes the new engine too
    targets = lab.wait_for(
        lambda: (t := _engine_targets(lab)).get("ll-node-3") == "up" and t,
        timeout=90,
        interval=2,
        what="ll-node-3 an up target of Prometheus",
    )
    assert sorted(targets) == ["ll-node-1", "ll-node-2", "ll-node-3"]


def _engine_targets(lab) -> dict[str, str]:
    return prometheus_targets(lab, "ll-mysql", "layline-engine")


def test_remove_node(cluster):
    lab = cluster.lab
    cluster.set_pillar(["ll-node-1", "ll-node-2"])
    # before ll-node-3 leaves, the status table shows it, flagged as unknown to the pillar
    rows = lab.salt("ll-config-server", "layline.status")["ll-config-server"]
    unknown = [row for row in rows if not row["in_pillar"]]
    assert [row["hostname"] for row in unknown] == ["ll-node-3.orb.local"], rows
    assert unknown[0]["state"] == "Up" and unknown[0]["node"] is None
    with Watcher(cluster, ["ll-node-1", "ll-node-2", "ll-node-3"]) as watcher:
        assert_applied(
            cluster.apply(), ["ll-mysql", "ll-config-server", "ll-node-1", "ll-node-2", "ll-node-3"]
        )
        lab.wait_for(
            lambda: (
                not any(
                    m.get("node") == _address("ll-node-3")
                    for m in (
                        cluster.members("ll-node-1")
                        or {"members": [{"node": _address("ll-node-3")}]}
                    )["members"]
                )
            ),
            timeout=90,
            what="ll-node-3 to leave",
        )
    assert watcher.min_up >= 2, (watcher.min_up, watcher.seen)
    assert "Down" not in watcher.seen.get(_address("ll-node-3"), set()), watcher.seen
    lab.wait_for(
        lambda: sorted(_engine_targets(lab)) == ["ll-node-1", "ll-node-2"],
        timeout=60,
        interval=2,
        what="ll-node-3 gone from Prometheus' targets",
    )
    with Watcher(cluster, ["ll-node-1", "ll-node-2"]) as watcher:
        cluster.roll(["ll-node-1", "ll-node-2"])  # the shorter seed list
    assert watcher.min_up >= 1, (watcher.min_up, watcher.seen)
    # it left gracefully: SIGTERM, coordinated shutdown, exit 143; stopped and disabled
    log = lab.shell("ll-node-3", f"cat {ENGINE_LOG}", check=True).stdout
    assert "received SIGTERM: leaving the cluster" in log
    assert "Exiting completed; member removed from the cluster" in log
    show = lab.shell("ll-node-3", f"systemctl show -p ExecMainStatus -p ActiveState {UNIT}").stdout
    assert "ExecMainStatus=143" in show and "ActiveState=inactive" in show, show
    assert lab.shell("ll-node-3", f"systemctl is-enabled {UNIT}").stdout.strip() == "disabled"
    assert lab.shell("ll-node-3", f"test -e {MARKER}").returncode != 0
    assert _sql_hosts(lab) == sorted(
        lab.address(m) for m in ("ll-config-server", "ll-node-1", "ll-node-2")
    )
    assert "http://ll-node-3.orb.local:5842" not in _cluster_urls(lab)
    rows = lab.salt("ll-config-server", "layline.status")["ll-config-server"]
    assert [(row["node"], row["state"], row["in_pillar"]) for row in rows] == [
        ("ll-node-1", "Up", True),
        ("ll-node-2", "Up", True),
    ]
    # a second run changes nothing on the removed machine and keeps it stopped
    again = cluster.apply("ll-node-3")
    assert_applied(again, ["ll-node-3"])
    assert lab.shell("ll-node-3", f"systemctl is-active {UNIT}").stdout.strip() == "inactive"
    lab.remove("ll-node-3")
    assert "ll-node-3" not in lab.machines
    hosts = lab.shell("ll-node-1", "cat /etc/hosts", check=True).stdout
    assert "ll-node-3" not in hosts


def test_upgrade_and_rollback(cluster):
    lab = cluster.lab
    engines = ["ll-node-1", "ll-node-2"]
    assert cluster.versions() == {"ll-node-1": "2.5.4", "ll-node-2": "2.5.4"}
    cluster.set_pillar(engines, "2.5.5")
    with Watcher(cluster, engines) as watcher:
        assert_applied(cluster.apply(), ["ll-mysql", "ll-config-server", *engines])
        # installed beside the running release, nothing switched, both marked with the version
        for machine in engines:
            assert lab.shell(machine, f"readlink {CURRENT}").stdout.strip() == "releases/2.5.4"
            assert lab.shell(machine, "cat /opt/layline/releases/2.5.5/VERSION").stdout == "2.5.5\n"
            marker = cluster.marker(machine)
            assert marker["version"] == "2.5.5"
            assert "version 2.5.4 -> 2.5.5" in marker["reasons"]
        assert cluster.versions() == {"ll-node-1": "2.5.4", "ll-node-2": "2.5.4"}
        # the config server is no cluster member: it switched and restarted at once
        assert (
            lab.shell("ll-config-server", f"readlink {CURRENT}").stdout.strip() == "releases/2.5.5"
        )

        # half a rollout: ll-node-2 moves, ll-node-1 still waits
        cluster.roll_one("ll-node-2", ["ll-node-1"])
        assert cluster.versions() == {"ll-node-1": "2.5.4", "ll-node-2": "2.5.5"}
        # a third version is refused before anything changes, naming the nodes per version
        cluster.set_pillar(engines, "2.5.6")
        refused = cluster.apply("ll-node-1")["ll-node-1"]
        failed = [st["comment"] for st in refused.values() if st.get("result") is False]
        assert any(
            "2.5.6 would be a third version" in c
            and "2.5.4 on ll-node-1" in c
            and "2.5.5 on ll-node-2" in c
            for c in failed
        ), failed
        assert lab.shell("ll-node-1", "test -e /opt/layline/releases/2.5.6").returncode != 0
        cluster.set_pillar(engines, "2.5.5")
        assert_applied(cluster.apply(), ["ll-mysql", "ll-config-server", *engines])
        cluster.roll(engines)
        assert cluster.versions() == {"ll-node-1": "2.5.5", "ll-node-2": "2.5.5"}

        # rollback: the same two commands; 2.5.4 is still installed, nothing is downloaded
        for machine in engines:
            lab.shell(machine, f"rm -f {CACHE}/layline-linux-amd64-2.5.4.sh", check=True)
        cluster.set_pillar(engines, "2.5.4")
        assert_applied(cluster.apply(), ["ll-mysql", "ll-config-server", *engines])
        for machine in engines:
            assert (
                lab.shell(machine, f"test -e {CACHE}/layline-linux-amd64-2.5.4.sh").returncode != 0
            ), f"{machine} downloaded 2.5.4 again"
            assert cluster.marker(machine)["version"] == "2.5.4"
        cluster.roll(engines)
        assert cluster.versions() == {"ll-node-1": "2.5.4", "ll-node-2": "2.5.4"}
        for machine in engines:
            assert lab.shell(machine, "ls /opt/layline/releases").stdout.split() == [
                "2.5.4",
                "2.5.5",
            ]
    assert watcher.min_up >= 1, (watcher.min_up, watcher.seen)
    # converged: another run changes nothing and marks nothing
    again = cluster.apply()
    assert_applied(again, ["ll-mysql", "ll-config-server", *engines])
    assert changed(again) == {}, changed(again)
