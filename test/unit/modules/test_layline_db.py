"""Unit tests of _modules/layline_db.py and _states/layline_db.py (no database needed)."""

import json
import pathlib

import pymysql
import pytest
import unitsupport
from salt.exceptions import CommandExecutionError

import layline_model

ROOT = pathlib.Path(__file__).resolve().parents[3]
DDL = ROOT / "test/simulator/payload/scripts/sql/mysql/persistence-schema.sql"


_load = unitsupport.load_file


@pytest.fixture
def db():
    mod = _load("_modules/layline_db.py", "layline_db_mod_under_test")
    # the public functions of the execution module layline it calls (db_tls, tls_paths)
    mod.__salt__ = unitsupport.salt_functions(unitsupport.load_module())
    mod.__opts__ = {"test": False, "id": "ll-node-1"}
    mod.__context__, mod.__pillar__ = {}, {}
    return mod


PASSWORD = "s3cr3t-pw"  # noqa: S105 - a test value

CONFIG = {
    "database": {
        "backend": "mysql",
        "hostname": "ll-mysql.orb.local",
        "port": 3306,
        "name": "layline",
        "user": "layline",
        "password": PASSWORD,
        "tls": "disabled",
        "allowed_hosts": [],
    },
    "config_server": {"minion": "ll-config-server", "hostname": "ll-config-server.orb.local"},
    "cluster": {
        "nodes": [
            {"minion": "ll-node-1", "hostname": "ll-node-1.orb.local"},
            {"minion": "ll-node-2", "hostname": "ll-node-2.orb.local"},
        ]
    },
}


# ------------------------------------------------------------------ parsing


def test_schema_statements_of_pekko_ddl(db):
    stmts = db.schema_statements(str(DDL))
    assert len(stmts) == 4
    assert [db.classify(s)["kind"] for s in stmts] == ["table", "index", "table", "table"]
    assert [db.classify(s).get("table") for s in stmts] == [
        "event_journal",
        "event_journal",
        "event_tag",
        "snapshot",
    ]
    assert db.classify(stmts[1])["index"] == "event_journal_ordering_idx"
    assert not any(s.endswith(";") or "--" in s for s in stmts)


def test_split_handles_comments_and_quotes(db):
    text = """
    -- leading comment; with a semicolon
    # hash comment; too
    /* block; comment */ CREATE TABLE `a;b` (x VARCHAR(10) DEFAULT 'it''s;here', y TEXT
      COMMENT "double; \\" quoted");
    INSERT INTO `a;b` (x) VALUES ('back\\\\slash;'), ('esc\\';aped');
    CREATE TABLE c (i INT) -- trailing; comment
    ;
    ;;
    SELECT 1--1
    """
    stmts = db._split_sql(text)
    assert len(stmts) == 4, stmts
    assert stmts[0].startswith("CREATE TABLE `a;b`")
    assert "'it''s;here'" in stmts[0]
    assert '"double; \\" quoted"' in stmts[0]
    assert stmts[1].endswith("('esc\\';aped')")
    assert stmts[2] == "CREATE TABLE c (i INT)"
    assert stmts[3] == "SELECT 1--1"  # "--" without a following blank is not a comment


def test_split_rejects_unterminated(db):
    with pytest.raises(CommandExecutionError, match="Unterminated ' quote"):
        db._split_sql("CREATE TABLE t (x TEXT DEFAULT 'oops);")
    with pytest.raises(CommandExecutionError, match="Unterminated /"):
        db._split_sql("/* never closed")


def test_schema_statements_missing_file(db, tmp_path):
    with pytest.raises(CommandExecutionError, match="does not exist.*layline.install"):
        db.schema_statements(str(tmp_path / "nope.sql"))


@pytest.mark.parametrize(
    "stmt, expected",
    [
        ("CREATE TABLE snapshot (a INT)", {"kind": "table", "table": "snapshot"}),
        ("create table if not exists `event_tag`(a INT)", {"kind": "table", "table": "event_tag"}),
        ("CREATE TABLE layline.snapshot (a INT)", {"kind": "table", "table": "snapshot"}),
        (
            "CREATE UNIQUE INDEX event_journal_ordering_idx ON event_journal(ordering)",
            {"kind": "index", "table": "event_journal", "index": "event_journal_ordering_idx"},
        ),
        (
            "create index if not exists `i1` using btree on `db`.`t1` (a)",
            {"kind": "index", "table": "t1", "index": "i1"},
        ),
        ("INSERT INTO t (a) VALUES (0)", {"kind": "data", "table": "t"}),
        ("SET NAMES utf8mb4", {"kind": "session"}),
    ],
)
def test_classify(db, stmt, expected):
    got = db.classify(stmt)
    assert {k: v for k, v in got.items() if k != "statement"} == expected


