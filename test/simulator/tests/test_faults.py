"""Fault injection of the simulated engine (test/simulator/README.md, "Fault injection")."""

from simsupport import MGMT, address, host, http_get, statuses, wait_for

NEVER_READY = "simulator-never-ready"


def test_never_ready_file_keeps_ready_500_while_the_member_is_up(lab):
    proc = lab.engine(1)
    wait_for(lambda: http_get(f"http://{host(1)}:{MGMT}/ready")[0] == 200, what="ready")
    flag = proc.home / ".layline" / "reactive-engine" / "config" / NEVER_READY
    flag.touch()
    code, body = http_get(f"http://{host(1)}:{MGMT}/ready")
    assert code == 500 and NEVER_READY in body, (code, body)
    assert statuses(1) == {address(1): "Up"}  # Up, only the health check fails
    assert http_get(f"http://{host(1)}:{MGMT}/alive")[0] == 200
    flag.unlink()
    assert http_get(f"http://{host(1)}:{MGMT}/ready")[0] == 200


def test_never_ready_file_at_start_means_up_but_never_ready(lab):
    home = lab.home("node1")
    flag_dir = home / ".layline" / "reactive-engine" / "config"
    flag_dir.mkdir(parents=True, exist_ok=True)
    (flag_dir / NEVER_READY).touch()
    lab.engine(1)
    wait_for(lambda: statuses(1) == {address(1): "Up"}, what="Up")
    for _ in range(3):
        assert http_get(f"http://{host(1)}:{MGMT}/ready")[0] == 500
