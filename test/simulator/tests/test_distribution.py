"""Build script and installer."""

import hashlib
import io
import os
import subprocess
import sys
import tarfile

from simsupport import BUILD, VERSION


def test_build_is_reproducible_and_a_noop_when_unchanged(dist, tmp_path):
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    assert (dist.parent / (dist.name + ".sha256")).read_text().strip() == digest
    again = subprocess.run(
        [sys.executable, BUILD, "--version", VERSION, "--out", str(dist.parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "up to date" in again.stdout
    other = tmp_path / "other"
    subprocess.run(
        [sys.executable, BUILD, "--version", VERSION, "--out", str(other)],
        capture_output=True,
        check=True,
    )
    assert hashlib.sha256((other / dist.name).read_bytes()).hexdigest() == digest


def test_installed_layout(install_dir):
    assert (install_dir / "VERSION").read_text() == f"{VERSION}\n"
    for tool in ("config-server", "reactive-engine"):
        assert os.access(install_dir / "bin" / tool, os.X_OK)
    conf = (install_dir / "config" / "config-server" / "application.conf").read_text()
    assert "port = 5841" in conf and "jdbc:h2:file:" in conf
    mysql = (install_dir / "scripts" / "sql" / "mysql" / "persistence-schema.sql").read_text()
    for table in ("event_journal", "event_tag", "snapshot"):
        assert f"CREATE TABLE IF NOT EXISTS {table}" in mysql
    assert "CREATE UNIQUE INDEX event_journal_ordering_idx ON event_journal(ordering);" in mysql
    assert "durable_state" not in mysql
    assert (install_dir / "scripts" / "sql" / "h2" / "persistence-schema.sql").is_file()
    for pkg in ("layline_sim", "pyhocon", "pyparsing", "pymysql"):
        assert (install_dir / "lib" / pkg / "__init__.py").is_file()


def test_reinstall_replaces_but_keeps_config(dist, tmp_path):
    target = tmp_path / "opt" / "layline"
    run = ["sh", str(dist), "-q", "-dir", str(target)]
    subprocess.run(run, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    conf = target / "config" / "config-server" / "application.conf"
    conf.write_text("# edited by salt\n")
    (target / "lib" / "stale.txt").write_text("old")
    subprocess.run(run, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    assert conf.read_text() == "# edited by salt\n"
    assert not (target / "lib" / "stale.txt").exists()
    assert (target / "bin" / "reactive-engine").is_file()


def test_installer_refuses_without_q_and_tty_and_rejects_unknown_args(dist, tmp_path):
    res = subprocess.run(
        ["sh", str(dist), "-dir", str(tmp_path / "x")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1
    assert "unattended installation needs -q -dir DIR" in res.stderr
    assert not (tmp_path / "x").exists()
    res = subprocess.run(
        ["sh", str(dist), "-q", "--bogus"], stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert res.returncode == 2 and "unknown argument: --bogus" in res.stderr
    res = subprocess.run(
        ["sh", str(dist), "-q", "-dir"], stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert res.returncode == 2


def test_default_build_makes_both_versions_of_the_upgrade_tests(tmp_path):
    subprocess.run(
        [sys.executable, BUILD, "--out", str(tmp_path)],
        capture_output=True,
        check=True,
        timeout=300,
    )
    for version in ("2.5.4", "2.5.5"):
        installer = tmp_path / f"layline-linux-amd64-{version}.sh"
        header, payload = installer.read_bytes().split(b"__PAYLOAD_BELOW__\n", 1)
        assert f"VERSION='{version}'" in header.decode()
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
            assert tar.extractfile("VERSION").read() == f"{version}\n".encode()
        digest = hashlib.sha256(installer.read_bytes()).hexdigest()
        assert (tmp_path / (installer.name + ".sha256")).read_text().strip() == digest
