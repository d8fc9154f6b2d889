"""TLS against a real MariaDB: Salt's own connection (layline_db) and the simulated engine
verify the server certificate against the cluster CA and its name; a server presenting a
certificate for another name is refused by both, with a message that says why; accounts
with REQUIRE SSL refuse a plain client."""

import base64
import pathlib
import shutil
import sys

import pymysql
import pytest
from pkisupport import CA

SIM_TESTS = pathlib.Path(__file__).resolve().parents[2] / "simulator" / "tests"
sys.path.insert(0, str(SIM_TESTS))
from simsupport import (  # noqa: E402
    MGMT,
    address,
    dist,  # noqa: F401 - fixture
    engine_conf,
    host,
    http_get,
    install_dir,  # noqa: F401 - fixture
    lab,  # noqa: F401 - fixture
    statuses,
    wait_for,
)

ROOT = pathlib.Path(__file__).resolve().parents[3]
DDL = ROOT / "test/simulator/payload/scripts/sql/mysql/persistence-schema.sql"
ROOT_SOCKET_ARGS = ("connection_unix_socket", "connection_user")


@pytest.fixture
def tls_config(mariadb, dbconfig, tmp_path):
    """dbconfig with database:tls verify-identity; the cluster CA in <config_dir>/tls."""
    (tmp_path / "tls").mkdir()
    shutil.copy(mariadb.ca.path, tmp_path / "tls" / "ca.crt")
    config = {
        "database": dict(dbconfig["database"], tls="verify-identity"),
        "config_dir": str(tmp_path),
    }
    return config


@pytest.fixture
def other_name(mariadb):
    """The server presents a certificate from the same CA for another host name; the
    right one is back afterwards."""
    cert, key = mariadb.ca.issue("other", ["ll-other.orb.local", "10.99.0.1"])
    mariadb.use_certificate(cert, key)
    try:
        yield
    finally:
        mariadb.use_certificate(mariadb.server_cert, mariadb.server_key)


def _root_args(mariadb):
    return {"connection_unix_socket": mariadb.socket, "connection_user": "root"}


def test_salt_connection_is_tls_verified(mariadb, tls_config, layline_db):
    ok, message = layline_db.check_connection(tls_config)
    assert ok, message
    conn = layline_db._connect(tls_config)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            cipher = cur.fetchone()[1]
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
            version = cur.fetchone()[1]
    finally:
        conn.close()
    assert cipher and version in ("TLSv1.2", "TLSv1.3")


@pytest.mark.usefixtures("other_name")
def test_salt_connection_refuses_a_certificate_for_another_name(mariadb, tls_config, layline_db):
    ok, message = layline_db.check_connection(tls_config)
    assert not ok
    assert "certificate verify failed" in message and "127.0.0.1" in message
    assert "not valid for 127.0.0.1" in message and "layline.tls" in message
    assert tls_config["database"]["password"] not in message
    plain = dict(tls_config, database=dict(tls_config["database"], tls="disabled"))
    assert layline_db.check_connection(plain)[0]  # the server itself is fine


def test_require_ssl_refuses_a_plain_client(mariadb, tls_config, layline_db):
    db = tls_config["database"]
    root = _root_args(mariadb)
    assert layline_db.account_requires_tls(db["user"], "127.0.0.1", **root) is False
    layline_db.set_account_tls(db["user"], "127.0.0.1", True, **root)
    assert layline_db.account_requires_tls(db["user"], "127.0.0.1", **root) is True
    with pytest.raises(pymysql.err.OperationalError) as info:
        pymysql.connect(
            host="127.0.0.1",
            port=db["port"],
            user=db["user"],
            password=db["password"],
            ssl_disabled=True,
        )
    assert info.value.args[0] == 1045
    assert layline_db.check_connection(tls_config)[0]
    assert layline_db.account_requires_tls(db["user"], "nowhere.example", **root) is None


def _tls_engine(lab, layline_db, tls_config, tmp_path):  # noqa: F811 - the lab fixture
    db = tls_config["database"]
    store = tmp_path / "truststore.jks"
    ca = pathlib.Path(tls_config["config_dir"]) / "tls" / "ca.crt"
    store.write_bytes(base64.b64decode(layline_db.truststore_data(str(ca))))
    url = (
        f"jdbc:mysql://127.0.0.1:{db['port']}/{db['name']}?sslMode=VERIFY_IDENTITY"
        f"&trustCertificateKeyStoreUrl=file:{store}&trustCertificateKeyStoreType=JKS"
        "&trustCertificateKeyStorePassword=changeit&serverTimezone=UTC"
    )
    credentials = (
        f"pekko-persistence-jdbc.shared-databases.mysql.db "
        f'{{ user = "{db["user"]}", password = "{db["password"]}" }}'
    )
    return lab.engine(1, conf=engine_conf(1, seeds=(1,), journal=url, extra=credentials))


