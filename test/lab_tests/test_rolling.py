"""`salt-run state.orch layline.rolling` on three engines (scenario test/pillar/seed3).

One topology for the module: a configuration change writes the restart markers without a
restart; the dry run prints the plan; a too large max_unavailable and a cut-off node are
refused; the rolling restart restarts each engine exactly once while a watcher sees at least
two members Up at every 0.5 s poll; a node that cannot come back stops the run (later nodes
untouched) and a re-run after the fix finishes the rest. Then (issue 17) an engine Up but
never ready, a failed release switch and an upgrade that cannot start (rolled back on that
node) each stop the run naming the node; going back to the running release before the nodes
moved restarts each at most once; last, a fourth node added with the two commands back to
back (the only test that changes N).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from formula import apply, assert_applied

pytestmark = pytest.mark.lab

CHECKOUT = Path(__file__).resolve().parents[2]
LAB = CHECKOUT / "test" / "lab" / "lab"
PILLAR = CHECKOUT / "test" / "pillar" / "seed3"
ENGINES = ["ll-node-1", "ll-node-2", "ll-node-3"]
ALL = ["ll-mysql", "ll-config-server", *ENGINES]
MARKER = "/var/lib/layline-formula/pending/layline-reactive-engine.json"
ENGINE_LOG = "/var/lib/layline/.layline/reactive-engine/log/reactive-engine.log"
ENGINE_BIN = "/opt/layline/current/bin/reactive-engine"
POLL = 0.5  # the watcher's poll interval (s): the rolling runner's gate polls as often


@pytest.fixture(scope="module")
def cluster(lab, tmp_path_factory):
    pillar = tmp_path_factory.mktemp("seed3-pillar")
    shutil.copytree(PILLAR, pillar, dirs_exist_ok=True)
    try:
        lab.up("seed", pillar=pillar, nodes=3)
        _sync_all(lab, ALL)
        lab.run("saltutil.sync_all")
        assert_applied(apply(lab, "*"), ALL)
        lab.wait_for(lambda: _up_count(lab) == 3, timeout=120, what="three engines Up")
        lab.pillar_dir = pillar
        yield lab
    finally:
        lab.down()


def _sync_all(lab, minions: list[str]) -> None:
    """saltutil.sync_all until every minion answered (on a loaded host one may miss salt's
    timeout, and its apply then fails as not synced)."""
    missing = list(minions)
    for _attempt in range(3):
        answer = lab.salt(",".join(missing), "saltutil.sync_all", tgt_type="list", timeout=300)
        missing = [m for m in missing if not isinstance(answer.get(m), dict)]
        if not missing:
            return
    raise AssertionError(f"saltutil.sync_all: no answer from {missing}")


def _set_pillar(lab, change) -> None:
    path = lab.pillar_dir / "layline.sls"
    data = yaml.safe_load(path.read_text())
    change(data["layline"])
    path.write_text(yaml.safe_dump(data))
    lab.salt("*", "saltutil.refresh_pillar")


def _orch(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """salt-run state.orch layline.rolling ARGS; stdout (with the live progress) and exit code."""
    return subprocess.run(
        [str(LAB), "run", "state.orch", "layline.rolling", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def _pids(lab) -> dict[str, str]:
    answer = lab.salt(
        "ll-node-*", "cmd.run", "systemctl show -p MainPID --value layline-reactive-engine"
    )
    return {minion: answer[minion] for minion in ENGINES}


def _stops(lab) -> dict[str, int]:
    """How often each engine logged a graceful stop (SIGTERM) so far."""
    answer = lab.salt("ll-node-*", "cmd.run", f"grep -c 'received SIGTERM' {ENGINE_LOG} || true")
    return {minion: int(answer[minion]) for minion in ENGINES}


def _markers(lab) -> dict[str, dict]:
    answer = lab.salt("ll-node-*", "layline.pending")
    return {m: answer[m].get("layline-reactive-engine") for m in ENGINES if answer[m]}


def _members(lab) -> dict | None:
    for minion in ENGINES:
        url = f"http://{lab.address(minion)}:8558/cluster/members"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - lab address
                return json.loads(answer.read())
        except OSError:
            continue
    return None


def _up_count(lab) -> int:
    view = _members(lab) or {"members": []}
    return sum(1 for m in view["members"] if m["status"] == "Up")


def _healthy(lab) -> bool:
    view = _members(lab)
    return bool(view) and _up_count(lab) == 3 and not view["unreachable"]


def _member_view(lab, engines=None) -> tuple[str | None, int]:
    """(engine, members Up) from the first engine that is itself Up in its own view.

    An engine that has just started answers before it has joined, with an empty view: that
    says nothing about the cluster, so only a member's view counts. No member answering at all
    counts as 0 Up.
    """
    for minion in engines or ENGINES:
        url = f"http://{lab.address(minion)}:8558/cluster/members"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - lab address
                view = json.loads(answer.read())
        except OSError:
            continue
        up = {m["node"] for m in view["members"] if m["status"] == "Up"}
        if view.get("selfNode") in up:
            return minion, len(up)
    return None, 0


class Watcher(threading.Thread):
    """Polls the members' views every 0.5 s; remembers the fewest members seen Up."""

    def __init__(self, lab, engines=None):
        super().__init__(daemon=True)
        self.lab = lab
        self.engines = engines
        self.fewest = None
        self.seen = []  # (seconds since start, engine whose view it was, members Up)
        self.polls = 0
        self.stopping = threading.Event()

    def run(self):
        started = time.monotonic()
        while not self.stopping.is_set():
            began = time.monotonic()
            engine, count = _member_view(self.lab, self.engines)
            self.seen.append((round(began - started, 1), engine, count))
            self.fewest = count if self.fewest is None else min(self.fewest, count)
            self.polls += 1
            self.stopping.wait(max(0.0, POLL - (time.monotonic() - began)))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.join(10)


