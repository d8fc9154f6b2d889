"""The rolling restart's planner (_runners/layline.py): order, waves, the SBR bound, refusals."""

import pytest
from rollingsupport import address, runner, settings, view

import layline_plan

STRATEGIES = ["keep-majority", "static-quorum", "keep-oldest", "down-all"]


# The largest wave k (engines restarting at once) out of N, written from Pekko's documented
# split-brain resolver rules (pekko.apache.org/docs/pekko/current/split-brain-resolver.html),
# NOT from the planner's code. While k members are gone, the rest must still win the
# resolver's decision should a failure make them unreachable:
#   keep-majority: the side with MORE THAN HALF the members survives: N - k > N/2;
#   static-quorum: a side with AT LEAST quorum-size members survives: N - k >= quorum-size;
#   keep-oldest:   the side with the oldest survives; the oldest goes last and alone: k <= N-1;
#   down-all:      any unreachability downs every member: one at a time;
#   min-nr-of-members: fewer members than that leave joiners Joining: N - k >= min_nr.
# One node at a time is always allowed (a graceful leave is no downing decision).
# N:                        1  2  3  4  5  6  7  8  9
KEEP_MAJORITY = dict(zip(range(1, 10), [1, 1, 1, 1, 2, 2, 3, 3, 4], strict=True))
KEEP_OLDEST = dict(zip(range(1, 10), [1, 1, 2, 3, 4, 5, 6, 7, 8], strict=True))
DOWN_ALL = dict.fromkeys(range(1, 10), 1)
# static-quorum with the majority quorum (N//2 + 1) the loop tests use
STATIC_MAJORITY = dict(zip(range(1, 10), [1, 1, 1, 1, 2, 2, 3, 3, 4], strict=True))
TABLE = {
    "keep-majority": KEEP_MAJORITY,
    "static-quorum": STATIC_MAJORITY,
    "keep-oldest": KEEP_OLDEST,
    "down-all": DOWN_ALL,
}
# (strategy, N, quorum_size, min_nr_of_members) -> k, other quorum sizes and min_nr > 1
SBR_CASES = [
    ("static-quorum", 3, 2, 1, 1),
    ("static-quorum", 4, 3, 1, 1),
    ("static-quorum", 5, 3, 1, 2),
    ("static-quorum", 5, 4, 1, 1),
    ("static-quorum", 6, 4, 1, 2),
    ("static-quorum", 7, 4, 1, 3),
    ("static-quorum", 7, 2, 1, 5),
    ("static-quorum", 7, 4, 5, 2),
    ("keep-majority", 7, None, 5, 2),
    ("keep-majority", 7, None, 6, 1),
    ("keep-majority", 7, None, 7, 1),
    ("keep-oldest", 5, None, 3, 2),
    ("keep-oldest", 7, None, 2, 5),
    ("keep-oldest", 3, None, 3, 1),
    ("down-all", 7, None, 2, 1),
]


