"""The rolling restart executor (_runners/layline.py Roller, the runner) over a simulated
cluster (simcluster.py) with the real layline_member module on every node."""

import pytest
from rollingsupport import runner, settings
from simcluster import SimClient, SimCluster

import layline_plan

MARK = {"reasons": ["configuration changed"], "version": None}
UPGRADE = {"reasons": ["version 2.5.4 -> 2.5.5"], "version": "2.5.5"}


def client_for(cluster):
    return SimClient(cluster, runner.MinionCallError)


def roll(cluster, conf):
    client = client_for(cluster)
    lines = []
    roller = runner.Roller(
        conf, client, progress=lines.append, clock=cluster.clock, sleep=cluster.clock.sleep
    )
    gathered = runner._gather(conf, client)
    the_plan = layline_plan.build_plan(conf, *gathered)
    assert the_plan["refused"] == [], the_plan["refused"]
    failure = roller.run(the_plan, view=gathered[0])
    return failure, roller, lines, client


def restarted(cluster):
    return [m for m, fun, args in cluster.calls if fun == "service.stop"]


def test_every_pending_engine_restarted_once_newest_to_oldest_and_markers_cleared():
    cluster = SimCluster(3, markers={m: MARK for m in ("n1", "n2", "n3")})
    failure, roller, lines, client = roll(cluster, settings(3, timeout=30))
    assert failure is None
    assert restarted(cluster) == ["n3", "n2", "n1"]
    assert [m.starts for m in cluster.members.values()] == [1, 1, 1]
    assert cluster.markers == {}
    # one publish per wave, nothing else does the step: each node cleared its own marker
    assert [minions for minions, _kwarg in client.publishes] == [["n3"], ["n2"], ["n1"]]
    assert all(kwarg["clear_marker"] is True for _minions, kwarg in client.publishes)
    # besides the pre-check's view and states, the runner called no minion itself
    assert {fun for _m, fun in client.asked} == {"layline.members", "layline_member.state"}
    assert [row["result"] for row in roller.rows] == ["restarted"] * 3
    assert any("n3 left the cluster" in line for line in lines)
    assert sum(" Up and ready" in line for line in lines) == 3
    assert any("n3 Up and ready" in line for line in lines)
    # the summary's stop-to-Up: the simulated 4 s after the start plus the leave
    assert all(7.0 <= row["stop_to_up"] <= 9.0 for row in roller.rows), roller.rows
    assert "stop-to-Up" in roller.summary()


def test_a_marker_that_cannot_be_cleared_is_said_and_the_run_goes_on():
    cluster = SimCluster(3, markers={m: MARK for m in ("n2", "n3")})
    cluster.clear_fails.add("n3")
    failure, roller, lines, _client = roll(cluster, settings(3, timeout=30))
    assert failure is None
    assert restarted(cluster) == ["n3", "n2"]
    assert cluster.markers == {"n3": MARK}  # the next run restarts it once more
    assert any("n3: its restart marker was not cleared: disk full" in line for line in lines)
    assert [row["result"] for row in roller.rows] == ["restarted"] * 2


def test_never_fewer_than_n_minus_1_up_with_one_at_a_time():
    cluster = SimCluster(5, markers={f"n{i}": MARK for i in range(1, 6)})
    failure, _roller, _lines, _client = roll(cluster, settings(5, timeout=30))
    assert failure is None
    assert min(count for _t, count in cluster.up_views) >= 4


def test_two_at_once_in_one_publish_when_allowed_oldest_alone():
    cluster = SimCluster(5, markers={f"n{i}": MARK for i in range(1, 6)})
    failure, _roller, _lines, client = roll(cluster, settings(5, max_unavailable=2, timeout=30))
    assert failure is None
    assert [minions for minions, _kwarg in client.publishes] == [["n5", "n4"], ["n3", "n2"], ["n1"]]
    wave = client.publishes[0][1]
    assert wave["wave"] == ["n5", "n4"] and wave["expected"] == 5
    assert wave["poll_interval"] <= 0.5
    assert all(m.starts == 1 for m in cluster.members.values())


