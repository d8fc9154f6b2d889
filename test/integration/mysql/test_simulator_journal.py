"""The simulated engine against a real MariaDB: missing tables and a refused login keep
/ready at 500, the schema applied by layline_db makes it ready and it writes its journal."""

import importlib.util
import pathlib
import sys

import pytest

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
from unitsupport import load_file, salt_functions  # noqa: E402 - conftest's sys.path

ROOT = pathlib.Path(__file__).resolve().parents[3]
DDL = ROOT / "test/simulator/payload/scripts/sql/mysql/persistence-schema.sql"
WRONG_PASSWORD = "not-the-password"  # noqa: S105 - a test value


def _layline_db():
    spec = importlib.util.spec_from_file_location(
        "layline_db_sim_journal", ROOT / "_modules" / "layline_db.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # the public functions of the execution module layline it calls (db_tls, tls_paths)
    module.__salt__ = salt_functions(load_file("_modules/layline.py", "layline_sim_journal_model"))
    module.__opts__ = {"test": False, "id": "ll-mysql"}
    return module


def _engine(lab, db, password=None):  # noqa: F811 - the lab fixture
    url = f"jdbc:mysql://127.0.0.1:{db['port']}/{db['name']}?useSSL=false&serverTimezone=UTC"
    credentials = (
        f"pekko-persistence-jdbc.shared-databases.mysql.db "
        f'{{ user = "{db["user"]}", password = "{password or db["password"]}" }}'
    )
    return lab.engine(1, conf=engine_conf(1, seeds=(1,), journal=url, extra=credentials))


def _ready():
    return http_get(f"http://{host(1)}:{MGMT}/ready")[0]


@pytest.mark.usefixtures("mariadb")
def test_missing_tables_keep_ready_500_until_the_schema_is_applied(lab, dbconfig):  # noqa: F811
    db = dbconfig["database"]
    engine = _engine(lab, db)
    wait_for(lambda: statuses(1) == {address(1): "Up"}, what="engine Up")
    missing = f"Table '{db['name']}.event_journal' doesn't exist"
    wait_for(lambda: missing in engine.log(), what="the missing-table error in the log")
    assert _ready() == 500

    created = _layline_db().apply_schema(dbconfig, str(DDL))
    assert sorted(created["created_tables"]) == ["event_journal", "event_tag", "snapshot"]
    wait_for(lambda: _ready() == 200, timeout=60, what="/ready 200 once the tables exist")

    conn = _layline_db()._connect(dbconfig)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT persistence_id, COUNT(*) FROM event_journal GROUP BY 1")
            rows = dict(cur.fetchall())
    finally:
        conn.close()
    assert rows.get(f"reactive-engine|{host(1)}", 0) >= 1, rows
    assert db["password"] not in engine.log()


@pytest.mark.usefixtures("mariadb")
def test_refused_login_keeps_ready_500(lab, dbconfig):  # noqa: F811
    db = dbconfig["database"]
    engine = _engine(lab, db, password=WRONG_PASSWORD)
    wait_for(lambda: statuses(1) == {address(1): "Up"}, what="engine Up")
    wait_for(lambda: "Access denied for user" in engine.log(), what="the login error in the log")
    assert _ready() == 500
    assert WRONG_PASSWORD not in engine.log()
