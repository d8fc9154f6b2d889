"""Backups: the script layline-backup (run with a fake mariadb-dump), the unit templates,
layline_db's backup functions (listing, option file, file checks, restore with a fake
client) and the validation of layline:backup."""

import gzip
import os
import pathlib
import stat
import subprocess
import time

import jinja2
import pytest
import unitsupport
from salt.exceptions import CommandExecutionError
from test_layline_db import _load

ROOT = pathlib.Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "layline/backup/files/layline-backup.sh"
DUMP = "-- MariaDB dump\nCREATE TABLE event_journal (ordering int);\n-- Dump completed on 2026\n"


def _executable(path, text):
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def box(tmp_path):
    """A backup dir, a textfile dir and a PATH with a fake mariadb-dump that logs its argv."""
    (tmp_path / "bin").mkdir()
    for name in ("backups", "textfile"):
        (tmp_path / name).mkdir()
    (tmp_path / "client.cnf").write_text("[client]\nuser = root\n")
    return tmp_path


def fake_dump(box, body=DUMP, code=0):
    dump = box / "dump.sql"
    dump.write_text(body)
    _executable(
        box / "bin" / "mariadb-dump",
        f'#!/bin/sh\nprintf "%s\\n" "$@" >"{box}/argv"\ncat "{dump}"\nexit {code}\n',
    )


