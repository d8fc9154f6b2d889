"""Cluster behaviour of simulated engines on 127.0.0.11-13."""

import json
import signal
import time
import urllib.request

from simsupport import MGMT, REST, address, all_up, host, http_get, members, statuses, wait_for


def test_three_engines_form_a_cluster(lab):
    procs = [lab.engine(i) for i in (1, 2, 3)]
    wait_for(lambda: all_up((1, 2, 3), among=(1, 2, 3)), what="3 members Up on every node")
    for i, proc in enumerate(procs, 1):
        assert "[LAY-11000] trying to connect to the cluster" in proc.log()
        assert "[LAY-11001] cluster successfully joined, member status is up" in proc.log()
        doc = members(i)
        assert doc["selfNode"] == address(i)
        assert doc["leader"] == address(1)
        assert doc["unreachable"] == []
        assert all(m["roles"] == ["dc-default"] and m["nodeUid"] for m in doc["members"])
        assert doc["oldestPerRole"] == {"dc-default": doc["oldest"]}
        assert wait_for(
            lambda i=i: http_get(f"http://{host(i)}:{MGMT}/ready")[0] == 200, what="ready"
        )
        status = json.loads(http_get(f"http://{host(i)}:{REST}/engine/status")[1])
        assert status["state"] == "Up" and status["version"] == "2.5.4"
        assert status["address"] == address(i) and status["name"] == host(i)
        code, text = http_get(f"http://{host(i)}:{REST}/engine/prometheus")
        assert code == 200 and 'layline_cluster_members{status="Up"} 3' in text
    # H2 journal rows for own membership changes
    rows = [
        json.loads(line)
        for line in (procs[0].home / ".layline/reactive-engine/database/h2/journal.mv.db")
        .read_text()
        .splitlines()
    ]
    assert [r["sequence_number"] for r in rows][:2] == [1, 2]
    assert {r["persistence_id"] for r in rows} == {"reactive-engine|127.0.0.11"}
    assert [json.loads(r["event_payload"])["status"] for r in rows][:2] == ["Joining", "Up"]
    assert all(r["event_ser_id"] == 1 and r["event_ser_manifest"] == "membership" for r in rows)
    # write routes are read-only by default; passwords never reach the log
    req = urllib.request.Request(
        f"http://{host(1)}:{MGMT}/cluster/members/{address(3)}",
        data=b"operation=Down",
        method="PUT",
    )
    try:
        urllib.request.urlopen(req, timeout=2)  # noqa: S310
        raise AssertionError("PUT accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 405
    assert all("s3cret-pw" not in p.log() for p in procs)


def test_min_nr_of_members_holds_joining(lab):
    lab.engine(1, min_nr=3)
    lab.engine(2, min_nr=3)
    want = {address(1): "Joining", address(2): "Joining"}
    wait_for(lambda: statuses(1) == want and statuses(2) == want, what="2 Joining")
    time.sleep(3)  # well past seed-node-timeout and several leader ticks
    assert statuses(1) == want and statuses(2) == want
    assert http_get(f"http://{host(1)}:{MGMT}/ready")[0] == 500
    lab.engine(3, min_nr=3)
    wait_for(lambda: all_up((1, 2, 3), among=(1, 2, 3)), what="all Up after the third")


def test_sigterm_leaves_gracefully_with_143(lab):
    procs = [lab.engine(i) for i in (1, 2, 3)]
    wait_for(lambda: all_up((1, 2, 3), among=(1, 2, 3)), what="cluster")
    procs[2].kill(signal.SIGTERM)
    assert procs[2].wait(30) == 143
    wait_for(lambda: all_up((1, 2), among=(1, 2)), timeout=15, what="node 3 removed")
    assert "Leaving" in procs[2].log() and "Exiting" in procs[2].log()
    # the leader leaving works too, and the first seed may rejoin via the others
    procs[0].kill(signal.SIGTERM)
    assert procs[0].wait(30) == 143
    wait_for(lambda: all_up((2,), among=(2,)), timeout=15, what="leader left")
    lab.engine(1)
    wait_for(lambda: all_up((1, 2), among=(1, 2)), what="first seed rejoined")
    assert members(1)["oldest"] == address(2)


def test_restarted_node_replaces_old_incarnation(lab):
    procs = [lab.engine(i, provider="") for i in (1, 2, 3)]
    wait_for(lambda: all_up((1, 2, 3), among=(1, 2, 3)), what="cluster")
    old_uid = {m["node"]: m["nodeUid"] for m in members(1)["members"]}[address(3)]
    procs[2].kill(signal.SIGKILL)
    procs[2].wait(10)
    wait_for(
        lambda: any(u["node"] == address(3) for u in members(1)["unreachable"]),
        timeout=15,
        what="node 3 unreachable",
    )
    lab.engine(3, provider="")
    wait_for(
        lambda: all_up((1, 2, 3), among=(1, 2, 3)) and not members(1)["unreachable"],
        what="new incarnation Up",
    )
    new_uid = {m["node"]: m["nodeUid"] for m in members(1)["members"]}[address(3)]
    assert new_uid != old_uid


def test_sbr_keep_majority_downs_a_killed_node(lab):
    procs = [lab.engine(i, stable_after="1s") for i in (1, 2, 3)]
    wait_for(lambda: all_up((1, 2, 3), among=(1, 2, 3)), what="cluster")
    procs[1].kill(signal.SIGKILL)
    wait_for(
        lambda: all_up((1, 3), among=(1, 3)) and not members(1)["unreachable"],
        timeout=20,
        what="SBR removed node 2",
    )
    assert "SBR took decision keep-majority" in procs[0].log()


def test_without_sbr_unreachable_node_stays(lab):
    procs = [lab.engine(i, provider="") for i in (1, 2)]
    wait_for(lambda: all_up((1, 2), among=(1, 2)), what="cluster")
    procs[1].kill(signal.SIGKILL)
    wait_for(lambda: members(1)["unreachable"], timeout=15, what="unreachable")
    time.sleep(3)
    doc = members(1)
    assert doc["unreachable"] == [{"node": address(2), "observedBy": [address(1)]}]
    assert statuses(1) == {address(1): "Up", address(2): "Up"}


def test_incompatible_sbr_strategy_is_refused(lab):
    lab.engine(1)
    lab.engine(2)
    wait_for(lambda: all_up((1, 2), among=(1, 2)), what="cluster of two")
    joiner = lab.engine(3, strategy="keep-oldest")
    wait_for(lambda: "incompatible cluster configuration" in joiner.log(), what="refusal")
    assert "pekko.cluster.split-brain-resolver.active-strategy" in joiner.log()
    time.sleep(3)  # it keeps retrying and never joins
    assert joiner.proc.poll() is None
    assert address(3) not in statuses(1)
    status = json.loads(http_get(f"http://{host(3)}:{REST}/engine/status")[1])
    assert status["state"] == "Starting"
    assert http_get(f"http://{host(3)}:{MGMT}/ready")[0] == 500