def test_the_next_wave_starts_from_the_last_gate_view_without_a_new_question():
    cluster = SimCluster(3, markers={m: MARK for m in ("n2", "n3")})
    failure, _roller, _lines, _client = roll(cluster, settings(3, timeout=30))
    assert failure is None
    # the runner itself asked /cluster/members once (the plan); the gates asked the rest
    runner_views = [c for c in cluster.calls if c[1] == "layline.members" and c[2] == (None,)]
    assert len(runner_views) == 1


def test_stops_at_the_first_node_not_back_and_leaves_later_nodes_untouched():
    cluster = SimCluster(4, markers={m: MARK for m in ("n1", "n2", "n3", "n4")})
    cluster.members["n3"].never_ready = True
    failure, roller, lines, _client = roll(cluster, settings(4, timeout=20))
    assert failure is not None
    assert failure.startswith("n3: restart failed: n3: gate: not back 20 s after its start")
    assert "its /ready is not 200" in failure
    assert "last lines of n3's engine log" in failure and "last log lines of n3" in failure
    assert restarted(cluster) == ["n4", "n3"]
    assert set(cluster.markers) == {"n1", "n2", "n3"}
    results = {row["node"]: row["result"] for row in roller.rows}
    assert results["n4"] == "restarted" and results["n3"].startswith("FAILED")
    assert results["n2"] == results["n1"] == "untouched (still pending)"
    assert any("FAILED n3" in line for line in lines)


def test_a_failed_switch_stops_the_run_naming_the_node():
    cluster = SimCluster(3, markers={m: UPGRADE for m in ("n2", "n3")})
    cluster.switch_fails.add("n3")
    failure, _roller, _lines, _client = roll(cluster, settings(3, timeout=30))
    assert failure.startswith("n3: restart failed: n3: switch: switch to release 2.5.5 failed")
    assert restarted(cluster) == ["n3"] and set(cluster.markers) == {"n2", "n3"}


def test_a_failed_upgrade_is_rolled_back_by_default_and_later_nodes_untouched():
    cluster = SimCluster(3, markers={m: UPGRADE for m in ("n1", "n2", "n3")})
    for member in cluster.members.values():
        member.installed.add("2.5.5")
        member.bad_releases.add("2.5.5")
    failure, _roller, _lines, _client = roll(cluster, settings(3, timeout=20))
    assert (
        "on release 2.5.5; rolled back to release 2.5.4 and started: Up and ready again" in failure
    )
    assert [m.release for m in cluster.members.values()] == ["2.5.4"] * 3
    assert set(restarted(cluster)) == {"n3"}  # stopped, and stopped again to roll back
    assert [m.starts for m in cluster.members.values()] == [0, 0, 2]


def test_on_failure_stop_is_passed_to_the_nodes():
    cluster = SimCluster(3, markers={"n3": UPGRADE})
    cluster.members["n3"].installed.add("2.5.5")
    cluster.members["n3"].bad_releases.add("2.5.5")
    failure, _roller, _lines, client = roll(cluster, settings(3, timeout=20, on_failure="stop"))
    assert failure and client.publishes[0][1]["on_failure"] == "stop"
    assert cluster.members["n3"].release == "2.5.5"


def test_a_broken_node_keeps_its_marker_so_a_rerun_continues():
    cluster = SimCluster(3, markers={m: MARK for m in ("n2", "n3")})
    cluster.members["n3"].never_ready = True
    failure, _roller, _lines, _client = roll(cluster, settings(3, timeout=10))
    assert failure and failure.startswith("n3")
    assert set(cluster.markers) == {"n2", "n3"}
    cluster.members["n3"].never_ready = False
    cluster.members["n3"].ready = True  # the operator fixed n3
    cluster.calls.clear()
    failure, _roller, _lines, _client = roll(cluster, settings(3, timeout=10))
    assert failure is None
    assert restarted(cluster) == ["n3", "n2"]
    assert cluster.markers == {}


def test_config_server_restarted_after_the_engines_when_pending():
    cluster = SimCluster(3, markers={"n3": MARK, "cfg": MARK})
    failure, roller, _lines, _client = roll(cluster, settings(3, timeout=30))
    assert failure is None
    assert cluster.server_restarts == 1 and cluster.markers == {}
    assert [row["node"] for row in roller.rows] == ["n3", "cfg"]


class Context(dict):
    pass