def expected_bound(count, strategy, quorum, min_nr):
    """The table's k; min_nr_of_members only in the combinations written out above."""
    assert quorum in (None, count // 2 + 1) and min_nr == 1
    return TABLE[strategy][count]


@pytest.mark.parametrize(("strategy", "count", "quorum", "min_nr", "k"), SBR_CASES)
def test_largest_safe_wave_matches_pekkos_rules(strategy, count, quorum, min_nr, k):
    safe, why, _notes = layline_plan.largest_safe(count, strategy, quorum, min_nr)
    assert safe == k, why


def minions(count):
    return [f"n{i}" for i in range(1, count + 1)]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("count", range(1, 10))
def test_largest_safe_wave_for_every_strategy_and_size(strategy, count):
    quorum = count // 2 + 1
    safe, why, notes = layline_plan.largest_safe(count, strategy, quorum, 1)
    assert safe == expected_bound(count, strategy, quorum, 1), (count, why)
    assert ("full outage" in " ".join(notes)) == (count == 1)
    # min_nr_of_members = N leaves no margin: one at a time
    assert layline_plan.largest_safe(count, strategy, quorum, count)[0] == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("count", range(1, 10))
def test_waves_all_nodes_once_oldest_last_and_alone_bounded(strategy, count):
    quorum = count // 2 + 1
    safe = expected_bound(count, strategy, quorum, 1)
    names = minions(count)
    oldest = names[count // 2]
    conf = settings(count, strategy, quorum_size=quorum, max_unavailable=safe, all=True)
    plan = layline_plan.build_plan(conf, view(names, oldest=oldest), {}, dict.fromkeys(names, True))
    assert plan["refused"] == []
    waves = plan["waves"]
    assert sorted(m for wave in waves for m in wave) == names
    assert waves[-1] == [oldest]
    assert all(1 <= len(wave) <= safe for wave in waves)
    if count > 1:
        # never every seed node (every engine is a seed) at once: another one stays Up
        assert all(len(wave) < count for wave in waves)
    if strategy == "keep-oldest":
        assert all(oldest not in wave for wave in waves[:-1])


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("count", range(1, 10))
def test_max_unavailable_above_the_bound_is_refused_with_the_largest_safe_value(strategy, count):
    quorum = count // 2 + 1
    safe = expected_bound(count, strategy, quorum, 1)
    names = minions(count)
    conf = settings(count, strategy, quorum_size=quorum, max_unavailable=safe + 1, all=True)
    plan = layline_plan.build_plan(conf, view(names), {}, dict.fromkeys(names, True))
    assert len(plan["refused"]) == 1
    assert (
        f"max_unavailable {safe + 1} is above the largest safe value {safe}" in plan["refused"][0]
    )
    assert "REFUSED" in plan["text"]


def test_keep_majority_five_nodes_allows_two_at_once_oldest_alone():
    names = minions(5)
    conf = settings(5, max_unavailable=2, all=True)
    plan = layline_plan.build_plan(conf, view(names, oldest="n1"), {}, dict.fromkeys(names, True))
    assert plan["waves"] == [["n5", "n4"], ["n3", "n2"], ["n1"]]


def test_min_nr_of_members_bounds_the_wave():
    names = minions(5)
    conf = settings(5, min_nr=4, max_unavailable=2, all=True)
    plan = layline_plan.build_plan(conf, view(names), {}, dict.fromkeys(names, True))
    assert "min_nr_of_members 4" in plan["refused"][0]


def test_order_not_ready_first_then_newest_to_oldest():
    names = minions(4)
    markers = {m: {"reasons": ["configuration changed"], "version": None} for m in names}
    ready = {"n1": True, "n2": True, "n3": True, "n4": True}
    ready["n2"] = False
    plan = layline_plan.build_plan(settings(4), view(names, oldest="n3"), markers, ready)
    assert plan["waves"] == [["n2"], ["n4"], ["n1"], ["n3"]]
    assert [n["ready"] for n in plan["nodes"]] == [False, True, True, True]
    assert "not ready" in plan["text"] and "oldest member" in plan["text"]


def test_only_nodes_with_a_marker_with_their_reasons_and_version():
    names = minions(3)
    markers = {"n2": {"reasons": ["version 2.5.4 -> 2.5.5"], "version": "2.5.5"}, "n3": None}
    plan = layline_plan.build_plan(settings(3), view(names), markers, dict.fromkeys(names, True))
    assert plan["waves"] == [["n2"]]
    assert plan["nodes"][0]["version"] == "2.5.5"
    assert "version 2.5.4 -> 2.5.5" in plan["text"] and "switch to 2.5.5" in plan["text"]


def test_nothing_pending_says_so():
    names = minions(3)
    plan = layline_plan.build_plan(settings(3), view(names), {}, dict.fromkeys(names, True))
    assert plan["waves"] == [] and plan["refused"] == []
    assert plan["text"].startswith("nothing to restart")


def test_all_restarts_every_engine_not_the_config_server():
    names = minions(3)
    plan = layline_plan.build_plan(
        settings(3, all=True), view(names), {}, dict.fromkeys(names, True)
    )
    assert sorted(m for w in plan["waves"] for m in w) == names
    assert plan["config_server"] is None


def test_config_server_marker_restarts_it_after_the_engines():
    names = minions(3)
    plan = layline_plan.build_plan(
        settings(3),
        view(names),
        {},
        dict.fromkeys(names, True),
        {"reasons": ["configuration changed"], "version": None},
    )
    assert plan["waves"] == []
    assert plan["config_server"]["reasons"] == ["configuration changed"]


@pytest.mark.parametrize(
    ("cluster_view", "needle"),
    [
        (view(["n1", "n2"]), "not a cluster member: n3"),
        (view(["n1", "n2", "n3"], status={"n3": "Joining"}), "not Up: n3 (Joining)"),
        (view(["n1", "n2", "n3"], unreachable=["n2"]), "unreachable: n2"),
        (view(["n1", "n2", "n3"], leader=False), "no leader"),
        (
            view(["n1", "n2", "n3"], extra=["pekko://layline@old.example.com:5843"]),
            "members not in layline:cluster:nodes: pekko://layline@old.example.com:5843",
        ),
        (None, "no engine answered"),
    ],
)
def test_precheck_refuses_naming_the_nodes(cluster_view, needle):
    names = minions(3)
    plan = layline_plan.build_plan(
        settings(3, all=True), cluster_view, {}, dict.fromkeys(names, True)
    )
    assert any(needle in reason for reason in plan["refused"]), plan["refused"]
    assert needle in plan["text"]


def test_healthy_cluster_passes_the_precheck():
    assert layline_plan.precheck(settings(3), view(minions(3))) == []


@pytest.mark.parametrize("value", [0, -1, "2", True, 1.5])
def test_bad_max_unavailable_is_an_error(value):
    names = minions(3)
    with pytest.raises(runner.SaltInvocationError, match="layline:rolling:max_unavailable"):
        layline_plan.build_plan(settings(3, max_unavailable=value), view(names), {}, {})


def test_addresses_are_compared_case_insensitively():
    names = minions(3)
    cluster_view = view(names)
    cluster_view["members"][0]["node"] = address("n1").upper().replace("PEKKO", "pekko")
    assert layline_plan.precheck(settings(3), cluster_view) == []


def old_jinja_deploy(nodes, min_nr, database, server):
    """The order the former Jinja of layline/orch/deploy.sls produced."""
    steps, last = [], None
    if database:
        steps.append(("layline-orch-deploy-salt-state-database", last))
        last = steps[-1][0]
    if server:
        steps.append(("layline-orch-deploy-salt-state-config-server", last))
        last = steps[-1][0]
    for position, node in enumerate(nodes, 1):
        deployed = f"layline-orch-deploy-salt-state-{node}"
        steps.append((deployed, last))
        last = deployed
        if position >= min_nr:
            for check in nodes[:position] if position == min_nr else [node]:
                steps.append((f"layline-orch-deploy-salt-function-ready-{check}", deployed))
                last = steps[-1][0]
    return steps


@pytest.mark.parametrize("count", range(0, 5))
@pytest.mark.parametrize("min_nr", [1, 2, 3])
@pytest.mark.parametrize("database", [True, False])
def test_deploy_steps_keep_the_former_order(count, min_nr, database):
    nodes = minions(count)
    config = {
        "database": {"backend": "mysql" if database else "h2", "minion": "db"},
        "config_server": {"minion": "cfg"},
        "cluster": {"nodes": [{"minion": m} for m in nodes], "min_nr_of_members": min_nr},
    }
    steps = layline_plan.deploy_steps(config)
    assert [(s["id"], s["require"]) for s in steps] == old_jinja_deploy(
        nodes, min_nr, database, True
    )
    minion_of = {s["id"]: s["minion"] for s in steps}
    assert minion_of.get("layline-orch-deploy-salt-state-config-server") == "cfg"
    assert all(s["kind"] == ("ready" if "ready" in s["id"] else "state") for s in steps)


@pytest.mark.parametrize(
    ("tls", "first"),
    [
        ({"enabled": True, "ca_minion": "cfg"}, ("layline-orch-deploy-salt-state-tls-ca", "cfg")),
        ({"enabled": True, "ca_minion": "db"}, ("layline-orch-deploy-salt-state-database", "db")),
        ({"enabled": False, "ca_minion": "cfg"}, ("layline-orch-deploy-salt-state-database", "db")),
    ],
)
def test_deploy_makes_the_ca_before_the_database_needs_it(tls, first):
    config = {
        "database": {"backend": "mysql", "minion": "db"},
        "config_server": {"minion": "cfg"},
        "cluster": {"nodes": [{"minion": "n1"}], "min_nr_of_members": 1},
        "tls": tls,
    }
    steps = layline_plan.deploy_steps(config)
    assert (steps[0]["id"], steps[0]["minion"]) == first
    assert steps[0]["require"] is None and steps[1]["require"] == steps[0]["id"]
    assert [s["kind"] for s in steps].count("tls") == (first[1] == "cfg")


@pytest.mark.parametrize(("monitor", "extra_step"), [("mon", True), ("db", False), ("n1", False)])
def test_a_monitoring_minion_without_another_role_is_deployed_last(monitor, extra_step):
    config = {
        "database": {"backend": "mysql", "minion": "db"},
        "config_server": {"minion": "cfg"},
        "cluster": {"nodes": [{"minion": "n1"}, {"minion": "n2"}], "min_nr_of_members": 1},
        "monitoring": {"minion": monitor},
    }
    steps = layline_plan.deploy_steps(config)
    before = layline_plan.deploy_steps({**config, "monitoring": {"minion": None}})
    if extra_step:
        assert steps[:-1] == before
        assert steps[-1] == {
            "id": "layline-orch-deploy-salt-state-monitoring",
            "kind": "state",
            "minion": "mon",
            "require": before[-1]["id"],
        }
    else:
        assert steps == before


def test_unreadable_markers_are_refused_naming_the_node():
    names = minions(3)
    markers = {"n2": {"error": "cannot read the restart markers of n2: n2 did not answer"}}
    plan = layline_plan.build_plan(settings(3), view(names), markers, dict.fromkeys(names, True))
    assert plan["refused"] == ["cannot read the restart markers of n2: n2 did not answer"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1min 30s", 90),
        ("90s", 90),
        ("1min", 60),
        ("2min 500ms", 120.5),
        ("infinity", float("inf")),
        ("", None),
        ("soon", None),
        ("5x", None),
    ],
)
def test_systemd_timespans(text, seconds):
    assert layline_plan.timespan_seconds(text) == seconds


def test_a_short_unit_stop_timeout_is_refused_naming_the_engine():
    names = minions(3)
    markers = {m: {"reasons": ["x"], "version": None} for m in names}
    timeouts = {"n1": "1min 30s", "n2": "1min", "n3": "1min 30s"}
    plan = layline_plan.build_plan(
        settings(3), view(names), markers, dict.fromkeys(names, True), None, timeouts
    )
    assert len(plan["refused"]) == 1 and "n2 (1min)" in plan["refused"][0]
    # an engine that restarts nothing is not held against the plan
    plan = layline_plan.build_plan(
        settings(3), view(names), {"n1": markers["n1"]}, dict.fromkeys(names, True), None, timeouts
    )
    assert plan["refused"] == []


def test_a_transport_change_is_refused_as_a_full_cluster_restart():
    names = minions(3)
    reason = (
        "full cluster restart needed: Artery transport tcp -> tls-tcp (members with "
        "different transports cannot talk)"
    )
    markers = {
        "n1": {"reasons": [reason]},
        "n2": {"reasons": ["configuration changed"]},
        "n3": None,
    }
    plan = layline_plan.build_plan(settings(3), view(names), markers, dict.fromkeys(names, True))
    assert plan["refused"] == [
        f"n1: {reason}: stop every engine, then start them all (README, "
        "TLS), then clear the markers (layline.clear_pending "
        "layline-reactive-engine)"
    ]
    assert "REFUSED" in plan["text"] and reason in plan["text"]
