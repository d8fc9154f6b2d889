"""A network partition, as Pekko handles it: the split-brain resolver downs the minority;
what the downed process does next depends on ``coordinated-shutdown.exit-jvm``.

The partition is the simulator's fault injection (LAYLINE_SIM_BLOCKED: the isolated node
neither sends to nor answers the listed peers). A restart is what systemd's Restart= does:
the same node started again.
"""

import time

from simsupport import MGMT, REST, address, all_up, host, http_get, statuses, wait_for

EXIT_JVM = "pekko.coordinated-shutdown.exit-jvm = on"


def _isolate(tmp_path, name, *peers):
    """A LAYLINE_SIM_BLOCKED file cutting a node off from ``peers``; returns (env, file)."""
    path = tmp_path / f"blocked-{name}"
    path.write_text("".join(f"{host(i)}\n" for i in peers))
    return {"LAYLINE_SIM_BLOCKED": str(path)}, path


def _cluster(lab, extra, isolated, env):
    procs = {
        i: lab.engine(i, stable_after="1s", extra=extra, env=env if i == isolated else None)
        for i in (1, 2, 3)
    }
    wait_for(lambda: all_up((1, 2, 3), among=(1, 2, 3)), what="3 members Up")
    return procs


def test_downed_member_exits_with_pekkos_code_and_rejoins_when_restarted(lab, tmp_path):
    env, cut = _isolate(tmp_path, "node3", 1, 2)
    cut.write_text("")  # connected while the cluster forms
    procs = _cluster(lab, EXIT_JVM, 3, env)
    cut.write_text(f"{host(1)}\n{host(2)}\n")
    # both sides decide: the majority downs node 3, node 3's own resolver downs itself
    assert procs[3].wait(30) == 255, procs[3].log()  # System.exit(-1): ClusterDowningReason
    wait_for(lambda: all_up((1, 2), among=(1, 2)), timeout=20, what="node 3 removed")
    log = procs[3].log()
    assert "has been downed" in log and "exiting the JVM with code 255" in log
    # restarted while still cut off: it keeps trying the seed nodes, never joins itself
    again = lab.engine(3, stable_after="1s", extra=EXIT_JVM, env=env)
    time.sleep(4)  # well past seed-node-timeout (1 s): several join rounds
    assert again.proc.poll() is None, again.stderr() + again.log()[-3000:]
    assert "JOINING itself" not in again.log().split("starting, config")[-1]
    assert http_get(f"http://{host(3)}:{MGMT}/ready")[0] == 500
    assert address(3) not in statuses(1)
    # link back: the new incarnation joins through the seeds, nobody else did anything
    cut.write_text("")
    wait_for(lambda: all_up((1, 2, 3), among=(1, 2, 3)), timeout=30, what="node 3 rejoined")
    assert procs[1].proc.poll() is None and procs[2].proc.poll() is None


def test_without_exit_jvm_a_downed_member_lingers_as_no_member(lab, tmp_path):
    env, cut = _isolate(tmp_path, "node3", 1, 2)
    cut.write_text("")
    procs = _cluster(lab, "", 3, env)
    cut.write_text(f"{host(1)}\n{host(2)}\n")
    wait_for(lambda: "exit-jvm is off" in procs[3].log(), timeout=30, what="node 3 downed")
    wait_for(lambda: all_up((1, 2), among=(1, 2)), timeout=20, what="node 3 removed")
    cut.write_text("")
    time.sleep(5)  # the link is back for several gossip rounds
    assert procs[3].proc.poll() is None  # the zombie: a process, but no member
    assert statuses(1) == {address(1): "Up", address(2): "Up"}
    assert http_get(f"http://{host(3)}:{MGMT}/alive")[0] is None  # actor system gone
    assert http_get(f"http://{host(3)}:{REST}/engine/status")[0] is None


def test_run_coordinated_shutdown_when_down_off_keeps_http_with_the_node_down(lab, tmp_path):
    env, cut = _isolate(tmp_path, "node3", 1, 2)
    cut.write_text("")
    procs = _cluster(
        lab, "pekko.cluster.run-coordinated-shutdown-when-down = off\n" + EXIT_JVM, 3, env
    )
    cut.write_text(f"{host(1)}\n{host(2)}\n")
    wait_for(
        lambda: "the cluster extension stopped" in procs[3].log(), timeout=30, what="node 3 downed"
    )
    time.sleep(1)
    assert procs[3].proc.poll() is None  # exit-jvm alone does not exit: nothing ran it
    assert statuses(3)[address(3)] == "Down"
    assert http_get(f"http://{host(3)}:{MGMT}/ready")[0] == 500


def test_first_seed_restarted_while_isolated_forms_an_island(lab, tmp_path):
    """Pekko's rule (the reason for the formula's seed gate): the first seed node, started
    while no other seed answers, joins itself after seed-node-timeout - and the two
    clusters never merge once the network is back."""
    env, cut = _isolate(tmp_path, "node1", 2, 3)
    cut.write_text("")
    procs = _cluster(lab, EXIT_JVM, 1, env)
    cut.write_text(f"{host(2)}\n{host(3)}\n")
    assert procs[1].wait(30) == 255, procs[1].log()
    wait_for(lambda: all_up((2, 3), among=(2, 3)), timeout=20, what="node 1 removed")
    island = lab.engine(1, stable_after="1s", extra=EXIT_JVM, env=env)
    wait_for(lambda: all_up((1,), among=(1,)), timeout=20, what="node 1 alone Up")
    assert "JOINING itself" in island.log()
    cut.write_text("")
    time.sleep(5)
    assert all_up((1,), among=(1,)) and all_up((2, 3), among=(2, 3))  # two clusters
