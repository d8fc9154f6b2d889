"""Recovery after a partition (issue 11): the first seed node's start gate.

layline.seed_gate decides which unit gets the gate; seed-gate.sh is run for real against
local listeners (record on a failed/clean end, check with and without an answering seed).
"""

import os
import socket
import subprocess

import pytest
from test_layline_hardening import _unit
from unitsupport import ROOT, SEED_PILLAR

from layline_schema import SEED_GATE

SCRIPT = ROOT / "layline" / "service" / "files" / "seed-gate.sh"
MARKER = "/var/lib/layline/.layline/reactive-engine/ended-in-failure"


def test_only_the_first_seed_node_gets_the_gate(layline, seed_config):
    gate = layline.seed_gate(seed_config, minion_id="ll-node-1")
    assert gate["check"] == [
        SEED_GATE,
        "check",
        MARKER,
        "ll-node-2.orb.local:5843",
        "ll-node-3.orb.local:5843",
    ]
    assert gate["record"] == [SEED_GATE, "record", MARKER]
    for minion in ("ll-node-2", "ll-node-3", "ll-config-server"):
        assert layline.seed_gate(seed_config, minion_id=minion) == {}


def test_the_gate_follows_the_seed_order(layline, make_config):
    nodes = list(reversed(SEED_PILLAR["cluster"]["nodes"]))
    config = make_config(SEED_PILLAR, {"cluster": {"nodes": nodes}, "ports": {"cluster": 2552}})
    assert layline.seed_gate(config, minion_id="ll-node-1") == {}
    gate = layline.seed_gate(config, minion_id="ll-node-3")
    assert gate["check"][3:] == ["ll-node-2.orb.local:2552", "ll-node-1.orb.local:2552"]


def test_no_gate_for_a_single_engine(layline, single_config, make_config):
    assert layline.seed_gate(single_config) == {}
    one = make_config(
        SEED_PILLAR,
        {"cluster": {"nodes": SEED_PILLAR["cluster"]["nodes"][:1], "min_nr_of_members": 1}},
    )
    assert layline.seed_gate(one, minion_id="ll-node-1") == {}


def test_the_unit_runs_the_gate_around_the_engine(layline, seed_config):
    gate = layline.seed_gate(seed_config, minion_id="ll-node-1")
    lines = _unit(exec_start_pre=[gate["check"]], exec_stop_post=[gate["record"]]).splitlines()
    assert (
        f'ExecStartPre="{SEED_GATE}" "check" "{MARKER}" '
        '"ll-node-2.orb.local:5843" "ll-node-3.orb.local:5843"'
    ) in lines
    assert f'ExecStopPost="{SEED_GATE}" "record" "{MARKER}"' in lines
    assert not any(line.startswith("ExecStopPost") for line in _unit().splitlines())


# ------------------------------------------------------------------ seed-gate.sh


def _gate(*args, result=None):
    env = {"PATH": os.environ["PATH"]}
    if result is not None:
        env.update(SERVICE_RESULT=result, EXIT_CODE="exited", EXIT_STATUS="255")
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30
    )


@pytest.fixture
def listener():
    """A local TCP port that accepts connections (another seed node that answers)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


@pytest.fixture
def closed_port():
    """A local port nobody listens on (a seed node that does not answer)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"127.0.0.1:{port}"


@pytest.mark.parametrize("result", ["exit-code", "signal", "core-dump", "timeout"])
def test_an_end_in_failure_is_recorded(tmp_path, result):
    marker = tmp_path / "state" / "ended-in-failure"
    proc = _gate("record", str(marker), result=result)
    assert proc.returncode == 0, proc.stderr
    assert marker.exists() and "ended in failure" in proc.stdout


@pytest.mark.parametrize("result", ["success", None])
def test_a_clean_stop_clears_the_record(tmp_path, result):
    marker = tmp_path / "ended-in-failure"
    marker.write_text("")
    assert _gate("record", str(marker), result=result).returncode == 0
    assert not marker.exists()


def test_a_cold_start_is_never_held_back(tmp_path, closed_port):
    proc = _gate("check", str(tmp_path / "ended-in-failure"), closed_port)
    assert proc.returncode == 0, proc.stderr


