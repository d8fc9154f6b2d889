"""The rolling restart executor (_runners/layline.py Roller, the runner) with a fake cluster."""

import pytest
from rollingsupport import FakeClock, FakeCluster, runner, settings

import layline_plan

MARK = {"reasons": ["configuration changed"], "version": None}


def plan_for(cluster, conf):
    return layline_plan.build_plan(conf, *runner._gather(conf, cluster))


def roll(cluster, conf):
    lines = []
    roller = runner.Roller(
        conf, cluster, progress=lines.append, clock=cluster.clock, sleep=cluster.clock.sleep
    )
    failure = roller.run(plan_for(cluster, conf))
    return failure, roller, lines


def test_every_pending_engine_restarted_once_newest_to_oldest_and_markers_cleared():
    clock = FakeClock()
    cluster = FakeCluster(
        3, oldest="n1", markers={m: MARK for m in ("n1", "n2", "n3")}, clock=clock
    )
    failure, roller, lines = roll(cluster, settings(3, timeout=30))
    assert failure is None
    assert [m for m, _a, _k in cluster.funs("service.stop")] == ["n3", "n2", "n1"]
    assert [m for m, _a, _k in cluster.funs("service.start")] == ["n3", "n2", "n1"]
    assert cluster.pids == {"n1": 101, "n2": 101, "n3": 101}
    assert cluster.markers == {}
    assert [row["result"] for row in roller.rows] == ["restarted"] * 3
    assert any("n3 left the cluster" in line for line in lines)
    assert any("n3 started" in line for line in lines)
    assert any("n3 Up and ready" in line for line in lines)
    assert "restarted" in roller.summary()


def test_stop_and_start_target_the_engine_unit_and_one_node_at_a_time():
    cluster = FakeCluster(3, markers={m: MARK for m in ("n2", "n3")})
    failure, _roller, _lines = roll(cluster, settings(3, timeout=30))
    assert failure is None
    stops = cluster.funs("service.stop")
    assert all(args == ("layline-reactive-engine",) for _m, args, _k in stops)
    # the node is stopped, left, started and cleared before the next one is stopped
    order = [
        (m, f)
        for m, f, _a, _k in cluster.calls
        if f in ("service.stop", "service.start", "layline.clear_pending")
    ]
    assert order == [
        ("n3", "service.stop"),
        ("n3", "service.start"),
        ("n3", "layline.clear_pending"),
        ("n2", "service.stop"),
        ("n2", "service.start"),
        ("n2", "layline.clear_pending"),
    ]


def test_stops_at_the_first_node_not_back_and_leaves_later_nodes_untouched():
    clock = FakeClock()
    cluster = FakeCluster(
        4,
        oldest="n1",
        broken={"n3"},
        markers={m: MARK for m in ("n1", "n2", "n3", "n4")},
        clock=clock,
    )
    failure, roller, lines = roll(cluster, settings(4, timeout=20))
    assert failure is not None
    assert failure.startswith("n3: not back within 20 s")
    assert "last lines of n3's engine log" in failure and "last log lines of n3" in failure
    # n4 done, n3 failed, n2 and n1 never touched
    assert [m for m, _a, _k in cluster.funs("service.stop")] == ["n4", "n3"]
    assert cluster.running == {"n1": True, "n2": True, "n3": False, "n4": True}
    assert cluster.pids == {"n1": 100, "n2": 100, "n3": 100, "n4": 101}
    assert set(cluster.markers) == {"n1", "n2", "n3"}
    results = {row["node"]: row["result"] for row in roller.rows}
    assert results["n4"] == "restarted" and results["n3"].startswith("FAILED")
    assert results["n2"] == results["n1"] == "untouched (still pending)"
    assert any("FAILED n3" in line for line in lines)
    # the timeout is respected (about 20 s after the start, not much later)
    assert 20 <= clock.now < 40


def test_marker_cleared_only_after_the_gate_held_two_polls():
    cluster = FakeCluster(3, markers={"n3": MARK})
    failure, _roller, _lines = roll(cluster, settings(3, timeout=30))
    assert failure is None
    start = next(i for i, c in enumerate(cluster.calls) if c[1] == "service.start")
    clear = next(i for i, c in enumerate(cluster.calls) if c[1] == "layline.clear_pending")
    ready_between = [c for c in cluster.calls[start:clear] if c[1] == "layline.ready"]
    assert len(ready_between) >= 2
    assert clear > start


def test_a_broken_node_keeps_its_marker_so_a_rerun_continues():
    cluster = FakeCluster(3, broken={"n3"}, markers={m: MARK for m in ("n2", "n3")})
    failure, _roller, _lines = roll(cluster, settings(3, timeout=10))
    assert failure and failure.startswith("n3")
    assert set(cluster.markers) == {"n2", "n3"}
    cluster.broken.clear()
    cluster.calls.clear()
    cluster.call("n3", "service.start", "layline-reactive-engine")  # the operator fixes n3
    failure, _roller, _lines = roll(cluster, settings(3, timeout=10))
    assert failure is None
    assert [m for m, _a, _k in cluster.funs("service.stop")] == ["n3", "n2"]
    assert cluster.markers == {}