def run_backup(box, keep=3):
    env = {"PATH": f"{box / 'bin'}:/usr/bin:/bin"}
    return subprocess.run(
        [
            "bash",
            str(SCRIPT),
            str(box / "client.cnf"),
            "layline",
            str(box / "backups"),
            str(keep),
            str(box / "textfile"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def names(directory):
    return sorted(os.listdir(directory))


def test_backup_writes_a_private_complete_file_the_textfile_and_one_log_line(box):
    fake_dump(box)
    before = time.time()
    proc = run_backup(box)
    assert proc.returncode == 0, proc.stderr
    (name,) = names(box / "backups")
    path = box / "backups" / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert gzip.decompress(path.read_bytes()).decode() == DUMP
    argv = (box / "argv").read_text().split("\n")
    assert argv[0] == f"--defaults-extra-file={box / 'client.cnf'}"
    assert {"--single-transaction", "--routines", "--triggers", "layline"} <= set(argv)
    assert not any(arg.startswith(("-p", "--password")) for arg in argv)
    # one journal line: file, size, duration
    (line,) = proc.stdout.splitlines()
    assert str(path) in line and f"({path.stat().st_size} bytes)" in line and " s" in line
    prom = (box / "textfile" / "layline_backup.prom").read_text()
    metrics = dict(line.split(" ", 1) for line in prom.splitlines() if not line.startswith("#"))
    assert (
        before - 1
        <= float(metrics["layline_backup_last_success_timestamp_seconds"])
        <= time.time() + 1
    )
    assert int(metrics["layline_backup_last_size_bytes"]) == path.stat().st_size
    assert "# TYPE layline_backup_last_success_timestamp_seconds gauge" in prom
    assert names(box / "textfile") == ["layline_backup.prom"]


def test_a_failed_dump_leaves_no_file_and_exits_non_zero(box):
    old = box / "backups" / "layline-20260101T000000Z.sql.gz"
    old.write_bytes(b"old")
    (box / "textfile" / "layline_backup.prom").write_text("previous\n")
    fake_dump(box, body="-- half a dump\n", code=2)
    proc = run_backup(box, keep=1)
    assert proc.returncode != 0
    assert names(box / "backups") == [old.name]  # no partial or temporary file, none deleted
    assert (box / "textfile" / "layline_backup.prom").read_text() == "previous\n"


def test_retention_keeps_the_newest_files_and_nothing_else_is_touched(box):
    olds = [f"layline-202601{day:02d}T020000Z.sql.gz" for day in range(1, 6)]
    for name in [*olds, "notes.txt"]:
        (box / "backups" / name).write_bytes(b"x")
    fake_dump(box)
    assert run_backup(box, keep=3).returncode == 0
    kept = names(box / "backups")
    new = [name for name in kept if name not in olds and name != "notes.txt"]
    assert len(new) == 1
    assert sorted(kept) == sorted([*olds[-2:], *new, "notes.txt"])


@pytest.mark.parametrize("keep", ["0", "x", ""])
def test_a_bad_keep_is_refused_before_anything_runs(box, keep):
    fake_dump(box)
    proc = run_backup(box, keep=keep)
    assert proc.returncode == 2 and "KEEP" in proc.stderr
    assert not (box / "argv").exists() and names(box / "backups") == []


def test_a_linked_backup_directory_is_refused(box):
    fake_dump(box)
    (box / "elsewhere").mkdir()
    (box / "backups").rmdir()
    (box / "backups").symlink_to(box / "elsewhere")
    proc = run_backup(box)
    assert proc.returncode == 1 and "not a directory" in proc.stderr
    assert names(box / "elsewhere") == []


# ------------------------------------------------------------------ unit templates


def _render(path, **context):
    layline = unitsupport.load_module()
    env = jinja2.Environment(  # noqa: S701 - not HTML
        loader=jinja2.FileSystemLoader(str(ROOT)),
        extensions=["jinja2.ext.do"],
    )
    return env.get_template(path).render(
        salt={"layline.systemd_quote": layline.systemd_quote}, **context
    )


def test_service_unit_passes_quoted_arguments_and_is_sandboxed():
    unit = _render(
        "layline/backup/files/layline-backup.service.jinja",
        after="mariadb.service",
        script="/usr/local/sbin/layline-backup",
        option_file="/etc/layline-backup/client.cnf",
        database="layline",
        dir="/var/backups/layline",
        keep=7,
        textfile_dir="/var/lib/prometheus/node-exporter",
    ).splitlines()
    assert (
        'ExecStart="/usr/local/sbin/layline-backup" "/etc/layline-backup/client.cnf" '
        '"layline" "/var/backups/layline" "7" "/var/lib/prometheus/node-exporter"'
    ) in unit
    assert 'ReadWritePaths="/var/backups/layline" "/var/lib/prometheus/node-exporter"' in unit
    for line in (
        "Type=oneshot",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_UNIX",
        "PrivateNetwork=yes",
        "UMask=0077",
        "Requires=mariadb.service",
    ):
        assert line in unit, line


def test_timer_is_persistent_with_the_pillar_schedule():
    timer = _render(
        "layline/backup/files/layline-backup.timer.jinja", on_calendar="*-*-* 02:30:00"
    ).splitlines()
    assert "OnCalendar=*-*-* 02:30:00" in timer and "Persistent=true" in timer
    assert "WantedBy=timers.target" in timer


# ------------------------------------------------------------------ layline_db


@pytest.fixture
def db(tmp_path):
    mod = _load("_modules/layline_db.py", "layline_db_backup_under_test")
    mod.__salt__ = unitsupport.salt_functions(unitsupport.load_module())
    mod.__opts__ = {"test": False, "id": "ll-node-1"}
    (tmp_path / "backups").mkdir()
    return mod


def config_for(tmp_path):
    return {
        "database": {
            "hostname": "db",
            "port": 3306,
            "name": "layline",
            "user": "layline",
            "password": "not-used-here",
        },
        "backup": {"dir": str(tmp_path / "backups"), "keep": 7},
    }


def write_dump(path, text=DUMP, mtime=None):
    path.write_bytes(gzip.compress(text.encode()))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_option_file_logs_in_as_root_through_the_socket(db):
    text = db.client_options("/run/mysqld/mysqld.sock")
    assert "[client]" in text and "user = root" in text
    assert 'socket = "/run/mysqld/mysqld.sock"' in text
    assert "password" not in text.lower().replace("no password", "")


@pytest.mark.parametrize("socket", ["relative.sock", "/run/a b.sock", '/run/x"\npassword=1'])
def test_option_file_refuses_an_unsafe_socket(db, socket):
    with pytest.raises(CommandExecutionError, match="layline:database:socket"):
        db.client_options(socket)


def test_backups_are_listed_newest_first_with_size_and_age(db, tmp_path):
    directory = tmp_path / "backups"
    now = 1_800_000_000
    write_dump(directory / "layline-20260101T020000Z.sql.gz", mtime=now - 2 * 86400 - 3600)
    write_dump(directory / "layline-20260103T020000Z.sql.gz", mtime=now - 90)
    (directory / ".layline-backup.abc123").write_bytes(b"running")
    (directory / "other.sql.gz").write_bytes(b"x")
    listed = db.list_backups(str(directory), now=now)
    assert [item["file"] for item in listed] == [
        "layline-20260103T020000Z.sql.gz",
        "layline-20260101T020000Z.sql.gz",
    ]
    assert listed[0]["age"] == "1m 30s" and listed[0]["age_seconds"] == 90
    assert listed[1]["age"] == "2d 1h"
    assert listed[0]["size"] == (directory / listed[0]["file"]).stat().st_size


def test_backups_of_a_missing_directory_fail_with_advice(db, tmp_path):
    config = config_for(tmp_path)
    config["backup"]["dir"] = str(tmp_path / "missing")
    with pytest.raises(CommandExecutionError, match="layline.backup creates it"):
        db.backups(config=config)


@pytest.mark.parametrize(
    "name,reason",
    [
        ("", "no backup file given"),
        ("../etc/passwd", "directly in layline:backup:dir"),
        ("/etc/layline-20260101T020000Z.sql.gz", "directly in layline:backup:dir"),
        ("notes.txt", "not a backup file name"),
        ("layline-20260105T020000Z.sql.gz", "does not exist"),
    ],
)
def test_restore_refuses_a_file_it_must_not_or_cannot_read(db, tmp_path, name, reason):
    with pytest.raises(CommandExecutionError, match=reason):
        db.check_backup(name, config=config_for(tmp_path))


def test_a_linked_backup_is_refused(db, tmp_path):
    target = write_dump(tmp_path / "elsewhere.sql.gz")
    (tmp_path / "backups" / "layline-20260101T020000Z.sql.gz").symlink_to(target)
    with pytest.raises(CommandExecutionError, match="does not exist"):
        db.check_backup("layline-20260101T020000Z.sql.gz", config=config_for(tmp_path))


@pytest.mark.parametrize(
    "content,reason",
    [
        (gzip.compress(DUMP.encode())[:-20], "damaged"),
        (b"plain text", "damaged"),
        (gzip.compress(b"-- MariaDB dump\nCREATE TABLE t (a int);\n"), "incomplete"),
    ],
)
def test_a_damaged_or_truncated_dump_is_refused(db, tmp_path, content, reason):
    (tmp_path / "backups" / "layline-20260101T020000Z.sql.gz").write_bytes(content)
    with pytest.raises(CommandExecutionError, match=reason):
        db.check_backup("layline-20260101T020000Z.sql.gz", config=config_for(tmp_path))


@pytest.fixture
def fake_client(db, tmp_path, monkeypatch):
    """A fake `mariadb` on PATH: logs argv and stdin per call; answers COUNT(*) with 42."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls"
    log.mkdir()
    _executable(
        bindir / "mariadb",
        f"""#!/bin/sh
n=$(ls {log}/*.argv 2>/dev/null | wc -l)
printf '%s\\n' "$@" >{log}/$n.argv
case "$*" in *COUNT*) echo 42 ;; *) cat >{log}/$n.stdin ;; esac
""",
    )
    options = tmp_path / "client.cnf"
    options.write_text("[client]\n")
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.setattr(db, "BACKUP_OPTION_FILE", str(options))
    return log


def test_restore_drops_recreates_and_loads_through_the_option_file(db, tmp_path, fake_client):
    path = write_dump(tmp_path / "backups" / "layline-20260101T020000Z.sql.gz")
    result = db.restore("layline-20260101T020000Z.sql.gz", config=config_for(tmp_path))
    calls = [(fake_client / f"{n}.argv").read_text().splitlines() for n in range(3)]
    assert all(argv[0] == f"--defaults-extra-file={tmp_path / 'client.cnf'}" for argv in calls)
    assert "DROP DATABASE IF EXISTS `layline`; CREATE DATABASE `layline`" in calls[0][-1]
    assert calls[1][-1] == "layline" and (fake_client / "1.stdin").read_text() == DUMP
    assert "COUNT(*) FROM event_journal" in " ".join(calls[2])
    assert result["journal_rows"] == 42 and result["file"] == str(path)
    assert not any("password" in arg for argv in calls for arg in argv)


def test_restore_in_test_mode_checks_and_changes_nothing(db, tmp_path, fake_client):
    write_dump(tmp_path / "backups" / "layline-20260101T020000Z.sql.gz")
    db.__opts__["test"] = True
    result = db.restore("layline-20260101T020000Z.sql.gz", config=config_for(tmp_path))
    assert "would drop database layline" in result["comment"]
    assert os.listdir(fake_client) == []


def test_restore_of_a_bad_file_never_touches_the_database(db, tmp_path, fake_client):
    (tmp_path / "backups" / "layline-20260101T020000Z.sql.gz").write_bytes(b"garbage")
    with pytest.raises(CommandExecutionError, match="damaged"):
        db.restore("layline-20260101T020000Z.sql.gz", config=config_for(tmp_path))
    assert os.listdir(fake_client) == []


def big_dump(lines=40_000):
    """A complete dump of a few MB: far more than a pipe holds, so a client that stops
    reading midway leaves the writer with unread input."""
    rows = "".join(
        f"INSERT INTO event_journal VALUES ({n}, 'persistence-{n:08d}-{'x' * 40}');\n"  # noqa: S608
        for n in range(lines)
    )
    return DUMP.replace("-- Dump completed", rows + "-- Dump completed")


def failing_load(tmp_path, fake_client, read_bytes):
    """The fake client again, but its load (the call with stdin) reads ``read_bytes`` of
    the dump, then fails as mariadb does on a bad statement (ERROR 1064, exit 1)."""
    log = fake_client
    _executable(
        tmp_path / "bin" / "mariadb",
        f"""#!/bin/sh
n=$(ls {log}/*.argv 2>/dev/null | wc -l)
printf '%s\\n' "$@" >{log}/$n.argv
case "$*" in
  *COUNT*) echo 42 ;;
  *DROP*) ;;
  *) head -c {read_bytes} >{log}/$n.stdin
     echo "ERROR 1064 (42000) at line 812: You have an error in your SQL syntax" >&2
     exit 1 ;;
esac
""",
    )


@pytest.mark.parametrize("read_bytes", [0, 200_000], ids=["reads-nothing", "reads-part"])
def test_a_load_that_fails_midway_is_a_failure_naming_the_file(
    db, tmp_path, fake_client, read_bytes
):
    text = big_dump()
    path = write_dump(tmp_path / "backups" / "layline-20260101T020000Z.sql.gz", text)
    failing_load(tmp_path, fake_client, read_bytes)
    with pytest.raises(CommandExecutionError) as failure:
        db.restore("layline-20260101T020000Z.sql.gz", config=config_for(tmp_path))
    message = str(failure.value)
    assert f"loading {path} into layline failed" in message
    assert "ERROR 1064" in message and "partial" in message
    # the client really stopped midway (the writer had unread input), and no row count
    # was taken as if the load had finished
    assert (fake_client / "1.stdin").stat().st_size == read_bytes < len(text)
    assert sorted(os.listdir(fake_client)) == ["0.argv", "1.argv", "1.stdin"]


def test_a_failed_load_through_the_runner_leaves_the_services_stopped(db, tmp_path, fake_client):
    """The whole chain: the real layline_db.restore (a load that fails midway) answered
    through the runner's client rule (an exception is a non-zero retcode); the runner
    reports the failure with the file and starts nothing."""
    from rollingsupport import FakeClock
    from test_restore_runner import BACKUP, RestoreCluster, restore_settings, run

    path = write_dump(tmp_path / "backups" / BACKUP["file"], big_dump())
    backup = dict(BACKUP, path=str(path), size=path.stat().st_size)
    failing_load(tmp_path, fake_client, 100_000)
    cluster = RestoreCluster(2, clock=FakeClock())
    original = cluster._one

    def one(minion, fun, args, kwargs):
        if (minion, fun) != ("db", "layline_db.restore"):
            return original(minion, fun, args, kwargs)
        cluster.calls.append((minion, fun, args, kwargs))
        assert not any(cluster.running.values()) and not cluster.server_running
        try:
            return True, db.restore(args[0], config=config_for(tmp_path))
        except CommandExecutionError as exc:  # what SaltClient makes of a retcode != 0
            return False, f"{fun} on {minion} failed: {exc}"

    cluster._one = one
    _plan, failure, _restorer = run(cluster, restore_settings(2, timeout=30), backup)
    assert failure.startswith("restore failed"), failure
    assert f"loading {path} into layline failed" in failure and "ERROR 1064" in failure
    assert "stay stopped" in failure
    assert not any(cluster.running.values()) and not cluster.server_running
    assert cluster.funs("service.start") == []


def test_journal_rows_of_a_dropped_database_is_none(db, tmp_path, fake_client):
    _executable(
        tmp_path / "bin" / "mariadb",
        "#!/bin/sh\necho \"ERROR 1049 (42000): Unknown database 'layline'\" >&2\nexit 1\n",
    )
    assert db.journal_rows(config=config_for(tmp_path)) is None
    _executable(
        tmp_path / "bin" / "mariadb", "#!/bin/sh\necho 'ERROR 2002: no socket' >&2\nexit 1\n"
    )
    with pytest.raises(CommandExecutionError, match="no socket"):
        db.journal_rows(config=config_for(tmp_path))


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "backup,key",
    [
        ({"keep": 0}, "backup:keep"),
        ({"keep": "7"}, "backup:keep"),
        ({"enabled": "yes"}, "backup:enabled"),
        ({"on_calendar": "daily\nExecStart=/bin/sh"}, "backup:on_calendar"),
        ({"on_calendar": "%h"}, "backup:on_calendar"),
        ({"dir": "backups"}, "backup:dir"),
        ({"dir": "/var"}, "backup:dir"),
        ({"dir": "/var/lib/layline/backups"}, "backup:dir"),
        ({"textfile_dir": "/var/backups/layline"}, "backup:textfile_dir"),
        ({"kep": 3}, "backup:kep"),
    ],
)
def test_bad_backup_settings_are_errors_naming_the_key(layline, make_config, backup, key):
    config = make_config(unitsupport.SEED_PILLAR, {"backup": backup})
    errors, _warnings = layline._validate(config, "ll-mysql")
    assert any(error.startswith(f"layline:{key}:") for error in errors), errors


def test_default_backup_settings_and_a_restore_file_are_valid(layline, make_config):
    config = make_config(
        unitsupport.SEED_PILLAR,
        {
            "restore": {"file": "layline-20260101T020000Z.sql.gz"},
            "backup": {"on_calendar": "*-*-* 02:30:00"},
        },
    )
    assert config["backup"]["keep"] == 7 and config["backup"]["enabled"] is True
    assert layline._validate(config, "ll-mysql") == ([], [])


def test_a_restore_file_with_whitespace_is_an_error(layline, make_config):
    config = make_config(unitsupport.SEED_PILLAR, {"restore": {"file": "a b"}})
    errors, _warnings = layline._validate(config, "ll-mysql")
    assert any(error.startswith("layline:restore:file:") for error in errors), errors