@pytest.mark.parametrize(
    "stmt",
    [
        "DROP TABLE event_journal",
        "drop table if exists snapshot",
        "ALTER TABLE event_journal ADD COLUMN x INT",
        "TRUNCATE event_journal",
        "DELETE FROM event_journal",
        "UPDATE event_journal SET deleted = 1",
        "CREATE OR REPLACE TABLE snapshot (a INT)",
        "RENAME TABLE a TO b",
    ],
)
def test_classify_refuses_destructive(db, stmt):
    with pytest.raises(CommandExecutionError, match="Refusing"):
        db.classify(stmt)


def test_classify_refuses_unknown(db):
    with pytest.raises(CommandExecutionError, match="Unsupported statement"):
        db.classify("CALL something()")


# ------------------------------------------------------------------ planning


def _names(todo):
    return [(it["kind"], it.get("index") or it.get("table")) for it in todo]


def test_plan_empty_database_runs_everything(db):
    stmts = db.schema_statements(str(DDL))
    assert _names(db.plan(stmts, [], {})) == [
        ("table", "event_journal"),
        ("index", "event_journal_ordering_idx"),
        ("table", "event_tag"),
        ("table", "snapshot"),
    ]


def test_plan_complete_database_runs_nothing(db):
    stmts = db.schema_statements(str(DDL))
    tables = ["event_journal", "event_tag", "snapshot"]
    indexes = {"event_journal": {"PRIMARY", "ordering", "event_journal_ordering_idx"}}
    assert db.plan(stmts, tables, indexes) == []


def test_plan_one_missing_table(db):
    stmts = db.schema_statements(str(DDL))
    tables = ["event_journal", "event_tag"]
    indexes = {"event_journal": {"PRIMARY", "event_journal_ordering_idx"}}
    assert _names(db.plan(stmts, tables, indexes)) == [("table", "snapshot")]


def test_plan_missing_index_on_existing_table(db):
    stmts = db.schema_statements(str(DDL))
    tables = ["event_journal", "event_tag", "snapshot"]
    indexes = {"event_journal": {"PRIMARY", "ordering"}}
    assert _names(db.plan(stmts, tables, indexes)) == [("index", "event_journal_ordering_idx")]


def test_plan_data_and_session_only_with_new_tables(db):
    stmts = [
        "SET foreign_key_checks = 0",
        "CREATE TABLE offs (a INT)",
        "INSERT INTO offs (a) VALUES (0)",
        "CREATE INDEX i ON other (a)",  # table neither present nor created: skipped
    ]
    assert _names(db.plan(stmts, [], {})) == [
        ("session", None),
        ("table", "offs"),
        ("data", "offs"),
    ]
    # Table there: neither the INSERT nor the lone SET runs.
    assert db.plan(stmts, ["offs"], {}) == []


# ------------------------------------------------------------------ fake pymysql


class FakeCursor:
    def __init__(self, server):
        self.server = server
        self.rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        self.server.log.append(sql)
        if "information_schema.tables" in sql:
            self.rows = [(t,) for t in self.server.tables]
        elif "information_schema.statistics" in sql:
            self.rows = [(t, i) for t, idx in self.server.indexes.items() for i in idx]
        elif sql.startswith("SELECT VERSION"):
            self.rows = [("10.11.19-MariaDB",)]
        else:
            item = self.server.mod.classify(sql)
            if item["kind"] == "table":
                self.server.tables.append(item["table"])
            elif item["kind"] == "index":
                if item["index"] in self.server.indexes.get(item["table"], set()):
                    raise pymysql.err.OperationalError(1061, "Duplicate key name")
                self.server.indexes.setdefault(item["table"], set()).add(item["index"])
        return 0

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0]


class FakeServer:
    def __init__(self, mod, tables=(), indexes=None):
        self.mod = mod
        self.tables = list(tables)
        self.indexes = dict(indexes or {})
        self.log = []
        self.connect_kwargs = None

    def connect(self, **kwargs):
        self.connect_kwargs = kwargs
        return self

    def cursor(self):
        return FakeCursor(self)

    def commit(self):
        pass

    def close(self):
        pass

    def ddl(self):
        return [s for s in self.log if not s.startswith("SELECT")]


@pytest.fixture
def fake(db, monkeypatch):
    server = FakeServer(db)
    monkeypatch.setattr(db.pymysql, "connect", server.connect)
    return server


def test_plan_schema_uses_information_schema(db, fake):
    fake.tables = ["event_journal"]
    fake.indexes = {"event_journal": {"PRIMARY"}}
    todo = db.plan_schema(CONFIG, str(DDL))
    assert _names(todo) == [
        ("index", "event_journal_ordering_idx"),
        ("table", "event_tag"),
        ("table", "snapshot"),
    ]
    assert fake.ddl() == []  # planning runs no DDL
    assert fake.connect_kwargs["database"] == "layline"