@pytest.fixture
def runner_with(monkeypatch):
    def use(cluster):
        context = Context()
        monkeypatch.setattr(runner, "__context__", context, raising=False)
        monkeypatch.setattr(runner, "__opts__", {"quiet": True}, raising=False)
        made = []

        def client(opts, timeout=30):
            made.append(client_for(cluster))
            return made[-1]

        monkeypatch.setattr(runner, "SaltClient", client)
        monkeypatch.setattr(runner, "_SLEEP", cluster.clock.sleep)
        monkeypatch.setattr(runner, "_CLOCK", cluster.clock)
        context.clients = made
        return context

    return use


def conf_dict(count=3, **rolling):
    return dict(settings(count, **rolling))


def test_runner_sets_a_nonzero_retcode_on_failure(runner_with):
    cluster = SimCluster(3, markers={"n3": MARK})
    cluster.members["n3"].never_ready = True
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(timeout=5))
    assert ret["result"] is False and context["retcode"] == 1
    assert "rolling restart FAILED at n3" in ret["comment"]
    # its Salt client is closed on a failure as on success (Salt warns of an unclosed one)
    assert [client.closed for client in context.clients] == [1]


def test_runner_and_plan_close_their_client(runner_with):
    cluster = SimCluster(3, markers={"n3": MARK})
    context = runner_with(cluster)
    assert runner.rolling(settings=conf_dict(timeout=30))["result"] is True
    assert runner.plan(settings=conf_dict())["refused"] == []
    assert [client.closed for client in context.clients] == [1, 1]


def test_runner_refuses_before_anything_happens(runner_with):
    cluster = SimCluster(3, markers={"n3": MARK})
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(max_unavailable=2))
    assert ret["result"] is False and context["retcode"] == 1
    assert "largest safe value 1" in ret["comment"]
    assert restarted(cluster) == []


def test_runner_with_nothing_pending_restarts_nothing(runner_with):
    cluster = SimCluster(3)
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict())
    assert ret["result"] is True and "retcode" not in context
    assert ret["comment"].startswith("nothing to restart")
    assert restarted(cluster) == []


def test_runner_success_keeps_retcode_zero(runner_with):
    cluster = SimCluster(3, markers={"n2": MARK})
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(timeout=30))
    assert ret["result"] is True and "retcode" not in context
    assert "rolling restart done" in ret["comment"]


@pytest.mark.parametrize(
    ("stop_timeout", "refused"),
    [("1min", True), ("75s", True), ("1min 15s", True), ("76s", False), ("1min 30s", False)],
)
def test_runner_refuses_a_unit_stop_timeout_up_to_75_s(runner_with, stop_timeout, refused):
    cluster = SimCluster(3, markers={"n3": MARK}, stop_timeout=stop_timeout)
    runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(timeout=30))
    assert ("TimeoutStopSec" in ret["comment"]) is refused, ret["comment"]
    assert (restarted(cluster) == []) is refused


def test_a_failed_membership_precheck_asks_only_the_missing_engine(runner_with):
    cluster = SimCluster(3, markers={"n3": MARK})
    cluster.members["n1"].status = None  # n1 is gone: not a member
    cluster.members["n1"].unit = "inactive"
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict())
    assert ret["result"] is False and context["retcode"] == 1
    assert "not a cluster member: n1" in ret["comment"]
    # beside the view, only n1 is asked (its unit's state: not running, refused at once)
    assert {m for m, fun, _a in cluster.calls if fun != "layline.members"} == {"n1"}
    assert restarted(cluster) == []


def joining_later(cluster, minion, joining_at, up_at):
    """``minion`` runs but is not a member yet (an apply still finishing): Joining at
    ``joining_at``, Up and ready at ``up_at``."""
    member = cluster.members[minion]
    member.status, member.ready = None, False

    def up():
        member.status, member.ready = "Up", True

    cluster.at(joining_at, lambda: setattr(member, "status", "Joining"))
    cluster.at(up_at, up)


def test_the_precheck_waits_for_a_joining_engine_then_rolls(runner_with, monkeypatch):
    cluster = SimCluster(3, markers={m: MARK for m in ("n1", "n2", "n3")})
    joining_later(cluster, "n3", 6.0, 20.0)
    lines = []
    runner_with(cluster)
    monkeypatch.setattr(runner, "_progress", lines.append)
    ret = runner.rolling(settings=conf_dict(timeout=30, join_timeout=60))
    assert ret["result"] is True, ret["comment"]
    assert restarted(cluster) == ["n3", "n2", "n1"]
    waits = [line for line in lines if line.startswith("waiting for n3 to join")]
    assert len(waits) >= 5 and "of layline:rolling:join_timeout 60 s" in waits[0]


