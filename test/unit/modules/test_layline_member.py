"""_modules/layline_member.py: one node's whole step of the rolling restart, against a
simulated cluster with separate per-member states over virtual time (simcluster.py)."""

import os

import pytest
import unitsupport
from salt.exceptions import CommandExecutionError
from simcluster import SimCluster, address, load_member, on_minion

MARK = {"reasons": ["configuration changed"], "version": None, "written": "2026-12-01T10:00:00Z"}
UPGRADE = {"reasons": ["version 2.5.4 -> 2.5.5"], "version": "2.5.5"}


def nodes(cluster):
    return [
        {"minion": m, "address": address(m), "url": f"http://{m}.example.com:8558"}
        for m in cluster.members
    ]


def restart(cluster, minion="n3", **kwargs):
    mod = load_member(cluster)
    context = on_minion(mod, cluster, minion)
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("expected", len(cluster.members))
    ret = mod.restart(nodes(cluster), **kwargs)
    return ret, context


def phases(cluster, minion):
    return [tag.split("/")[-1] for tag, _data in cluster.events if tag.split("/")[2] == minion]


def test_a_clean_step_walks_every_phase_in_order_and_reports_timings():
    cluster = SimCluster(3, markers={"n3": MARK})
    ret, context = restart(cluster)
    assert ret["result"] is True and ret["phase"] == "done", ret
    assert "retcode" not in context
    assert phases(cluster, "n3") == ["stopped", "left", "started", "up", "ready", "done"]
    t = ret["timings"]
    assert t["stopped"] < t["left"] < t["started"] < t["up"] <= t["ready"] < t["done"]
    # the leave took the simulated removal (3 s after the stop began), Up 4 s after the start
    assert t["left"] >= 3.0
    assert t["up"] - t["started"] >= 4.0
    member = cluster.members["n3"]
    assert (member.stops, member.starts, member.status, member.ready) == (1, 1, "Up", True)
    assert ret["view"]["members"] and "log_tail" not in ret


def test_the_start_waits_until_no_peer_lists_the_node():
    cluster = SimCluster(3, markers={"n3": MARK}, removed_after=8.0)
    starts = []
    salt_for = cluster.salt_for

    def spy(minion):
        salt = salt_for(minion)
        start = salt["service.start"]

        def start_spy(unit):
            starts.append([m["status"] for m in cluster.view()["members"] if "n3" in m["node"]])
            return start(unit)

        salt["service.start"] = start_spy
        return salt

    cluster.salt_for = spy
    ret, _context = restart(cluster)
    assert ret["result"] is True
    assert starts == [[]]  # not listed (not even Exiting) when it was started
    assert ret["timings"]["left"] >= 8.0


def test_a_node_its_peers_still_list_fails_at_the_leave_and_is_not_started():
    cluster = SimCluster(3, markers={"n3": MARK})
    cluster.members["n3"].never_leaves = True
    ret, context = restart(cluster, timeout=10)
    assert ret["result"] is False and ret["phase"] == "leave"
    assert "still lists it as Leaving" in ret["comment"]
    assert context["retcode"] == 1 and ret["log_tail"] == "last log lines of n3"
    assert cluster.members["n3"].starts == 0
    assert phases(cluster, "n3")[-1] == "failed"


def test_gate_up_in_a_peer_view_a_node_ready_but_still_joining_there_fails():
    # its own /ready says 200 after 5 s, but its peers list it as Joining until 40 s
    # (expected 2: the member count alone would pass, only the Up condition holds it)
    cluster = SimCluster(3, markers={"n3": MARK}, up_after=40.0)
    ret, _context = restart(cluster, timeout=15, expected=2)
    assert ret["result"] is False and ret["phase"] == "gate", ret
    assert "a peer lists it as Joining" in ret["comment"]
    assert "/ready" not in ret["comment"] and "members Up" not in ret["comment"]


