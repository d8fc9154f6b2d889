"""Journal backends as seen from /ready."""

from simsupport import MGMT, address, host, http_get, statuses, wait_for


def test_unreachable_mysql_keeps_ready_500(lab):
    url = "jdbc:mysql://127.0.0.1:9/layline?useSSL=false&serverTimezone=UTC"
    proc = lab.engine(1, seeds=(1,), journal=url)
    wait_for(lambda: statuses(1) == {address(1): "Up"}, what="Up")
    wait_for(lambda: "Can't connect to MySQL server" in proc.log(), what="journal error")
    code, body = http_get(f"http://{host(1)}:{MGMT}/ready")
    assert code == 500 and body.startswith("Not Healthy") and "journal" in body
    assert http_get(f"http://{host(1)}:{MGMT}/alive")[0] == 200
    assert "mysql 127.0.0.1:9/layline as layline (no TLS)" in proc.log()
    assert "s3cret-pw" not in proc.log()