def test_the_join_wait_is_bounded_by_join_timeout(runner_with):
    cluster = SimCluster(3, markers={"n3": MARK})
    joining_later(cluster, "n3", 6.0, 500.0)
    runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(join_timeout=30))
    assert ret["result"] is False and "not Up: n3 (Joining)" in ret["comment"]
    assert 30.0 <= cluster.clock.now < 40.0
    assert restarted(cluster) == []


def test_an_engine_whose_apply_still_runs_is_waited_for_then_rolled(runner_with, monkeypatch):
    # a node just added: salt returned before its apply started the engine (a busy master)
    cluster = SimCluster(3, markers={m: MARK for m in ("n1", "n2", "n3")})
    member = cluster.members["n3"]
    member.status, member.ready, member.unit, member.applying_until = None, False, "inactive", 10.0

    def started():
        member.unit, member.status = "active", "Joining"

    cluster.at(10.0, started)
    cluster.at(20.0, lambda: (setattr(member, "status", "Up"), setattr(member, "ready", True)))
    lines = []
    runner_with(cluster)
    monkeypatch.setattr(runner, "_progress", lines.append)
    ret = runner.rolling(settings=conf_dict(timeout=30, join_timeout=60))
    assert ret["result"] is True, ret["comment"]
    assert restarted(cluster) == ["n3", "n2", "n1"]
    assert any(line.startswith("waiting for n3 to join") for line in lines), lines


def test_with_no_join_wait_an_applying_stopped_engine_is_refused_at_once(runner_with):
    cluster = SimCluster(3, markers={"n3": MARK})
    member = cluster.members["n3"]
    member.status, member.unit, member.applying_until = None, "inactive", 100.0
    runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(join_timeout=0))
    assert ret["result"] is False and "is not running: n3 (unit inactive)" in ret["comment"]
    assert restarted(cluster) == []


@pytest.mark.parametrize("unit", ["failed", "inactive"])
def test_a_stopped_or_failed_engine_is_refused_at_once_naming_it(runner_with, unit):
    cluster = SimCluster(3, markers={"n3": MARK})
    cluster.members["n2"].status = None
    cluster.members["n2"].unit = unit
    runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(join_timeout=60))
    assert ret["result"] is False
    assert f"is not running: n2 (unit {unit})" in ret["comment"]
    assert cluster.clock.now < 2.0 and restarted(cluster) == []


@pytest.mark.parametrize(
    ("rolling", "key"),
    [
        ({"join_timeout": -1}, "join_timeout"),
        ({"join_timeout": "60"}, "join_timeout"),
        ({"join_timeout": True}, "join_timeout"),
        ({"on_failure": "retry"}, "on_failure"),
    ],
)
def test_new_rolling_keys_are_validated_naming_the_key(rolling, key):
    with pytest.raises(runner.SaltInvocationError, match=f"layline:rolling:{key}"):
        settings(3, **rolling)


def test_a_marker_older_than_a_manual_restart_is_cleared_not_restarted(runner_with):
    # n2 restarted by hand (started at 1000 + 0 = epoch 1000) after its change at 999
    old = {"reasons": ["configuration changed"], "version": None, "written": "1970-01-01T00:16:39Z"}
    new = {"reasons": ["configuration changed"], "version": None, "written": "1970-01-01T00:16:41Z"}
    cluster = SimCluster(3, markers={"n2": old, "n3": new})
    runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(timeout=30))
    assert ret["result"] is True, ret["comment"]
    assert restarted(cluster) == ["n3"]
    assert cluster.markers == {}
    assert "n2: restarted by hand after its change" in ret["plan"]["text"]


def test_a_manually_restarted_node_with_a_release_switch_is_still_restarted(runner_with):
    marker = dict(UPGRADE, written="1970-01-01T00:16:39Z")
    cluster = SimCluster(3, markers={"n2": marker})
    cluster.members["n2"].installed.add("2.5.5")
    runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(timeout=30))
    assert ret["result"] is True and restarted(cluster) == ["n2"]
    assert cluster.members["n2"].release == "2.5.5"