def test_gate_own_ready_a_node_up_but_never_ready_fails_naming_ready():
    cluster = SimCluster(3, markers={"n3": MARK})
    cluster.members["n3"].never_ready = True
    ret, _context = restart(cluster, timeout=15)
    assert ret["result"] is False and ret["phase"] == "gate"
    assert "its /ready is not 200" in ret["comment"]
    assert "a peer lists it" not in ret["comment"]
    assert "up" in ret["timings"] and "ready" not in ret["timings"]


def test_gate_member_count_a_peer_dropping_out_during_the_wave_fails_the_gate():
    cluster = SimCluster(4, markers={"n4": MARK})

    def drop():  # n2 hangs: its peers list it as unreachable, its endpoint is dead
        cluster.members["n2"].unreachable = True
        cluster.members["n2"].answers = False

    cluster.at(3.0, drop)
    ret, _context = restart(cluster, minion="n4", timeout=15)
    assert ret["result"] is False and ret["phase"] == "gate", ret
    assert "3 members Up, 4 before the wave" in ret["comment"]
    assert "a peer lists it" not in ret["comment"] and "/ready" not in ret["comment"]


def test_gate_member_count_waits_for_the_count_to_come_back():
    cluster = SimCluster(4, markers={"n4": MARK})
    cluster.at(3.0, lambda: setattr(cluster.members["n2"], "unreachable", True))
    cluster.at(20.0, lambda: setattr(cluster.members["n2"], "unreachable", False))
    ret, _context = restart(cluster, minion="n4", timeout=40)
    assert ret["result"] is True
    assert ret["timings"]["done"] >= 20.0


def test_gate_must_hold_two_polls_in_a_row():
    cluster = SimCluster(3, markers={"n3": MARK})
    ret, _context = restart(cluster)
    t = ret["timings"]
    # a pass at "ready", then one more poll (<= 0.5 s later) before "done"
    assert 0.0 < t["done"] - t["ready"] <= 0.7


def test_polls_at_most_every_half_second_whatever_the_setting():
    cluster = SimCluster(3, markers={"n3": MARK})
    ret, _context = restart(cluster, poll_interval=5)
    assert ret["result"] is True
    # Up 4 s after its start: seen within a poll of 0.5 s (plus the calls' own time)
    assert ret["timings"]["up"] - ret["timings"]["started"] <= 4.0 + 0.7


def test_a_failed_switch_stops_the_step_and_starts_the_release_it_ran():
    cluster = SimCluster(3, markers={"n3": UPGRADE})  # 2.5.5 is not installed
    ret, context = restart(cluster, on_failure="rollback")
    assert ret["result"] is False and ret["phase"] == "switch", ret
    assert "switch to release 2.5.5 failed" in ret["comment"]
    assert "started again on the release it ran (started)" in ret["comment"]
    assert context["retcode"] == 1
    member = cluster.members["n3"]
    assert member.release == "2.5.4" and member.unit == "active" and member.starts == 1


def test_a_switch_to_an_installed_release_then_the_gate():
    cluster = SimCluster(3, markers={"n3": UPGRADE})
    cluster.members["n3"].installed.add("2.5.5")
    ret, _context = restart(cluster)
    assert ret["result"] is True
    assert ret["versions"] == {"from": "2.5.4", "to": "2.5.5"}
    assert cluster.members["n3"].release == "2.5.5"
    assert phases(cluster, "n3")[:3] == ["stopped", "left", "switched"]


def test_a_new_release_that_cannot_start_is_rolled_back_naming_both_versions():
    cluster = SimCluster(3, markers={"n3": UPGRADE})
    member = cluster.members["n3"]
    member.installed.add("2.5.5")
    member.bad_releases.add("2.5.5")
    ret, context = restart(cluster, on_failure="rollback", timeout=20)
    assert ret["result"] is False and ret["rolled_back"] is True, ret
    assert (
        "on release 2.5.5; rolled back to release 2.5.4 and started: Up and ready again"
        in ret["comment"]
    )
    assert context["retcode"] == 1
    assert member.release == "2.5.4" and member.unit == "active" and member.starts == 2
    # it waited for the old release to be back: Up and ready when the step returns
    assert member.status == "Up" and member.ready is True
    assert "rolled_back" in phases(cluster, "n3")


