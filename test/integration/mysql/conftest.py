"""A throw-away MariaDB server for the layline_db integration tests.

The session fixture ``mariadb`` initialises a data directory in a temporary
directory (mariadb-install-db), starts ``mariadbd`` as root bound to 127.0.0.1
on a free port with its own socket, and stops it (and removes everything) at
the end. The server offers TLS with a certificate for 127.0.0.1/localhost from a
test CA (``mariadb.ca``; ``use_certificate`` swaps it with FLUSH SSL) but does not
require it: accounts decide (REQUIRE SSL). It needs Debian's ``mariadb-server``
package (``mariadbd``, ``mariadb-install-db``); without it the tests are skipped with
that hint.
"""

import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pymysql
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "unit"))
from pkisupport import CA  # noqa: E402
from unitsupport import load_file as _load  # noqa: E402
from unitsupport import salt_functions  # noqa: E402

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


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MariaDB:
    def __init__(self, base):
        self.base = pathlib.Path(base)
        self.datadir = self.base / "data"
        self.socket = str(self.base / "mysqld.sock")
        self.port = _free_port()
        self.proc = None
        self.ca = CA(self.base / "tls")
        self.server_cert, self.server_key = self.ca.issue("server", ["127.0.0.1", "localhost"])
        self.cert_path = self.base / "tls" / "live.crt"
        self.key_path = self.base / "tls" / "live.key"
        shutil.copy(self.server_cert, self.cert_path)
        shutil.copy(self.server_key, self.key_path)

    def use_certificate(self, cert, key):
        """Serve ``cert``/``key`` from now on (FLUSH SSL re-reads the files)."""
        shutil.copy(cert, self.cert_path)
        shutil.copy(key, self.key_path)
        self.sql("FLUSH SSL")

    def start(self):
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        server = shutil.which("mariadbd", path="/usr/sbin:/usr/bin") or shutil.which(
            "mysqld", path="/usr/sbin:/usr/bin"
        )
        self.log = open(self.base / "mariadbd.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                server,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=root",
                "--bind-address=127.0.0.1",
                f"--port={self.port}",
                f"--socket={self.socket}",
                f"--pid-file={self.base / 'mariadbd.pid'}",
                "--skip-name-resolve",
                "--performance-schema=ON",  # per-connection Ssl_cipher (status_by_thread)
                f"--ssl-ca={self.ca.path}",
                f"--ssl-cert={self.cert_path}",
                f"--ssl-key={self.key_path}",
                "--innodb-buffer-pool-size=32M",
                f"--log-error={self.base / 'error.log'}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "mariadbd exited: " + (self.base / "error.log").read_text(errors="replace")
                )
            try:
                self.root().close()
                return
            except Exception as exc:  # noqa: BLE001 - any refusal while the server starts
                # (matched by name: in the full CI session pymysql's exception classes were
                # seen not to be the ones this module imported)
                if type(exc).__name__ not in ("OperationalError", "InternalError") and not (
                    isinstance(exc, OSError)
                ):
                    raise
                time.sleep(0.2)
        raise RuntimeError(
            f"mariadbd did not accept connections on {self.socket} within 60s: "
            + (self.base / "error.log").read_text(errors="replace")[-2000:]
        )

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def root(self, database=None):
        """Root connection through the unix socket (unix_socket auth, as on Debian)."""
        return pymysql.connect(
            unix_socket=self.socket, user="root", database=database, autocommit=True
        )

    def sql(self, statement, args=None, database=None):
        conn = self.root(database)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return cur.fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="session")
def mariadb():
    if os.geteuid() != 0:
        pytest.skip("the MariaDB test server runs as root (--user=root)")
    if not (
        shutil.which("mariadbd", path="/usr/sbin:/usr/bin") and shutil.which("mariadb-install-db")
    ):
        pytest.skip("needs Debian's mariadb-server (apt-get install -y mariadb-server)")
    # Its own directory, not pytest's numbered tmp dirs (other pytest sessions on the host
    # prune those): the server's datadir and socket must live as long as this session.
    base = pathlib.Path(tempfile.mkdtemp(prefix="layline-itest-mariadb-"))
    server = MariaDB(base)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def dbconfig(mariadb):
    """A fresh database and user for one test; the merged layline config pointing at it."""
    name = "layline_" + secrets.token_hex(4)
    user = "u_" + secrets.token_hex(4)
    password = "pw-" + secrets.token_hex(8)
    mariadb.sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    mariadb.sql(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    mariadb.sql(f"GRANT ALL PRIVILEGES ON {name}.* TO '{user}'@'127.0.0.1'")
    config = {
        "database": {
            "backend": "mysql",
            "hostname": "127.0.0.1",
            "port": mariadb.port,
            "name": name,
            "user": user,
            "password": password,
            "tls": "disabled",
            "connect_timeout": 5,
        }
    }
    yield config
    mariadb.sql(f"DROP DATABASE IF EXISTS {name}")
    mariadb.sql(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")


@pytest.fixture
def layline_db():
    """The execution module, loaded outside Salt's loader."""
    mod = _load("_modules/layline_db.py", "layline_db_integration")
    # the public functions of the execution module layline it calls (db_tls, tls_paths)
    mod.__salt__ = salt_functions(_load("_modules/layline.py", "layline_integration"))
    mod.__opts__ = {"test": False, "id": "ll-mysql"}
    return mod


@pytest.fixture
def layline_db_state(layline_db):
    """The state module wired to the execution module; ``__opts__['test']`` is settable."""
    st = _load("_states/layline_db.py", "layline_db_state_integration")
    st.__salt__ = {
        f"layline_db.{name}": getattr(layline_db, name)
        for name in dir(layline_db)
        if not name.startswith("_") and callable(getattr(layline_db, name))
    }
    st.__opts__ = {"test": False}
    return st