def test_after_a_failure_the_start_waits_while_no_other_seed_answers(tmp_path, closed_port):
    marker = tmp_path / "ended-in-failure"
    marker.write_text("")
    proc = _gate("check", str(marker), closed_port, "[::1]:1")
    assert proc.returncode == 1
    assert "no other seed node answers" in proc.stderr and f"rm {marker}" in proc.stderr
    assert marker.exists()


def test_after_a_failure_the_start_goes_on_once_a_seed_answers(tmp_path, closed_port, listener):
    marker = tmp_path / "ended-in-failure"
    marker.write_text("")
    proc = _gate("check", str(marker), closed_port, listener)
    assert proc.returncode == 0, proc.stderr
    assert f"seed node {listener} answers" in proc.stdout
    assert not marker.exists()


@pytest.mark.parametrize("args", [[], ["record"], ["frobnicate", "/tmp/x"], ["check", "/x"]])
def test_bad_usage_is_refused(tmp_path, args):
    if args == ["check", "/x"]:
        (tmp_path / "m").write_text("")
        args = ["check", str(tmp_path / "m")]
    assert _gate(*args).returncode == 2


# ------------------------------------------------------------------ diagnose: membership

ME, TWO, THREE = (f"pekko://layline@ll-node-{i}.orb.local:5843" for i in (1, 2, 3))
RUNNING = {
    "ActiveState": "active",
    "SubState": "running",
    "Result": "success",
    "NRestarts": "0",
    "ExecMainStatus": "0",
}


def _view(members, leader=None, unreachable=()):
    return {
        "selfNode": ME,
        "leader": leader or members[0][0],
        "members": [{"node": node, "status": status} for node, status in members],
        "unreachable": [{"node": node, "observedBy": [ME]} for node in unreachable],
    }


ONE_CLUSTER = _view([(ME, "Up"), (TWO, "Up"), (THREE, "Up")])


def _finding(layline, unit=None, own=ONE_CLUSTER, others=None, **kwargs):
    others = {"ll-node-2": ONE_CLUSTER, "ll-node-3": ONE_CLUSTER} if others is None else others
    row = layline._membership_finding("ll-node-1", ME, unit or RUNNING, own, others, **kwargs)
    assert row["check"] == "member of the cluster" and row["target"] == "ll-node-1"
    assert (row["result"] == "ok") == (not row["fix"]), row
    return row


def test_a_member_of_the_one_cluster_is_ok(layline):
    row = _finding(layline)
    assert row["result"] == "ok" and "Up in a cluster of 3" in row["detail"]


def test_downed_and_not_restarted(layline):
    unit = dict(
        RUNNING, ActiveState="failed", SubState="failed", Result="exit-code", ExecMainStatus="255"
    )
    row = _finding(layline, unit=unit, own=None)
    assert row["result"] == "failed"
    assert "downed by the split-brain resolver (exit 255)" in row["detail"]
    assert "systemctl start layline-reactive-engine" in row["fix"]


def test_the_restart_limit_was_hit(layline):
    unit = dict(
        RUNNING,
        ActiveState="failed",
        SubState="failed",
        Result="start-limit-hit",
        NRestarts="5",
        ExecMainStatus="255",
    )
    row = _finding(layline, unit=unit, own=None)
    assert "hit its start limit" in row["detail"] and "5 restarts" in row["detail"]
    assert "systemctl reset-failed layline-reactive-engine" in row["fix"]


