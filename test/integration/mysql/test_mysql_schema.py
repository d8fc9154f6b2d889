"""layline_db against a real MariaDB (started by conftest.py on 127.0.0.1)."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest
from salt.exceptions import CommandExecutionError

ROOT = pathlib.Path(__file__).resolve().parents[3]
DDL = (
    pathlib.Path(__file__).resolve().parents[3]
    / "test"
    / "simulator"
    / "payload"
    / "scripts"
    / "sql"
    / "mysql"
    / "persistence-schema.sql"
)  # the DDL the distribution ships

REQUIRED = ["event_journal", "event_tag", "snapshot"]


def _tables(mariadb, config):
    rows = mariadb.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        (config["database"]["name"],),
    )
    return sorted(r[0] for r in rows)


def _indexes(mariadb, config, table):
    rows = mariadb.sql(
        "SELECT DISTINCT index_name FROM information_schema.statistics"
        " WHERE table_schema = %s AND table_name = %s",
        (config["database"]["name"], table),
    )
    return sorted(r[0] for r in rows)


def _insert_journal(mariadb, config, count):
    db = config["database"]["name"]
    for seq in range(1, count + 1):
        mariadb.sql(
            f"INSERT INTO {db}.event_journal (persistence_id, sequence_number, writer,"  # noqa: S608
            " write_timestamp, adapter_manifest, event_payload, event_ser_id,"
            " event_ser_manifest) VALUES (%s, %s, 'w', 1, '', %s, 1, 'membership')",
            ("reactive-engine|ll-node-1.orb.local", seq, json.dumps({"seq": seq}).encode()),
        )


def _journal(mariadb, config):
    db = config["database"]["name"]
    return mariadb.sql(
        f"SELECT ordering, persistence_id, sequence_number, event_payload"  # noqa: S608
        f" FROM {db}.event_journal ORDER BY ordering"
    )


def test_apply_on_empty_database(mariadb, dbconfig, layline_db):
    assert layline_db.missing_tables(dbconfig) == REQUIRED
    result = layline_db.apply_schema(dbconfig, str(DDL))
    assert result == {
        "created_tables": REQUIRED,
        "created_indexes": ["event_journal.event_journal_ordering_idx"],
    }
    assert _tables(mariadb, dbconfig) == REQUIRED
    assert "event_journal_ordering_idx" in _indexes(mariadb, dbconfig, "event_journal")
    assert layline_db.missing_tables(dbconfig) == []


def test_reapply_keeps_rows_and_creates_nothing(mariadb, dbconfig, layline_db):
    layline_db.apply_schema(dbconfig, str(DDL))
    _insert_journal(mariadb, dbconfig, 5)
    before = _journal(mariadb, dbconfig)
    assert len(before) == 5
    # Replaying the raw file would fail on the unique index: prove the premise.
    with pytest.raises(Exception, match="Duplicate key name"):
        for stmt in layline_db.schema_statements(str(DDL)):
            mariadb.sql(stmt, database=dbconfig["database"]["name"])
    assert layline_db.plan_schema(dbconfig, str(DDL)) == []
    assert layline_db.apply_schema(dbconfig, str(DDL)) == {
        "created_tables": [],
        "created_indexes": [],
    }
    assert _journal(mariadb, dbconfig) == before


def test_one_dropped_table_is_recreated_alone(mariadb, dbconfig, layline_db):
    layline_db.apply_schema(dbconfig, str(DDL))
    _insert_journal(mariadb, dbconfig, 3)
    before = _journal(mariadb, dbconfig)
    mariadb.sql(f"DROP TABLE {dbconfig['database']['name']}.snapshot")
    assert layline_db.missing_tables(dbconfig) == ["snapshot"]
    result = layline_db.apply_schema(dbconfig, str(DDL))
    assert result == {"created_tables": ["snapshot"], "created_indexes": []}
    assert _tables(mariadb, dbconfig) == REQUIRED
    assert _journal(mariadb, dbconfig) == before


def test_dropped_index_is_recreated_alone(mariadb, dbconfig, layline_db):
    layline_db.apply_schema(dbconfig, str(DDL))
    _insert_journal(mariadb, dbconfig, 2)
    db = dbconfig["database"]["name"]
    mariadb.sql(f"DROP INDEX event_journal_ordering_idx ON {db}.event_journal")
    result = layline_db.apply_schema(dbconfig, str(DDL))
    assert result == {
        "created_tables": [],
        "created_indexes": ["event_journal.event_journal_ordering_idx"],
    }
    assert len(_journal(mariadb, dbconfig)) == 2


def test_state_test_mode_creates_nothing(mariadb, dbconfig, layline_db_state):
    layline_db_state.__opts__["test"] = True
    ret = layline_db_state.schema_present(str(DDL), dbconfig)
    assert ret["result"] is None
    assert "event_journal, event_tag, snapshot" in ret["comment"]
    assert _tables(mariadb, dbconfig) == []


def test_state_applies_then_is_clean(mariadb, dbconfig, layline_db_state):
    ret = layline_db_state.schema_present(str(DDL), dbconfig)
    assert ret["result"] is True, ret
    assert ret["changes"]["created_tables"] == REQUIRED
    assert ret["changes"]["created_indexes"] == ["event_journal.event_journal_ordering_idx"]
    ret = layline_db_state.schema_present(str(DDL), dbconfig)
    assert ret["result"] is True and ret["changes"] == {}, ret
    layline_db_state.__opts__["test"] = True
    ret = layline_db_state.schema_present(str(DDL), dbconfig)
    assert ret["result"] is True and ret["changes"] == {}, ret


def test_state_missing_tables_error_names_them(mariadb, dbconfig, layline_db_state, tmp_path):
    partial = tmp_path / "partial.sql"
    partial.write_text(DDL.read_text().split("CREATE TABLE IF NOT EXISTS event_tag")[0])
    ret = layline_db_state.schema_present(str(partial), dbconfig)
    assert ret["result"] is False
    assert "event_tag, snapshot" in ret["comment"]
    assert ret["changes"]["created_tables"] == ["event_journal"]


def test_wrong_password_clear_error_without_password(mariadb, dbconfig, layline_db):
    wrong = "Wr0ng-" + dbconfig["database"]["password"]
    bad = {"database": dict(dbconfig["database"], password=wrong)}
    ok, msg = layline_db.check_connection(bad)
    assert ok is False
    assert "Access denied" in msg
    assert f"127.0.0.1:{mariadb.port}" in msg and dbconfig["database"]["user"] in msg
    assert wrong not in msg and dbconfig["database"]["password"] not in msg
    with pytest.raises(CommandExecutionError) as err:
        layline_db.apply_schema(bad, str(DDL))
    assert wrong not in str(err.value) and "Access denied" in str(err.value)


def test_tables_present_times_out_saying_what_it_waited_for(mariadb, dbconfig, layline_db_state):
    ret = layline_db_state.tables_present("layline tables", dbconfig, timeout=1, interval=0.3)
    assert ret["result"] is False
    assert "Timed out" in ret["comment"]
    assert "event_journal, event_tag, snapshot" in ret["comment"]
    assert "missing tables: event_journal, event_tag, snapshot" in ret["comment"]
    assert dbconfig["database"]["password"] not in ret["comment"]


def test_tables_present_and_reachable_succeed(mariadb, dbconfig, layline_db, layline_db_state):
    ret = layline_db_state.reachable("db", dbconfig, timeout=5, interval=1)
    assert ret["result"] is True, ret
    layline_db.apply_schema(dbconfig, str(DDL))
    ret = layline_db_state.tables_present("layline tables", dbconfig, timeout=5, interval=1)
    assert ret["result"] is True, ret
    assert "waited" in ret["comment"]


def test_reachable_times_out_on_closed_port(dbconfig, layline_db_state):
    closed = {"database": dict(dbconfig["database"], port=1)}
    ret = layline_db_state.reachable("db", closed, timeout=0.5, interval=0.2)
    assert ret["result"] is False
    assert "127.0.0.1:1" in ret["comment"] and "Timed out" in ret["comment"]


# ------------------------------------------------------------------ through Salt's loader


def _salt_call(tmp_path, args, pillar=None, file_roots=()):
    """salt-call --local with the repo's _modules/_states/_utils as extension modules."""
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    root = tmp_path / "root"
    (conf / "minion").write_text(
        textwrap.dedent(
            f"""
            id: layline-db-test
            root_dir: {root}
            file_client: local
            file_roots: {{base: [{", ".join(str(p) for p in (*file_roots, ROOT))}]}}
            pillar_roots: {{base: [{tmp_path / "pillar"}]}}
            module_dirs: [{ROOT / "_modules"}]
            states_dirs: [{ROOT / "_states"}]
            utils_dirs: [{ROOT / "_utils"}]
            log_level_logfile: debug
            log_file: {tmp_path / "minion.log"}
            """
        )
    )
    (tmp_path / "pillar").mkdir(exist_ok=True)
    if not (tmp_path / "pillar" / "top.sls").exists():
        (tmp_path / "pillar" / "top.sls").write_text("base: {}\n")
    salt_call = pathlib.Path(sys.executable).with_name("salt-call")
    if not salt_call.exists():
        salt_call = shutil.which("salt-call")
    cmd = [str(salt_call), "--local", "-c", str(conf), "--out=json", *args]
    if pillar is not None:
        cmd.append("pillar=" + json.dumps(pillar))
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    return proc