def test_switch_release_between_stop_and_start_when_the_marker_has_a_version():
    cluster = FakeCluster(
        3, markers={"n2": {"reasons": ["version 2.5.4 -> 2.5.5"], "version": "2.5.5"}, "n3": MARK}
    )
    failure, _roller, lines = roll(cluster, settings(3, timeout=30))
    assert failure is None
    switches = cluster.funs("layline_release.switch")
    assert switches == [("n2", (), {"version": "2.5.5"})]
    funs = [
        f
        for m, f, _a, _k in cluster.calls
        if m == "n2" and f in ("service.stop", "layline_release.switch", "service.start")
    ]
    assert funs == ["service.stop", "layline_release.switch", "service.start"]
    assert any("n2 switched to release 2.5.5" in line for line in lines)


def test_two_at_once_when_allowed():
    cluster = FakeCluster(5, oldest="n1", markers={f"n{i}": MARK for i in range(1, 6)})
    failure, _roller, _lines = roll(cluster, settings(5, max_unavailable=2, timeout=30))
    assert failure is None
    assert [m for m, _a, _k in cluster.funs("service.stop")] == ["n5", "n4", "n3", "n2", "n1"]
    assert all(p == 101 for p in cluster.pids.values())


class Context(dict):
    pass


@pytest.fixture
def runner_with(monkeypatch):
    def use(cluster):
        context = Context()
        monkeypatch.setattr(runner, "__context__", context, raising=False)
        monkeypatch.setattr(runner, "__opts__", {}, raising=False)
        monkeypatch.setattr(runner, "SaltClient", lambda opts, timeout=30: cluster)
        monkeypatch.setattr(runner, "_SLEEP", cluster.clock.sleep)
        monkeypatch.setattr(runner, "_CLOCK", cluster.clock)
        return context

    return use


def conf_dict(**rolling):
    return {key: value for key, value in settings(3, **rolling).items()}


def test_runner_sets_a_nonzero_retcode_on_failure(runner_with):
    cluster = FakeCluster(3, broken={"n3"}, markers={"n3": MARK})
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(timeout=5))
    assert ret["result"] is False and context["retcode"] == 1
    assert "rolling restart FAILED at n3" in ret["comment"]


def test_runner_refuses_before_anything_happens(runner_with):
    cluster = FakeCluster(3, markers={"n3": MARK})
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(max_unavailable=2))
    assert ret["result"] is False and context["retcode"] == 1
    assert "largest safe value 1" in ret["comment"]
    assert cluster.funs("service.stop") == []


def test_runner_with_nothing_pending_restarts_nothing(runner_with):
    cluster = FakeCluster(3)
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict())
    assert ret["result"] is True and "retcode" not in context
    assert ret["comment"].startswith("nothing to restart")
    assert cluster.funs("service.stop") == []


def test_runner_success_keeps_retcode_zero(runner_with):
    cluster = FakeCluster(3, markers={"n2": MARK})
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict(timeout=30))
    assert ret["result"] is True and "retcode" not in context
    assert "rolling restart done" in ret["comment"]


def test_runner_refuses_a_unit_with_a_short_stop_timeout(runner_with):
    cluster = FakeCluster(3, markers={"n3": MARK})
    cluster.stop_timeout = "1min"
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict())
    assert ret["result"] is False and context["retcode"] == 1
    assert "TimeoutStopSec" in ret["comment"] and cluster.funs("service.stop") == []


def test_config_server_restarted_after_the_engines_when_pending():
    cluster = FakeCluster(3, markers={"n3": MARK, "cfg": MARK})
    failure, roller, _lines = roll(cluster, settings(3, timeout=30))
    assert failure is None
    order = [
        (m, f)
        for m, f, _a, _k in cluster.calls
        if f in ("service.start", "service.restart", "layline.clear_pending")
    ]
    assert order == [
        ("n3", "service.start"),
        ("n3", "layline.clear_pending"),
        ("cfg", "service.restart"),
        ("cfg", "layline.clear_pending"),
    ]
    assert cluster.funs("service.restart")[0][1] == ("layline-config-server",)
    assert cluster.markers == {}
    assert [row["node"] for row in roller.rows] == ["n3", "cfg"]


def test_a_failed_membership_precheck_asks_no_further_minion(runner_with):
    cluster = FakeCluster(3, markers={"n3": MARK})
    cluster.running["n1"] = False  # n1 is gone: not a member, its minion not asked any more
    context = runner_with(cluster)
    ret = runner.rolling(settings=conf_dict())
    assert ret["result"] is False and context["retcode"] == 1
    assert "not a cluster member: n1" in ret["comment"]
    assert {f for _m, f, _a, _k in cluster.calls} == {"layline.members"}