def _journal(lab) -> dict[str, tuple[int, int, int]]:
    """{persistence_id: (rows, lowest, highest sequence_number)} of event_journal."""
    proc = lab.shell(
        "ll-mysql",
        [
            "mysql",
            "-N",
            "-B",
            "layline",
            "-e",
            "SELECT persistence_id, COUNT(*), MIN(sequence_number), "
            "MAX(sequence_number) FROM event_journal "
            "GROUP BY persistence_id",
        ],
        check=True,
    )
    rows = [line.split("\t") for line in proc.stdout.splitlines() if line]
    return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows}


def _plan_waves(lab, *args: str) -> list[str]:
    proc = _orch("test=True", *args)
    return [
        line.split("wave ", 1)[1].split(":", 2)[1].split(" [")[0].strip()
        for line in proc.stdout.splitlines()
        if "  wave " in line
    ]


def _change_config(lab, value: str) -> None:
    _set_pillar(
        lab,
        lambda p: p.setdefault("extra_config", {}).update(
            {"reactive_engine": {"layline.formula-test.generation": value}}
        ),
    )
    assert_applied(apply(lab, "ll-node-*"), ENGINES)


def test_config_change_writes_markers_and_restarts_nothing(cluster):
    assert _markers(cluster) == {}  # the first deployment started the engines: nothing pending
    before = _pids(cluster)
    _change_config(cluster, "one")
    assert _pids(cluster) == before
    markers = _markers(cluster)
    assert sorted(markers) == ENGINES, markers
    assert all("configuration changed" in " ".join(m["reasons"]) for m in markers.values())
    owner = cluster.shell("ll-node-1", f"stat -c '%U %a' {MARKER}", check=True).stdout.split()
    assert owner == ["root", "644"]


def test_dry_run_prints_the_plan_and_restarts_nothing(cluster):
    before = _pids(cluster)
    proc = _orch("test=True")
    assert proc.returncode == 0, proc.stdout
    assert "rolling restart: 3 engine(s) in 3 wave(s)" in proc.stdout, proc.stdout
    for engine in ENGINES:
        assert f": {engine}" in proc.stdout
    assert "oldest member" in proc.stdout
    assert _pids(cluster) == before
    assert sorted(_markers(cluster)) == ENGINES


def test_max_unavailable_above_the_bound_is_refused(cluster):
    before = _pids(cluster)
    proc = _orch('pillar={"layline": {"rolling": {"max_unavailable": 2}}}')
    assert proc.returncode != 0, proc.stdout
    assert "largest safe value 1" in proc.stdout, proc.stdout
    assert _pids(cluster) == before


