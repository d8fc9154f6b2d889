"""Upstream pekko-persistence-jdbc's MySQL schema, whole, through layline_db on a real MariaDB.

The file (test/fixtures/pekko-persistence-jdbc-1.3.0/, source in test/fixtures/README.md)
is what a newer layline may ship: durable-state tables, CREATE INDEX and CREATE TABLE
statements without IF NOT EXISTS and an INSERT of the durable-state offset row. Applying it
must create everything once, then nothing; never drop or duplicate a row.
"""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
UPSTREAM = ROOT / "test" / "fixtures" / "pekko-persistence-jdbc-1.3.0" / "mysql-create-schema.sql"

TABLES = ["durable_state", "durable_state_global_offset", "event_journal", "event_tag", "snapshot"]
INDEXES = [
    "durable_state.state_global_offset_idx",
    "durable_state.state_tag_idx",
    "event_journal.event_journal_ordering_idx",
]


def _q(mariadb, config, sql, args=None):
    return mariadb.sql(sql, args, database=config["database"]["name"])


def _tables(mariadb, config):
    rows = mariadb.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        (config["database"]["name"],),
    )
    return sorted(r[0] for r in rows)


def _fill(mariadb, config):
    """A journal event with a tag, a snapshot and a durable state; returns every row."""
    _q(
        mariadb,
        config,
        "INSERT INTO event_journal (persistence_id, sequence_number, writer, write_timestamp,"
        " adapter_manifest, event_payload, event_ser_id, event_ser_manifest)"
        " VALUES ('engine|ll-node-1', 1, 'w', 1, '', 'e', 1, 'm')",
    )
    ordering = _q(mariadb, config, "SELECT ordering FROM event_journal")[0][0]
    _q(
        mariadb,
        config,
        "INSERT INTO event_tag (event_id, tag) VALUES (%s, 'membership')",
        (ordering,),
    )
    _q(
        mariadb,
        config,
        "INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot_ser_id,"
        " snapshot_ser_manifest, snapshot_payload) VALUES ('engine|ll-node-1', 1, 1, 1, '', 's')",
    )
    _q(
        mariadb,
        config,
        "INSERT INTO durable_state (persistence_id, revision, state_payload, state_serial_id,"
        " state_timestamp) VALUES ('state|1', 1, 'd', 1, 1)",
    )
    _q(mariadb, config, "UPDATE durable_state_global_offset SET current_offset = 7")
    return _rows(mariadb, config)


def _rows(mariadb, config):
    return {
        table: sorted(map(repr, _q(mariadb, config, f"SELECT * FROM {table}")))  # noqa: S608
        for table in TABLES
    }


def test_the_raw_file_cannot_be_replayed(mariadb, dbconfig, layline_db):
    """The premise: running the file twice fails (CREATE INDEX / TABLE, INSERT)."""
    statements = layline_db.schema_statements(str(UPSTREAM))
    for statement in statements:
        _q(mariadb, dbconfig, statement)
    for statement in statements:
        if "IF NOT EXISTS" not in statement:
            with pytest.raises(Exception, match="Duplicate|already exists"):
                _q(mariadb, dbconfig, statement)


def test_upstream_schema_applies_once_then_changes_nothing(mariadb, dbconfig, layline_db):
    assert layline_db.apply_schema(dbconfig, str(UPSTREAM)) == {
        "created_tables": [
            "event_journal",
            "event_tag",
            "snapshot",
            "durable_state",
            "durable_state_global_offset",
        ],
        "created_indexes": [
            "event_journal.event_journal_ordering_idx",
            "durable_state.state_tag_idx",
            "durable_state.state_global_offset_idx",
        ],
    }
    assert _tables(mariadb, dbconfig) == TABLES
    assert _q(
        mariadb, dbconfig, "SELECT singleton, current_offset FROM durable_state_global_offset"
    ) == ((0, 0),)
    before = _fill(mariadb, dbconfig)
    assert layline_db.plan_schema(dbconfig, str(UPSTREAM)) == []
    assert layline_db.apply_schema(dbconfig, str(UPSTREAM)) == {
        "created_tables": [],
        "created_indexes": [],
    }
    assert _rows(mariadb, dbconfig) == before


def test_dropped_upstream_table_and_index_come_back_alone(mariadb, dbconfig, layline_db):
    layline_db.apply_schema(dbconfig, str(UPSTREAM))
    before = _fill(mariadb, dbconfig)
    _q(mariadb, dbconfig, "DROP TABLE durable_state_global_offset")
    _q(mariadb, dbconfig, "DROP INDEX state_tag_idx ON durable_state")
    assert layline_db.apply_schema(dbconfig, str(UPSTREAM)) == {
        "created_tables": ["durable_state_global_offset"],
        "created_indexes": ["durable_state.state_tag_idx"],
    }
    # the recreated table gets its seed row again; every other row is untouched
    after = _rows(mariadb, dbconfig)
    assert after.pop("durable_state_global_offset") == [repr((0, 0))]
    before.pop("durable_state_global_offset")
    assert after == before


def test_schema_present_state_on_upstream_schema(mariadb, dbconfig, layline_db_state):
    layline_db_state.__opts__["test"] = True
    ret = layline_db_state.schema_present(str(UPSTREAM), dbconfig)
    assert ret["result"] is None and sorted(ret["changes"]["created_indexes"]) == INDEXES, ret
    assert _tables(mariadb, dbconfig) == []
    layline_db_state.__opts__["test"] = False
    ret = layline_db_state.schema_present(str(UPSTREAM), dbconfig)
    assert ret["result"] is True and sorted(ret["changes"]["created_tables"]) == TABLES, ret
    again = layline_db_state.schema_present(str(UPSTREAM), dbconfig)
    assert again["result"] is True and again["changes"] == {}, again