def test_apply_schema_then_reapply_is_noop(db, fake):
    assert db.apply_schema(CONFIG, str(DDL)) == {
        "created_tables": ["event_journal", "event_tag", "snapshot"],
        "created_indexes": ["event_journal.event_journal_ordering_idx"],
    }
    fake.log.clear()
    assert db.apply_schema(CONFIG, str(DDL)) == {"created_tables": [], "created_indexes": []}
    assert fake.ddl() == []


def test_apply_schema_tolerates_concurrent_index(db, fake, monkeypatch):
    # Planned on a snapshot without the index; another run creates it meanwhile.
    fake.tables = ["event_journal", "event_tag", "snapshot"]
    monkeypatch.setattr(db, "_indexes", lambda cur, schema: {})
    fake.indexes = {"event_journal": {"event_journal_ordering_idx"}}
    assert db.apply_schema(CONFIG, str(DDL)) == {"created_tables": [], "created_indexes": []}
    # The CREATE INDEX really ran and met the duplicate (1061) rather than being skipped.
    assert [s for s in fake.ddl() if "INDEX" in s] == [
        "CREATE UNIQUE INDEX event_journal_ordering_idx ON event_journal(ordering)"
    ]


def test_missing_tables(db, fake):
    fake.tables = ["event_journal", "other"]
    assert db.missing_tables(CONFIG) == ["event_tag", "snapshot"]
    assert db.existing_tables(CONFIG) == ["event_journal", "other"]


# ------------------------------------------------------------------ connection


def test_connect_args(db):
    args = db._connect_args(CONFIG)
    assert args["host"] == "ll-mysql.orb.local"
    assert args["port"] == 3306
    assert args["user"] == "layline"
    assert args["password"] == PASSWORD
    assert args["database"] == "layline"
    assert "ssl" not in args and args["ssl_disabled"] is True
    assert db._connect_args({"database": dict(CONFIG["database"], port="3307")})["port"] == 3307


def test_root_connection_is_the_socket_and_trusts_the_cluster_ca_with_database_tls(db):
    plain = dict(CONFIG["database"], socket="/run/mysqld/mysqld.sock")
    assert db.root_connection({**CONFIG, "database": plain}) == {
        "connection_unix_socket": "/run/mysqld/mysqld.sock",
        "connection_host": "localhost",
        "connection_user": "root",
        "connection_pass": "",
        "connection_charset": "utf8",
    }
    verified = {
        **CONFIG,
        "config_dir": "/etc/layline",
        "database": dict(plain, tls="verify-identity"),
    }
    conn = db.root_connection(verified)
    # the driver loads only the cluster CA (not the system bundle); the socket is local
    assert conn["connection_ssl"] == {"ca": "/etc/layline/tls/ca.crt", "check_hostname": False}
    assert conn["connection_unix_socket"] == "/run/mysqld/mysqld.sock"
    assert PASSWORD not in json.dumps(conn)


def test_stale_hosts_leaves_out_a_cluster_ca_that_is_not_made_yet(db, tmp_path):
    socket = tmp_path / "mysqld.sock"
    socket.touch()
    seen = []
    db.__salt__["mysql.user_list"] = lambda **kwargs: seen.append(kwargs) or []
    missing = {"ca": str(tmp_path / "ca.crt"), "check_hostname": False}
    db.stale_hosts(CONFIG, connection_unix_socket=str(socket), connection_ssl=missing)
    assert seen == [{"connection_unix_socket": str(socket)}]
    (tmp_path / "ca.crt").write_text("x")
    db.stale_hosts(CONFIG, connection_unix_socket=str(socket), connection_ssl=missing)
    assert seen[1]["connection_ssl"] == missing


def test_connect_args_need_the_merged_model(db):
    # no second copy of defaults.yaml in layline_db: a partial model is an error naming the key
    with pytest.raises(CommandExecutionError, match="layline:database:port is missing"):
        db._connect_args({"database": {"hostname": "db", "password": None}})


def test_without_config_the_unmasked_model_is_read_on_the_minion(db):
    # pillar.get masks secrets in module context (Salt 3008); the private loader does not
    db.__salt__["slsutil.renderer"] = lambda **_: json.dumps(CONFIG)
    assert db._connect_args()["password"] == PASSWORD
    assert db._connect_args()["host"] == "ll-mysql.orb.local"