def test_rolling_restart_restarts_each_engine_once_keeping_two_up(cluster):
    before, journal_before, stops = _pids(cluster), _journal(cluster), _stops(cluster)
    with Watcher(cluster) as watcher:
        proc = _orch()
    assert proc.returncode == 0, proc.stdout
    after = _pids(cluster)
    assert all(after[m] != before[m] for m in ENGINES), (before, after)
    assert _stops(cluster) == {m: stops[m] + 1 for m in ENGINES}
    assert proc.stdout.count(" left the cluster") == 3, proc.stdout
    assert proc.stdout.count(" Up and ready") == 3, proc.stdout
    assert watcher.polls >= 5 and watcher.fewest >= 2, (watcher.seen, proc.stdout[-3000:])
    assert _markers(cluster) == {}
    journal = _journal(cluster)
    engines = [pid for pid in journal_before if pid.startswith("reactive-engine|")]
    assert len(engines) == 3, journal_before
    for pid in engines:  # each engine appended its membership changes; nothing lost
        assert journal[pid][0] > journal_before[pid][0], (pid, journal[pid], journal_before)
    assert all(lowest == 1 and highest == rows for rows, lowest, highest in journal.values())
    # nothing pending any more: a second run restarts nothing and says so
    again = _orch()
    assert again.returncode == 0 and "nothing to restart" in again.stdout, again.stdout
    assert _pids(cluster) == after


def test_a_cut_off_node_is_refused(cluster):
    before = _pids(cluster)
    cluster.cut("ll-node-2")
    try:
        cluster.wait_for(
            lambda: (_members(cluster) or {}).get("unreachable"),
            timeout=30,
            what="ll-node-2 unreachable",
        )
        proc = _orch('pillar={"layline": {"rolling": {"all": true}}}')
    finally:
        cluster.heal("ll-node-2")
    assert proc.returncode != 0, proc.stdout
    assert "REFUSED" in proc.stdout and "ll-node-2" in proc.stdout, proc.stdout
    cluster.wait_for(lambda: _healthy(cluster), timeout=120, what="healthy after heal")
    cluster.wait_for(
        lambda: cluster.salt("ll-node-2", "test.ping").get("ll-node-2") is True,
        timeout=120,
        what="the ll-node-2 minion back",
    )
    assert _pids(cluster) == before


def test_a_node_that_cannot_come_back_stops_the_run_and_a_rerun_finishes(cluster):
    _change_config(cluster, "two")
    waves = _plan_waves(cluster)
    assert sorted(waves) == ENGINES, waves
    first, broken, last = waves
    before = _pids(cluster)
    cluster.shell(broken, f"chmod -x {ENGINE_BIN}", check=True)
    try:
        with Watcher(cluster) as watcher:
            proc = _orch('pillar={"layline": {"rolling": {"timeout": 20}}}')
    finally:
        cluster.shell(broken, f"chmod +x {ENGINE_BIN}", check=True)
    assert proc.returncode != 0, proc.stdout
    assert f"FAILED at {broken}" in proc.stdout, proc.stdout
    assert f"last lines of {broken}'s engine log" in proc.stdout
    assert watcher.fewest >= 2, watcher.seen
    after = _pids(cluster)
    assert after[first] != before[first] and after[last] == before[last]
    assert sorted(_markers(cluster)) == sorted([broken, last])

    # fixed: systemd restarts the unit (Restart=on-failure); once it is back, re-run
    cluster.wait_for(lambda: _healthy(cluster), timeout=120, what=f"{broken} back")
    proc = _orch()
    assert proc.returncode == 0, proc.stdout
    assert _markers(cluster) == {}
    final = _pids(cluster)
    assert final[last] != before[last] and final[first] == after[first]
    cluster.wait_for(lambda: _healthy(cluster), timeout=60, what="three engines Up")


# ------------------------------------------------------------------ partition (issue 11)
# The pillar's stable_after is 30 s: cut for stable_after + 10 s, the split-brain resolver
# really downs the cut-off engine on both sides (keep-majority: 2 against 1).
STABLE_AFTER = 30
ENGINE_UNIT = "layline-reactive-engine"
GATE_MARKER = "/var/lib/layline/.layline/reactive-engine/ended-in-failure"