def _ready():
    return http_get(f"http://{host(1)}:{MGMT}/ready")[0]


def test_engine_journal_is_tls_and_refuses_another_name(
    mariadb,
    tls_config,
    layline_db,
    lab,  # noqa: F811 - the fixture
    tmp_path,
):
    layline_db.apply_schema(tls_config, str(DDL))
    db = tls_config["database"]
    layline_db.set_account_tls(db["user"], "127.0.0.1", True, **_root_args(mariadb))
    cert, key = mariadb.ca.issue("other", ["ll-other.orb.local"])
    mariadb.use_certificate(cert, key)
    try:
        engine = _tls_engine(lab, layline_db, tls_config, tmp_path)
        wait_for(lambda: statuses(1) == {address(1): "Up"}, timeout=90, what="engine Up")
        refused = (
            "Server identity verification failed. None of the DNS or IP Subject "
            "Alternative Name entries matched the server hostname/IP '127.0.0.1'"
        )
        wait_for(lambda: refused in engine.log(), what="the refused server in the log")
        assert _ready() == 500
    finally:
        mariadb.use_certificate(mariadb.server_cert, mariadb.server_key)
    wait_for(lambda: _ready() == 200, timeout=60, what="/ready 200 with the right certificate")
    threads = mariadb.sql(
        "SELECT s.VARIABLE_VALUE FROM performance_schema.status_by_thread s"
        " JOIN performance_schema.threads t ON t.THREAD_ID = s.THREAD_ID"
        " WHERE t.PROCESSLIST_USER = %s AND s.VARIABLE_NAME = 'Ssl_cipher'",
        (db["user"],),
    )
    assert threads and all(cipher for (cipher,) in threads), threads
    assert "host name verified" in engine.log()
    assert db["password"] not in engine.log()


def _tls_login(db, ca, cert=None, key=None):
    """A TLS login as the layline account, offering ``cert`` (a client certificate)."""
    ssl = {"ca": str(ca)}
    if cert:
        ssl.update(cert=str(cert), key=str(key))
    conn = pymysql.connect(
        host="127.0.0.1",
        port=db["port"],
        user=db["user"],
        password=db["password"],
        ssl=ssl,
        connect_timeout=5,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            return cur.fetchone()[1]
    finally:
        conn.close()


@pytest.mark.parametrize("clause", ["SSL", "X509"])
def test_a_client_certificate_from_a_foreign_ca_is_refused(
    mariadb, tls_config, layline_db, tmp_path, clause
):
    """A certificate signed by another CA, even one with the cluster CA's own name, never
    logs in; one from the cluster CA does (REQUIRE X509: the certificate is mandatory)."""
    db = tls_config["database"]
    root = _root_args(mariadb)
    layline_db.set_account_tls(db["user"], "127.0.0.1", True, **root)
    if clause == "X509":
        mariadb.sql(f"ALTER USER '{db['user']}'@'127.0.0.1' REQUIRE X509")
        with pytest.raises(pymysql.err.OperationalError) as info:
            _tls_login(db, mariadb.ca.path)  # no certificate at all
        assert info.value.args[0] == 1045
    ours = mariadb.ca.issue("client-ours", ["ll-node-1.example.com"])
    assert _tls_login(db, mariadb.ca.path, *ours)
    foreign = CA(tmp_path / "foreign", common_name="layline test CA")  # same name, other key
    theirs = foreign.issue("client-theirs", ["ll-node-1.example.com"])
    with pytest.raises(pymysql.err.OperationalError) as info:
        _tls_login(db, mariadb.ca.path, *theirs)
    # the server ends the TLS handshake (pymysql: 2006, SSLEOFError): no login attempt
    assert info.value.args[0] in (2006, 2013) and "SSL" in info.value.args[1], info.value.args
    assert layline_db.account_requires_tls(db["user"], "127.0.0.1", **root) is True


def test_a_client_trusting_a_foreign_ca_refuses_the_server(
    mariadb, tls_config, layline_db, tmp_path
):
    """Salt's own connection with a CA file from another CA (same name): the server's
    certificate does not verify, and the message says so without the password."""
    foreign = CA(tmp_path / "foreign", common_name="layline test CA")
    shutil.copy(foreign.path, pathlib.Path(tls_config["config_dir"]) / "tls" / "ca.crt")
    ok, message = layline_db.check_connection(tls_config)
    assert not ok and "certificate verify failed" in message, message
    assert tls_config["database"]["password"] not in message