def test_schema_present_through_salt_call(mariadb, dbconfig, tmp_path):
    config_json = json.dumps(dbconfig)
    proc = _salt_call(
        tmp_path,
        [
            "state.single",
            "layline_db.schema_present",
            f"name={DDL}",
            f"config={config_json}",
        ],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ret = next(iter(json.loads(proc.stdout)["local"].values()))
    assert ret["result"] is True
    assert ret["changes"]["created_tables"] == REQUIRED
    assert dbconfig["database"]["password"] not in proc.stdout
    assert _tables(mariadb, dbconfig) == REQUIRED


def test_database_sls_against_mariadb(mariadb, tmp_path):
    """The real layline/mysql/database.sls (server SLS stubbed out) via salt-call; layline.python
    finds the pinned libraries installed (the host venv has them) and runs no pip."""
    stub = tmp_path / "stub" / "layline" / "mysql"
    stub.mkdir(parents=True)
    for name in ("server",):
        (stub / f"{name}.sls").write_text(f"layline-test-{name}-stub:\n  test.nop: []\n")
    # the states verify the server against the cluster CA (layline_db.root_connection): put
    # the test server's CA where layline.tls would (the validation refuses a /tmp config_dir)
    config_dir = pathlib.Path(tempfile.mkdtemp(prefix="layline-itest-", dir="/var/lib"))
    (config_dir / "tls").mkdir()
    shutil.copy(mariadb.ca.path, config_dir / "tls" / "ca.crt")
    password = "S3cr\"et'Pa\\ss${HOME}#1"  # noqa: S105 - a test value
    name = "layline_sls_" + os.urandom(3).hex()
    pillar = {
        "layline": {
            "config_dir": str(config_dir),
            # addresses of machines that do not exist here (documentation range): the
            # validation wants every node entry resolvable and none loopback; the accounts
            # are keyed by hostname (skip_name_resolve false), 127.0.0.1 for this test's client
            "config_server": {"minion": "cs", "hostname": "127.0.0.1", "address": "192.0.2.10"},
            "cluster": {
                "nodes": [
                    {"minion": "n1", "hostname": "ll-node-1.orb.local", "address": "192.0.2.12"}
                ]
            },
            "database": {
                "address": "192.0.2.11",
                "backend": "mysql",
                "minion": "layline-db-test",
                "hostname": "127.0.0.1",
                "port": mariadb.port,
                "name": name,
                "user": "layline_sls",
                "password": password,
                "socket": mariadb.socket,
                "bind_address": "127.0.0.1",
                "wait_timeout": 5,
                # accounts by hostname: ll-node-1.orb.local need not resolve here
                "skip_name_resolve": False,
            },
        }
    }
    (tmp_path / "pillar").mkdir()
    (tmp_path / "pillar" / "top.sls").write_text("base:\n  '*':\n    - layline\n")
    (tmp_path / "pillar" / "layline.sls").write_text(json.dumps(pillar))
    mariadb.sql("CREATE USER ''@'localhost'")
    mariadb.sql("CREATE DATABASE IF NOT EXISTS test")
    mariadb.sql("CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY 'x'")
    # an account of an older formula (or the guide): ALL PRIVILEGES, to be reduced (on an
    # IP: this test server runs --skip-name-resolve, which ignores name accounts on a reload)
    mariadb.sql("CREATE USER 'layline_sls'@'127.0.0.1' IDENTIFIED BY 'old'")
    # as the older formula's mysql_grants did it: '_' escaped (a literal, not a wildcard)
    escaped = name.replace("_", "\\_")
    mariadb.sql(f"GRANT ALL PRIVILEGES ON `{escaped}`.* TO 'layline_sls'@'127.0.0.1'")
    try:
        for run in (1, 2):
            proc = _salt_call(
                tmp_path, ["state.apply", "layline.mysql.database"], file_roots=[stub.parents[1]]
            )
            assert password not in proc.stdout + proc.stderr
            assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
            rets = json.loads(proc.stdout)["local"]
            assert all(r["result"] is True for r in rets.values()), rets
            changed = sorted(r["__id__"] for r in rets.values() if r["changes"])
            if run == 1:
                assert "layline-mysql-layline_db-account_present-127.0.0.1" in changed
                assert "layline-mysql-mysql_database-absent-test" in changed
                assert "layline-mysql-layline_db-privileges_reduced-127.0.0.1" in changed
                assert "layline-mysql-layline_db-account_tls-127.0.0.1" in changed
            else:
                assert changed == []
        users = mariadb.sql("SELECT user, host FROM mysql.user ORDER BY user, host")
        assert ("layline_sls", "127.0.0.1") in users
        assert ("layline_sls", "ll-node-1.orb.local") in users
        assert not [u for u in users if u[0] == ""]
        assert ("root", "%") not in users
        assert ("test",) not in mariadb.sql("SHOW DATABASES")
        # least privilege: the engine has the journal's DML, the config server owns the schema
        engine = [g[0] for g in mariadb.sql("SHOW GRANTS FOR 'layline_sls'@'ll-node-1.orb.local'")]
        assert [g.split(" ON ")[0] for g in engine if f"`{escaped}`" in g] == [
            "GRANT SELECT, INSERT, UPDATE, DELETE"
        ], engine
        owner = [g[0] for g in mariadb.sql("SHOW GRANTS FOR 'layline_sls'@'127.0.0.1'")]
        assert [g.split(" ON ")[0] for g in owner if f"`{escaped}`" in g] == [
            "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, REFERENCES, INDEX, ALTER"
        ], owner
        charset = mariadb.sql(
            "SELECT default_character_set_name, default_collation_name"
            " FROM information_schema.schemata WHERE schema_name = %s",
            (name,),
        )
        assert charset == (("utf8mb4", "utf8mb4_unicode_ci"),)
        import ssl

        import pymysql

        # database:tls verify-identity (the default): the accounts REQUIRE SSL
        assert mariadb.sql(
            "SELECT DISTINCT ssl_type FROM mysql.user WHERE user = %s", ("layline_sls",)
        ) == (("ANY",),)
        with pytest.raises(pymysql.err.OperationalError):
            pymysql.connect(
                host="127.0.0.1",
                port=mariadb.port,
                user="layline_sls",
                password=password,
                database=name,
                ssl_disabled=True,
            )
        conn = pymysql.connect(
            host="127.0.0.1",
            port=mariadb.port,
            user="layline_sls",
            password=password,
            database=name,
            ssl=ssl.create_default_context(cafile=str(mariadb.ca.path)),
        )
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (a INT)")
        conn.close()
    finally:
        mariadb.sql(f"DROP DATABASE IF EXISTS {name}")
        for host in ("127.0.0.1", "ll-node-1.orb.local"):
            mariadb.sql(f"DROP USER IF EXISTS 'layline_sls'@'{host}'")
        shutil.rmtree(config_dir, ignore_errors=True)


def test_the_states_root_login_verifies_the_server_against_the_cluster_ca(mariadb, tmp_path):
    """saltext.mysql with layline_db.root_connection's connection_ssl: TLS on the socket,
    verified against the cluster CA only; a server certificate of another CA is refused."""
    from pkisupport import CA

    def status(ca):
        conn = {"ca": str(ca), "check_hostname": False}
        return _salt_call(
            tmp_path,
            [
                "mysql.status",
                f"connection_unix_socket={mariadb.socket}",
                "connection_user=root",
                "connection_pass=",
                "connection_ssl=" + json.dumps(conn),
            ],
        )

    proc = status(mariadb.ca.path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    found = json.loads(proc.stdout)["local"]
    assert found.get("Ssl_cipher"), found  # this session is TLS, on the unix socket
    other = CA(tmp_path / "other", common_name="another CA")
    proc = status(other.path)
    answer = proc.stdout + proc.stderr
    assert "Ssl_cipher" not in answer and "certificate verify failed" in answer, answer[-2000:]