def test_the_first_seed_waits_at_the_gate(layline):
    unit = dict(
        RUNNING,
        ActiveState="activating",
        SubState="auto-restart",
        Result="exit-code",
        NRestarts="7",
        ExecMainStatus="1",
    )
    row = _finding(
        layline,
        unit=unit,
        own=None,
        others={"ll-node-2": None, "ll-node-3": None},
        gated=True,
        marker="/var/lib/layline/m",
    )
    assert "held back by the seed gate" in row["detail"]
    assert "restore the network" in row["fix"] and "rm /var/lib/layline/m" in row["fix"]
    # caught while the gate itself runs (ExecStartPre): the same finding
    starting = dict(unit, SubState="start-pre")
    row = _finding(layline, unit=starting, own=None, gated=True, marker="/m")
    assert "held back by the seed gate" in row["detail"]
    # the same unit state without the gate's record: a plain restart loop
    row = _finding(layline, unit=unit, own=None)
    assert "systemd restarts it (7 restarts" in row["detail"]
    # a stopped first seed with the record left over is reported as stopped
    stopped = dict(unit, ActiveState="inactive", SubState="dead")
    row = _finding(layline, unit=stopped, own=None, gated=True, marker="/m")
    assert "is inactive (dead)" in row["detail"]


def test_a_stopped_engine(layline):
    unit = dict(RUNNING, ActiveState="inactive", SubState="dead", ExecMainStatus="143")
    row = _finding(layline, unit=unit, own=None)
    assert "is inactive (dead)" in row["detail"] and "systemctl start" in row["fix"]


def test_a_process_that_is_no_member(layline):
    row = _finding(layline, own=None)
    assert "does not answer" in row["detail"] and "exit-jvm" in row["detail"]
    assert "systemctl restart layline-reactive-engine" in row["fix"]


def test_not_joined_names_the_seeds_that_do_not_answer(layline):
    own = _view([(TWO, "Up"), (THREE, "Up")])
    own["members"] = []
    row = _finding(layline, own=own, others={"ll-node-2": None, "ll-node-3": None})
    assert "not joined" in row["detail"] and "ll-node-2, ll-node-3" in row["detail"]
    assert "layline:ports:cluster" in row["fix"]


def test_an_island_names_both_clusters_and_the_smaller_one(layline):
    island = _view([(ME, "Up")])
    theirs = _view([(TWO, "Up"), (THREE, "Up")], leader=TWO)
    row = _finding(layline, own=island, others={"ll-node-2": theirs, "ll-node-3": theirs})
    assert row["result"] == "failed" and "two clusters" in row["detail"]
    assert f"leader {TWO}" in row["detail"] and f"leader {ME}" in row["detail"]
    assert "smaller cluster (this node's)" in row["fix"]
    # seen from the bigger side the other one is named
    big = _view([(ME, "Up"), (TWO, "Up")])
    row = _finding(layline, own=big, others={"ll-node-2": big, "ll-node-3": _view([(THREE, "Up")])})
    assert "smaller cluster (ll-node-3's)" in row["fix"]


def test_a_view_in_flux_is_no_island(layline):
    joining = _view([(TWO, "Up"), (THREE, "Up")])  # ll-node-2 has not seen us join yet
    own = _view([(ME, "Up"), (TWO, "Up"), (THREE, "Up")])
    assert _finding(layline, own=own, others={"ll-node-2": joining})["result"] == "ok"


def test_unreachable_members_and_a_downed_self(layline):
    own = _view([(ME, "Up"), (TWO, "Up"), (THREE, "Up")], unreachable=[THREE])
    row = _finding(layline, own=own)
    assert row["result"] == "failed" and THREE in row["detail"]
    row = _finding(layline, own=_view([(ME, "Down"), (TWO, "Up"), (THREE, "Up")]))
    assert "this member is Down" in row["detail"]


def test_diagnose_reports_membership_from_the_unit_and_the_views(layline, seed_config, monkeypatch):
    layline.__salt__ = {
        "cmd.run_all": lambda args, **kw: {
            "retcode": 0,
            "stdout": "ActiveState=failed\nSubState=failed\nResult=exit-code\n"
            "NRestarts=0\nExecMainStatus=255\n",
        }
    }
    monkeypatch.setattr(layline, "_http_get", lambda url, timeout, **kw: (0, None, "refused"))
    report = layline.diagnose(config=seed_config, timeout=0.2)
    rows = [row for row in report["checks"] if row["check"] == "member of the cluster"]
    assert len(rows) == 1 and rows[0]["result"] == "failed"
    assert rows[0]["target"] == f"ll-node-1 ({ME})"
    assert "exit 255" in rows[0]["detail"] and report["ok"] is False