def test_on_failure_stop_leaves_a_failed_new_release_alone():
    cluster = SimCluster(3, markers={"n3": UPGRADE})
    member = cluster.members["n3"]
    member.installed.add("2.5.5")
    member.bad_releases.add("2.5.5")
    ret, _context = restart(cluster, on_failure="stop", timeout=20)
    assert ret["result"] is False and "rolled_back" not in ret
    assert member.release == "2.5.5" and member.starts == 1


def test_a_failed_start_is_reported_as_the_start_phase():
    cluster = SimCluster(3, markers={"n3": MARK})
    cluster.members["n3"].start_fails = True
    ret, _context = restart(cluster)
    assert ret["result"] is False and ret["phase"] == "start"


def test_arguments_are_checked():
    cluster = SimCluster(3)
    with pytest.raises(CommandExecutionError, match="not among the nodes"):
        restart(cluster, minion="n9")
    with pytest.raises(CommandExecutionError, match="layline:rolling:on_failure"):
        restart(cluster, on_failure="retry")


def test_state_answers_markers_ready_and_the_unit_in_one_call():
    cluster = SimCluster(3, markers={"n2": MARK})
    mod = load_member(cluster)
    on_minion(mod, cluster, "n2")
    state = mod.state()
    assert state["pending"] == {"layline-reactive-engine": MARK}
    assert state["ready"] is True
    assert state["unit"]["stop_timeout"] == "1min 30s"
    assert state["unit"]["started_at"] == 1000.0


# --------------------------------------------------------------------------- log tail


@pytest.fixture
def member():
    # the real reader, not the simulation's stand-in
    return None, unitsupport.load_file("_modules/layline_member.py", "layline_member_log")


def _log(home):
    path = home / ".layline" / "reactive-engine" / "log"
    path.mkdir(parents=True)
    return path / "reactive-engine.log"


def test_log_tail_reads_the_last_lines(tmp_path, member):
    _mod, real = member
    _log(tmp_path).write_text("".join(f"line {i}\n" for i in range(100)))
    assert real.log_tail(home=str(tmp_path), lines=3) == "line 97\nline 98\nline 99"


def test_log_tail_reads_at_most_max_bytes_from_the_end(tmp_path, member):
    _mod, real = member
    _log(tmp_path).write_text("x" * 200_000 + "\nlast\n")
    tail = real.log_tail(home=str(tmp_path), lines=5, max_bytes=1000)
    assert tail.endswith("last") and len(tail) <= 1000


def test_log_tail_refuses_a_symlinked_log_or_directory(tmp_path, member):
    _mod, real = member
    secret = tmp_path / "shadow"
    secret.write_text("root:secret\n")
    log = _log(tmp_path / "home")
    log.symlink_to(secret)
    assert "symlink" in real.log_tail(home=str(tmp_path / "home"))
    other = tmp_path / "other"
    (other / ".layline").mkdir(parents=True)
    (other / ".layline" / "reactive-engine").symlink_to(tmp_path / "home" / ".layline")
    assert "secret" not in real.log_tail(home=str(other))


def test_log_tail_refuses_a_fifo_without_blocking_and_a_hard_link(tmp_path, member):
    _mod, real = member
    log = _log(tmp_path / "a")
    os.mkfifo(log)
    assert "not a regular file" in real.log_tail(home=str(tmp_path / "a"))
    target = tmp_path / "target"
    target.write_text("root:secret\n")
    log = _log(tmp_path / "b")
    os.link(target, log)
    assert "hard links" in real.log_tail(home=str(tmp_path / "b"))