def _unit(lab, machine) -> dict[str, str]:
    """systemd's view of the engine unit, read inside the machine (works while it is cut)."""
    out = lab.shell(
        machine,
        ["systemctl", "show", "-p", "NRestarts", "-p", "MainPID", "-p", "ActiveState", ENGINE_UNIT],
        check=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _view(lab, machine) -> dict | None:
    """``/cluster/members`` as ``machine``'s own engine sees it (None: no answer)."""
    url = f"http://{lab.address(machine)}:8558/cluster/members"
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - lab address
            return json.loads(answer.read())
    except OSError:
        return None


def _is(lab, machine, node: str) -> bool:
    """Whether a Pekko address names ``machine`` (by hostname or canonical address)."""
    host = node.split("@", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return host.split(".", 1)[0] == machine or host == lab.address(machine)


def _lists(lab, seen_from, machine) -> bool:
    view = _view(lab, seen_from) or {"members": []}
    return any(_is(lab, machine, m["node"]) for m in view["members"])


def _one_cluster_of_three(lab) -> bool:
    """Every engine sees the same three members Up, no one unreachable, one leader."""
    views = [_view(lab, machine) for machine in ENGINES]
    if not all(views):
        return False
    return (
        all(
            sorted(m["status"] for m in v["members"]) == ["Up"] * 3 and not v["unreachable"]
            for v in views
        )
        and len({v.get("leader") for v in views}) == 1
    )


def _engine_log(lab, machine) -> str:
    return lab.shell(machine, ["cat", ENGINE_LOG], check=True).stdout


def _partition(lab, machine, while_cut) -> None:
    """Cut ``machine`` for stable_after + 10 s (at least), run ``while_cut``, heal."""
    lab.cut(machine)
    cut_at = time.monotonic()
    try:
        while_cut()
        time.sleep(max(0.0, cut_at + STABLE_AFTER + 10 - time.monotonic()))
    finally:
        lab.heal(machine)
    # the helpers ask the minions (salt): wait until this one is back with its master
    lab.wait_for(
        lambda: lab.salt(machine, "test.ping").get(machine) is True,
        timeout=120,
        what=f"the {machine} minion back",
    )


def test_a_cut_off_engine_is_downed_restarted_by_its_unit_and_rejoins(cluster):
    assert (
        cluster.pillar_dir.joinpath("layline.sls")
        .read_text()
        .count(f"stable_after: {STABLE_AFTER}s")
        == 1
    )
    cluster.wait_for(lambda: _one_cluster_of_three(cluster), timeout=120, what="one cluster")
    journal_before, pids, stops = _journal(cluster), _pids(cluster), _stops(cluster)
    restarts = int(_unit(cluster, "ll-node-3")["NRestarts"])
    log_before = _engine_log(cluster, "ll-node-3")

    def downed_and_restarted():
        # the majority downs and removes it; on its own side the resolver downs it too
        cluster.wait_for(
            lambda: not _lists(cluster, "ll-node-1", "ll-node-3"),
            timeout=STABLE_AFTER + 60,
            what="ll-node-3 removed by the others",
        )
        cluster.wait_for(
            lambda: int(_unit(cluster, "ll-node-3")["NRestarts"]) > restarts,
            timeout=60,
            what="ll-node-3's unit restarted its engine",
        )

    _partition(cluster, "ll-node-3", downed_and_restarted)
    cluster.wait_for(
        lambda: _one_cluster_of_three(cluster),
        timeout=120,
        what="three engines Up again after the heal",
    )
    new_log = _engine_log(cluster, "ll-node-3")[len(log_before) :]
    assert "has been downed" in new_log and "exiting the JVM with code 255" in new_log
    unit = _unit(cluster, "ll-node-3")
    assert int(unit["NRestarts"]) == restarts + 1, unit  # one restart, by systemd alone
    after = _pids(cluster)
    assert after["ll-node-3"] != pids["ll-node-3"] and after["ll-node-3"] == unit["MainPID"]
    assert {m: after[m] for m in ENGINES[:2]} == {m: pids[m] for m in ENGINES[:2]}
    assert _stops(cluster) == stops  # nobody stopped anything
    journal = _journal(cluster)
    for pid, (rows, _low, _high) in journal_before.items():
        assert journal[pid][0] >= rows, (pid, journal[pid], rows)
    assert all(lowest == 1 and highest == rows for rows, lowest, highest in journal.values())
    node3 = [pid for pid in journal if pid.startswith("reactive-engine|ll-node-3")]
    assert len(node3) == 1 and journal[node3[0]][0] > journal_before[node3[0]][0]
    # layline.diagnose agrees: every engine a member of the one cluster again
    reports = cluster.salt("ll-node-*", "layline.diagnose")
    for machine in ENGINES:
        rows = [c for c in reports[machine]["checks"] if c["check"] == "member of the cluster"]
        assert [r["result"] for r in rows] == ["ok"], rows


def test_a_cut_off_first_seed_node_rejoins_instead_of_forming_an_island(cluster):
    cluster.wait_for(lambda: _one_cluster_of_three(cluster), timeout=120, what="one cluster")
    pids, stops = _pids(cluster), _stops(cluster)
    restarts = int(_unit(cluster, "ll-node-1")["NRestarts"])
    journal_before = _journal(cluster)

    def held_back_while_cut():
        cluster.wait_for(
            lambda: not _lists(cluster, "ll-node-2", "ll-node-1"),
            timeout=STABLE_AFTER + 60,
            what="ll-node-1 removed by the others",
        )
        # downed on its side too; its restarts now stop at the gate (no other seed answers)
        cluster.wait_for(
            lambda: int(_unit(cluster, "ll-node-1")["NRestarts"]) >= restarts + 2,
            timeout=60,
            what="ll-node-1 held back by the seed gate",
        )
        gate = cluster.shell(
            "ll-node-1", ["journalctl", "-u", ENGINE_UNIT, "--no-pager", "-n", "50"], check=True
        ).stdout
        assert "no other seed node answers" in gate, gate
        assert cluster.shell("ll-node-1", ["test", "-e", GATE_MARKER]).returncode == 0
        assert _view(cluster, "ll-node-1") is None  # no engine, so no island of its own

    _partition(cluster, "ll-node-1", held_back_while_cut)
    cluster.wait_for(
        lambda: _one_cluster_of_three(cluster),
        timeout=120,
        what="ll-node-1 back in the one cluster",
    )
    assert cluster.shell("ll-node-1", ["test", "-e", GATE_MARKER]).returncode != 0
    after = _pids(cluster)
    assert {m: after[m] for m in ENGINES[1:]} == {m: pids[m] for m in ENGINES[1:]}
    assert _stops(cluster) == stops
    journal = _journal(cluster)
    assert all(journal[pid][0] >= rows for pid, (rows, _l, _h) in journal_before.items())
    assert all(lowest == 1 and highest == rows for rows, lowest, highest in journal.values())


# ------------------------------------------------------------ a step that fails (issue 17)
# Each run below stops at the first node of its plan: that node is named, the later ones keep
# their engine (same PID), their release and their restart marker.
RELEASES = "/opt/layline/releases"
CURRENT = "/opt/layline/current"
# simulator fault injection (test/simulator/README.md): /ready 500 while the member is Up
NEVER_READY = "/etc/layline/reactive-engine/simulator-never-ready"
SHORT = 'pillar={"layline": {"rolling": {"timeout": 30}}}'


def _versions(lab) -> dict[str, str]:
    """{engine: the version it reports on /engine/status} (layline.status)."""
    rows = lab.salt("ll-config-server", "layline.status")["ll-config-server"]
    return {row["node"] or row["hostname"]: row["version"] for row in rows}


def _current(lab, machine) -> str:
    return lab.shell(machine, f"readlink {CURRENT}", check=True).stdout.strip()


def _all_ready(lab, engines=None) -> bool:
    engines = engines or ENGINES
    answer = lab.salt(",".join(engines), "layline.ready", tgt_type="list", check=False)
    return all(answer.get(m) is True for m in engines)


def _version(version: str):
    def change(layline):
        layline["version"] = version
        dist = f"salt://test/simulator/dist/layline-linux-amd64-{version}.sh"
        layline["distribution"] = {"source": dist, "source_hash": dist + ".sha256"}

    return change


def test_an_engine_up_but_never_ready_stops_the_run_naming_it(cluster):
    cluster.wait_for(
        lambda: _healthy(cluster) and _all_ready(cluster), timeout=120, what="three ready"
    )
    broken = "ll-node-2"
    cluster.shell(broken, f"touch {NEVER_READY}", check=True)
    try:
        cluster.wait_for(
            lambda: cluster.salt(broken, "layline.ready").get(broken) is False,
            timeout=30,
            what=f"{broken} not ready",
        )
        order = _plan_waves(cluster, 'pillar={"layline": {"rolling": {"all": true}}}')
        assert sorted(order) == ENGINES, order
        done, later = order[: order.index(broken)], order[order.index(broken) + 1 :]
        before = _pids(cluster)
        with Watcher(cluster) as watcher:
            proc = _orch('pillar={"layline": {"rolling": {"all": true, "timeout": 15}}}')
        assert proc.returncode != 0, proc.stdout
        assert f"FAILED at {broken}" in proc.stdout, proc.stdout
        assert "its /ready is not 200" in proc.stdout, proc.stdout
        after = _pids(cluster)
        # restarted (and came back Up) like the nodes before it; the later ones untouched
        assert all(after[m] != before[m] for m in [*done, broken]), (order, before, after)
        assert {m: after[m] for m in later} == {m: before[m] for m in later}, order
        assert _up_count(cluster) == 3  # Up all the same: only its health check fails
        assert watcher.fewest >= 2, watcher.seen
    finally:
        cluster.shell(broken, f"rm -f {NEVER_READY}", check=True)
    cluster.wait_for(
        lambda: _healthy(cluster) and _all_ready(cluster), timeout=60, what="all ready"
    )


def test_a_release_switch_that_fails_stops_the_run(cluster):
    _set_pillar(cluster, _version("2.5.5"))
    assert_applied(apply(cluster, "*"), ALL)
    markers = _markers(cluster)
    assert sorted(markers) == ENGINES and {m["version"] for m in markers.values()} == {"2.5.5"}
    first, *later = _plan_waves(cluster)
    before = _pids(cluster)
    version_file = f"{RELEASES}/2.5.5/VERSION"
    # a broken install dir: its VERSION no longer names the release
    cluster.shell(first, f"cp -a {version_file} /root/VERSION.keep", check=True)
    cluster.shell(first, f"echo broken > {version_file}", check=True)
    try:
        with Watcher(cluster) as watcher:
            proc = _orch(SHORT)
    finally:
        cluster.shell(first, f"cp -a /root/VERSION.keep {version_file}", check=True)
    assert proc.returncode != 0, proc.stdout
    assert f"FAILED at {first}" in proc.stdout, proc.stdout
    assert "switch to release 2.5.5 failed" in proc.stdout, proc.stdout
    assert "started again on the release it ran (started)" in proc.stdout, proc.stdout
    cluster.wait_for(lambda: _healthy(cluster), timeout=120, what=f"{first} Up again")
    after = _pids(cluster)
    assert after[first] != before[first]
    assert {m: after[m] for m in later} == {m: before[m] for m in later}
    assert {m: _current(cluster, m) for m in ENGINES} == dict.fromkeys(ENGINES, "releases/2.5.4")
    assert _versions(cluster) == dict.fromkeys(ENGINES, "2.5.4")
    assert sorted(_markers(cluster)) == ENGINES  # nothing cleared: a re-run starts over
    assert watcher.fewest >= 2, watcher.seen


def test_an_upgrade_that_cannot_start_is_rolled_back_on_that_node(cluster):
    first, *later = _plan_waves(cluster)
    before, stops = _pids(cluster), _stops(cluster)
    binary = f"{RELEASES}/2.5.5/bin/reactive-engine"
    cluster.shell(first, f"chmod -x {binary}", check=True)
    try:
        with Watcher(cluster) as watcher:
            proc = _orch(SHORT)  # on_failure unset: rollback, the default for a version change
    finally:
        cluster.shell(first, f"chmod +x {binary}", check=True)
    assert proc.returncode != 0, proc.stdout
    assert f"FAILED at {first}" in proc.stdout, proc.stdout
    assert (
        "on release 2.5.5; rolled back to release 2.5.4 and started: Up and ready again"
        in proc.stdout
    ), proc.stdout
    # the node is Up on the old version; the later nodes never stopped and did not move
    assert _healthy(cluster) and _all_ready(cluster)
    assert _versions(cluster) == dict.fromkeys(ENGINES, "2.5.4")
    assert {m: _current(cluster, m) for m in ENGINES} == dict.fromkeys(ENGINES, "releases/2.5.4")
    after = _pids(cluster)
    assert after[first] != before[first]
    assert {m: after[m] for m in later} == {m: before[m] for m in later}
    assert _stops(cluster) == {**stops, first: stops[first] + 1}  # 2.5.5 never ran
    markers = _markers(cluster)
    assert all(markers[m]["version"] == "2.5.5" for m in later), markers
    assert watcher.fewest >= 2, watcher.seen
    cluster.rolled_back = first


def test_going_back_before_the_nodes_moved_restarts_each_at_most_once(cluster):
    # layline:version back to the release every engine still runs; the node the last run
    # rolled back restarted after its marker was written, the others never moved
    first = getattr(cluster, "rolled_back", None)
    assert first, "needs test_an_upgrade_that_cannot_start_is_rolled_back_on_that_node first"
    _set_pillar(cluster, _version("2.5.4"))
    assert_applied(apply(cluster, "*"), ALL)
    markers = _markers(cluster)
    assert all(not marker.get("version") for marker in markers.values()), markers
    before, stops = _pids(cluster), _stops(cluster)
    with Watcher(cluster) as watcher:
        proc = _orch()
    assert proc.returncode == 0, proc.stdout
    restarts = {m: _stops(cluster)[m] - stops[m] for m in ENGINES}
    # the rolled-back node restarted after its marker: done, cleared without a restart
    assert restarts[first] == 0, (restarts, markers, proc.stdout)
    assert all(count <= 1 for count in restarts.values()), (restarts, markers, proc.stdout)
    assert _pids(cluster)[first] == before[first]
    assert _markers(cluster) == {}
    assert _versions(cluster) == dict.fromkeys(ENGINES, "2.5.4")
    assert watcher.fewest >= 2, watcher.seen
    again = _orch()
    assert again.returncode == 0 and "nothing to restart" in again.stdout, again.stdout


# ------------------------------------------------------------------ node addition (issue 17)
NEW = "ll-node-4"
CA = "ll-config-server"  # the seed3 pillar's CA minion


def test_a_node_added_with_the_two_commands_back_to_back_joins_and_all_roll(cluster):
    cluster.wait_for(lambda: _healthy(cluster), timeout=120, what="three engines Up")
    cluster.add(NEW)
    _sync_all(cluster, [NEW])
    _set_pillar(
        cluster,
        lambda p: p["cluster"]["nodes"].append({"minion": NEW, "hostname": f"{NEW}.orb.local"}),
    )
    # no policy step (issue 18's leftover): the CA minion's apply writes the new node's
    # policy and the new node waits for it before it asks for its certificate
    engines = [*ENGINES, NEW]
    before, stops = _pids(cluster), _stops(cluster)
    with Watcher(cluster, engines) as watcher:
        applied = apply(cluster, "*")
        proc = _orch()  # at once: the new engine may still be joining
    assert_applied(applied, [*ALL, NEW])
    assert proc.returncode == 0, proc.stdout
    # the three got the new seed list and were restarted once each; the new one started
    # from its first configuration
    assert _stops(cluster) == {m: stops[m] + 1 for m in ENGINES}, proc.stdout
    after = _pids(cluster)
    assert all(after[m] != before[m] for m in ENGINES)
    assert proc.stdout.count(" Up and ready") == 3, proc.stdout
    assert _markers(cluster) == {}
    assert not cluster.salt(NEW, "layline.pending")[NEW]
    view = _members(cluster)
    assert sorted(m["status"] for m in view["members"]) == ["Up"] * 4, view
    assert any(m["node"].startswith(f"pekko://layline@{NEW}.") for m in view["members"]), view
    # its certificate came from the policy the CA minion made from the pillar (its grain)
    served = cluster.salt(CA, "grains.get", "x509_signing_policies")[CA]
    assert served[f"layline-{NEW}"]["subjectAltName"] == f"DNS:{NEW}.orb.local", served
    # never fewer than N-1 Up (N = 4 once it joined; 3 before)
    assert watcher.polls >= 10 and watcher.fewest >= 3, (watcher.seen, proc.stdout[-3000:])
