"""Backup and restore against a real MariaDB: the formula's own layline-backup script with
the real mariadb-dump, then layline_db.restore with the real client.

docs/design.md promises a dump without `CREATE DATABASE`/`USE` (restorable into a database of
another name); a corrupt but gzip-valid dump (its last line intact, so the pre-check cannot
see it) fails the restore naming the file; the next restore of a good file brings every
row back."""

import gzip
import pathlib
import re
import secrets
import subprocess

import pytest
from salt.exceptions import CommandExecutionError

ROOT = pathlib.Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "layline/backup/files/layline-backup.sh"
DDL = ROOT / "test/simulator/payload/scripts/sql/mysql/persistence-schema.sql"
ROWS = 25


@pytest.fixture
def box(mariadb, dbconfig, layline_db, tmp_path, monkeypatch):
    """A database with the schema and ROWS journal rows, the option file the backup unit
    uses (root through the socket), a backup dir; layline_db pointed at them."""
    layline_db.apply_schema(dbconfig, str(DDL))
    name = dbconfig["database"]["name"]
    for n in range(ROWS):
        mariadb.sql(
            "INSERT INTO event_journal (persistence_id, sequence_number, writer,"
            " write_timestamp, adapter_manifest, event_payload, event_ser_id,"
            " event_ser_manifest) VALUES (%s, %s, 'w', 0, '', %s, 1, '')",
            (f"engine-{n % 3}", n, bytes([n, 0, 255, 39, 92])),  # NUL, quote, backslash
            database=name,
        )
    options = tmp_path / "client.cnf"
    options.write_text(layline_db.client_options(mariadb.socket))
    options.chmod(0o600)
    for sub in ("backups", "textfile"):
        (tmp_path / sub).mkdir()
    monkeypatch.setattr(layline_db, "BACKUP_OPTION_FILE", str(options))
    return tmp_path


def _backup(box, database):
    run = subprocess.run(
        [
            "bash",
            str(SCRIPT),
            str(box / "client.cnf"),
            database,
            str(box / "backups"),
            "3",
            str(box / "textfile"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    (path,) = (box / "backups").glob("layline-*.sql.gz")
    return path


def _config(box, dbconfig, name):
    return {
        "database": dict(dbconfig["database"], name=name),
        "backup": {"dir": str(box / "backups"), "keep": 3},
    }


def _payloads(mariadb, name):
    return mariadb.sql(
        "SELECT persistence_id, sequence_number, event_payload FROM event_journal"
        " ORDER BY sequence_number",
        database=name,
    )


def test_the_dump_names_no_database_and_restores_into_another_name(
    mariadb, dbconfig, layline_db, box
):
    source = dbconfig["database"]["name"]
    path = _backup(box, source)
    text = gzip.decompress(path.read_bytes()).decode()
    statements = [line for line in text.splitlines() if not line.startswith("--")]
    assert not [s for s in statements if re.search(r"\bCREATE\s+DATABASE\b", s, re.I)]
    assert not [s for s in statements if re.match(r"\s*USE\s", s, re.I)]
    assert source not in "\n".join(statements)  # not even in a comment-free line
    assert "CREATE TABLE `event_journal`" in text
    # restorable into a database of another name: every row, byte for byte
    other = "layline_restored_" + secrets.token_hex(4)
    try:
        result = layline_db.restore(path.name, config=_config(box, dbconfig, other))
        assert result["journal_rows"] == ROWS and result["database"] == other
        assert _payloads(mariadb, other) == _payloads(mariadb, source)
    finally:
        mariadb.sql(f"DROP DATABASE IF EXISTS `{other}`")


def test_a_corrupt_dump_fails_the_restore_and_a_good_one_brings_every_row_back(
    mariadb, dbconfig, layline_db, box
):
    name = dbconfig["database"]["name"]
    good = _backup(box, name)
    before = _payloads(mariadb, name)
    lines = gzip.decompress(good.read_bytes()).decode().splitlines(keepends=True)
    # gzip-valid, ends with "-- Dump completed": the pre-check passes; a statement in the
    # middle (after the table's rows began) is broken
    middle = next(n for n, line in enumerate(lines) if line.startswith("INSERT INTO"))
    lines.insert(middle + 1, "INSERT INTO event_journal VALUES (garbage;\n")
    bad = good.with_name("layline-20000101T000000Z.sql.gz")
    bad.write_bytes(gzip.compress("".join(lines).encode()))
    layline_db.check_backup(bad.name, config=_config(box, dbconfig, name))  # passes
    with pytest.raises(CommandExecutionError) as failure:
        layline_db.restore(bad.name, config=_config(box, dbconfig, name))
    assert f"loading {bad} into {name} failed" in str(failure.value)
    assert "ERROR 1064" in str(failure.value)
    assert dbconfig["database"]["password"] not in str(failure.value)
    result = layline_db.restore(good.name, config=_config(box, dbconfig, name))
    assert result["journal_rows"] == ROWS
    assert _payloads(mariadb, name) == before
