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

SCRIPT = ROOT / "layline" / "service" / "files" / "seed-gate.sh"
MARKER = "/var/lib/layline/.layline/reactive-engine/ended-in-failure"


def test_only_the_first_seed_node_gets_the_gate(layline, seed_config):
    gate = layline.seed_gate(seed_config, minion_id="ll-node-1")
    assert gate["check"] == [layline.SEED_GATE, "check", MARKER,
                             "ll-node-2.orb.local:5843", "ll-node-3.orb.local:5843"]
    assert gate["record"] == [layline.SEED_GATE, "record", MARKER]
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
    one = make_config(SEED_PILLAR, {"cluster": {"nodes": SEED_PILLAR["cluster"]["nodes"][:1],
                                                "min_nr_of_members": 1}})
    assert layline.seed_gate(one, minion_id="ll-node-1") == {}


def test_the_unit_runs_the_gate_around_the_engine(layline, seed_config):
    gate = layline.seed_gate(seed_config, minion_id="ll-node-1")
    lines = _unit(exec_start_pre=[gate["check"]], exec_stop_post=[gate["record"]]).splitlines()
    assert (f'ExecStartPre="{layline.SEED_GATE}" "check" "{MARKER}" '
            '"ll-node-2.orb.local:5843" "ll-node-3.orb.local:5843"') in lines
    assert f'ExecStopPost="{layline.SEED_GATE}" "record" "{MARKER}"' in lines
    assert not any(line.startswith("ExecStopPost") for line in _unit().splitlines())


# ------------------------------------------------------------------ seed-gate.sh


def _gate(*args, result=None):
    env = {"PATH": os.environ["PATH"]}
    if result is not None:
        env.update(SERVICE_RESULT=result, EXIT_CODE="exited", EXIT_STATUS="255")
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True,
                          text=True, timeout=30)


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


def test_after_a_failure_the_start_goes_on_once_a_seed_answers(tmp_path, closed_port,
                                                                listener):
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