def test_password_hash_is_mysql_native_and_no_public_function():
    # MySQL's PASSWORD('password') is documented as *2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19
    assert layline_model.mysql_native_hash("password") == (
        "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
    )
    assert PASSWORD not in layline_model.mysql_native_hash(PASSWORD)
    with pytest.raises(CommandExecutionError, match="password is required"):
        layline_model.mysql_native_hash("")
    module = (ROOT / "_modules" / "layline_db.py").read_text()
    assert "def password_hash" not in module  # never a public function's return


def test_account_present_hashes_inside_the_state_and_scrubs_its_return(states):
    seen = []

    def mysql_user_present(**kwargs):
        seen.append(kwargs)
        return {
            "name": kwargs["name"],
            "result": True,
            "changes": {"password": kwargs["password_hash"]},
            "comment": f"set {kwargs['password_hash']} from {PASSWORD}",
        }

    states.__states__ = {"mysql_user.present": mysql_user_present}
    ret = states.account_present("layline", "10.0.0.5", CONFIG, connection_user="root")
    expected = layline_model.mysql_native_hash(PASSWORD)
    assert seen == [
        {
            "name": "layline",
            "host": "10.0.0.5",
            "password_hash": expected,
            "connection_user": "root",
        }
    ]
    assert expected not in str(ret) and PASSWORD not in str(ret)
    assert ret["changes"] == {"password": "******"} and ret["result"] is True
    empty = {"database": dict(CONFIG["database"], password="")}
    ret = states.account_present("layline", "10.0.0.5", empty)
    assert ret["result"] is False and "password is required" in ret["comment"]
    assert len(seen) == 1


def test_the_mysql_sls_passes_no_hash_as_state_data():
    text = (ROOT / "layline" / "mysql" / "database.sls").read_text()
    assert "password_hash" not in text and "layline_db.account_present:" in text


def test_check_connection_failure_never_shows_password(db, monkeypatch):
    def refuse(**kwargs):
        raise pymysql.err.OperationalError(
            1045, f"Access denied for user 'layline'@'x' (using password: {kwargs['password']})"
        )

    monkeypatch.setattr(db.pymysql, "connect", refuse)
    ok, msg = db.check_connection(CONFIG)
    assert ok is False
    assert PASSWORD not in msg
    assert "ll-mysql.orb.local:3306" in msg and "'layline'" in msg
    assert "allowed_hosts" in msg


def test_check_connection_ok(db, fake):
    ok, msg = db.check_connection(CONFIG)
    assert ok and "10.11.19-MariaDB" in msg and PASSWORD not in msg


# ------------------------------------------------------------------ allowed_hosts


# ------------------------------------------------------------------ states


@pytest.fixture
def states(db):
    st = _load("_states/layline_db.py", "layline_db_state_under_test")
    funcs = {
        f"layline_db.{name}": getattr(db, name)
        for name in (
            "apply_schema",
            "plan_schema",
            "missing_tables",
            "status",
            "describe",
            "required_tables",
        )
    }
    st.__salt__ = funcs
    st.__opts__ = {"test": False}
    return st


def test_state_schema_present_test_mode_runs_nothing(states, fake):
    states.__opts__["test"] = True
    ret = states.schema_present(str(DDL), CONFIG)
    assert ret["result"] is None
    assert "event_journal" in ret["comment"] and "snapshot" in ret["comment"]
    assert fake.ddl() == []
    assert PASSWORD not in str(ret)


def test_state_schema_present_applies_and_reports(states, fake):
    ret = states.schema_present(str(DDL), CONFIG)
    assert ret["result"] is True, ret
    assert ret["changes"]["created_tables"] == ["event_journal", "event_tag", "snapshot"]
    ret = states.schema_present(str(DDL), CONFIG)
    assert ret["result"] is True and ret["changes"] == {}


def test_state_schema_present_names_missing_tables(states, fake, tmp_path):
    ddl = tmp_path / "partial.sql"
    ddl.write_text("CREATE TABLE event_journal (a INT);\n")
    ret = states.schema_present(str(ddl), CONFIG)
    assert ret["result"] is False
    assert "event_tag, snapshot" in ret["comment"]


def test_state_tables_present_times_out(states, db, monkeypatch):
    monkeypatch.setattr(
        db.pymysql,
        "connect",
        lambda **kw: (_ for _ in ()).throw(pymysql.err.OperationalError(2003, "Can't connect")),
    )
    ret = states.tables_present("wait", CONFIG, timeout=0.3, interval=0.1)
    assert ret["result"] is False
    assert "Timed out" in ret["comment"] and "event_journal, event_tag, snapshot" in ret["comment"]
    assert "ll-mysql.orb.local:3306" in ret["comment"]
    states.__opts__["test"] = True
    ret = states.tables_present("wait", CONFIG, timeout=30, interval=10)
    assert ret["result"] is None
