"""The persistence journal: pekko-persistence-jdbc's ``event_journal`` table, simulated.

MySQL is real (pymysql; tables are never created). H2 is a JSON-lines file at the H2 url's
path plus ``.mv.db``. A background thread writes queued events and re-checks the backend
every few seconds; :attr:`Journal.healthy` feeds ``/ready``.
"""

import contextlib
import json
import logging
import os
import ssl
import threading
import time

from . import truststore

log = logging.getLogger("Journal")
RETRY_SECONDS = 3.0


class JournalError(Exception):
    """The backend cannot be used (message is safe to log: it never holds passwords)."""


class MemoryBackend:
    """Keeps nothing; always healthy."""

    def check(self):
        """Nothing to check."""

    def next_sequence_number(self, persistence_id):
        """Sequence numbers restart at 1."""
        return 1

    def write(self, row):
        """Drop the row."""

    def close(self):
        """Nothing to close."""


class H2FileBackend:
    """JSON lines in ``<path>.mv.db`` - stands in for the embedded H2 database."""

    def __init__(self, path):
        self.path = path

    def check(self):
        """Create the file (and its directory) if needed."""
        try:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            with open(self.path, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise JournalError(f"cannot open H2 database file {self.path}: {exc}") from exc

    def next_sequence_number(self, persistence_id):
        """One more than the highest sequence number stored for ``persistence_id``."""
        highest = 0
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if row.get("persistence_id") == persistence_id:
                    highest = max(highest, int(row.get("sequence_number", 0)))
        return highest + 1

    def write(self, row):
        """Append the row as one JSON line."""
        data = dict(row, event_payload=row["event_payload"].decode("utf-8"))
        try:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(data, sort_keys=True) + "\n")
        except OSError as exc:
            raise JournalError(f"cannot write H2 database file {self.path}: {exc}") from exc

    def close(self):
        """Nothing to close."""


class MySQLBackend:
    """A real MySQL/MariaDB ``event_journal`` through pymysql."""

    def __init__(self, settings):
        self.settings = settings
        self.conn = None

    def _connect(self):
        import pymysql

        s = self.settings
        kwargs = {}
        if s.ssl_required:
            kwargs["ssl"] = tls_context(s)
        else:
            kwargs["ssl_disabled"] = True
        try:
            self.conn = pymysql.connect(
                host=s.host,
                port=s.port,
                user=s.user,
                password=s.password,
                database=s.database or None,
                connect_timeout=3,
                read_timeout=5,
                write_timeout=5,
                autocommit=True,
                charset="utf8mb4",
                **kwargs,
            )
        except pymysql.MySQLError as exc:
            raise JournalError(_tls_message(exc, s) or _mysql_message(exc)) from exc
        except (TimeoutError, OSError, ssl.SSLError) as exc:
            raise JournalError(
                _tls_message(exc, s) or f"Communications link failure: {exc}"
            ) from exc

    def _execute(self, sql, args=None):
        import pymysql

        if self.conn is None:
            self._connect()
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        except pymysql.MySQLError as exc:
            self.close()
            raise JournalError(_mysql_message(exc)) from exc
        except OSError as exc:
            self.close()
            raise JournalError(f"Communications link failure: {exc}") from exc

    def check(self):
        """Connect and make sure ``event_journal`` exists (never creates it)."""
        self._execute("SELECT 1 FROM event_journal LIMIT 1")

    def next_sequence_number(self, persistence_id):
        """One more than the highest stored sequence number of ``persistence_id``."""
        rows = self._execute(
            "SELECT COALESCE(MAX(sequence_number), 0) FROM event_journal WHERE persistence_id = %s",
            (persistence_id,),
        )
        return int(rows[0][0]) + 1

    def write(self, row):
        """Insert one event row."""
        self._execute(
            "INSERT INTO event_journal (deleted, persistence_id, sequence_number, writer, "
            "write_timestamp, adapter_manifest, event_payload, event_ser_id, "
            "event_ser_manifest) VALUES (false, %s, %s, %s, %s, '', %s, %s, %s)",
            (
                row["persistence_id"],
                row["sequence_number"],
                row["writer"],
                row["write_timestamp"],
                row["event_payload"],
                row["event_ser_id"],
                row["event_ser_manifest"],
            ),
        )

    def close(self):
        """Drop the connection (reconnect on next use)."""
        if self.conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self.conn.close()
        self.conn = None


def tls_context(settings):
    """The SSL context of Connector/J's sslMode: VERIFY_CA/VERIFY_IDENTITY trust only the
    truststore the URL names (the JVM's default CAs without one), VERIFY_IDENTITY also checks
    the host name against the certificate's subjectAltName; REQUIRED verifies nothing."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not settings.ssl_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if settings.truststore_url:
        try:
            ders = truststore.load(
                settings.truststore_url, settings.truststore_type, settings.truststore_password
            )
        except truststore.TruststoreError as exc:
            raise JournalError(f"Communications link failure: {exc}") from exc
        ctx.load_verify_locations(cadata=b"".join(ders))
    else:
        ctx.load_default_certs()
    ctx.check_hostname = settings.ssl_verify_identity
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _tls_message(exc, settings):
    """Connector/J's words for a refused server certificate, or None."""
    text = str(exc)
    if "Hostname mismatch" in text or "IP address mismatch" in text:
        return (
            "Communications link failure: Server identity verification failed. None of the "
            "DNS or IP Subject Alternative Name entries matched the server hostname/IP "
            f"'{settings.host}'."
        )
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            "Communications link failure: the server certificate is not trusted "
            f"(PKIX path validation failed against {settings.truststore_url or 'the JVM'}"
            f"'s CAs): {text}"
        )
    return None


def _mysql_message(exc):
    """``(1146, "Table 'x.event_journal' doesn't exist")`` -> ``1146 Table ... exist``."""
    args = getattr(exc, "args", ())
    if len(args) >= 2:
        return f"[{args[0]}] {args[1]}"
    return str(exc)


def make_backend(settings):
    """Backend for JournalSettings."""
    if settings.kind == "mysql":
        return MySQLBackend(settings)
    if settings.kind == "h2":
        return H2FileBackend(settings.h2_file)
    return MemoryBackend()


class Journal:
    """Queue of events for one persistence id, written by a background thread."""

    def __init__(self, settings, persistence_id, writer, retry=RETRY_SECONDS):
        self.settings = settings
        self.persistence_id = persistence_id
        self.writer = writer
        self.retry = retry
        self.backend = make_backend(settings)
        self.healthy = False
        self.error = "journal not checked yet"
        self.written = 0
        self._pending = []
        self._next_seq = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._on_healthy = []

    def on_first_healthy(self, callback):
        """Call ``callback()`` once, the first time the journal works."""
        self._on_healthy.append(callback)

    def start(self):
        """Start the writer thread."""
        log.info("using %s for persistence id %s", self.settings.describe(), self.persistence_id)
        self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
        self._thread.start()

    def append(self, event):
        """Queue ``event`` (a JSON-able dict) for the journal."""
        with self._lock:
            self._pending.append((int(time.time() * 1000), event))
        self._wake.set()

    def flush(self, timeout):
        """Wait up to ``timeout`` seconds for queued events to be written (not when the
        backend is failing: those events are lost, as with a real failing journal)."""
        if not self.healthy:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            self._wake.set()
            time.sleep(0.05)
        return False

    def stop(self):
        """Stop the writer thread (pending events are dropped)."""
        self._stop.set()
        self._wake.set()
        self.backend.close()

    def _run(self):
        last_error, last_logged = None, 0.0
        while not self._stop.is_set():
            try:
                self._cycle()
                if not self.healthy:
                    log.info("journal is available (%s)", self.settings.describe())
                    callbacks, self._on_healthy = self._on_healthy, []
                    for callback in callbacks:
                        callback()
                self.healthy, self.error = True, None
                last_error = None
                self._wake.wait(self.retry)
            except JournalError as exc:
                self.healthy, self.error = False, str(exc)
                self._next_seq = None
                now = time.monotonic()
                if str(exc) != last_error or now - last_logged > 30:
                    log.error(
                        "journal %s failed: %s (retrying every %.0f s)",
                        self.settings.describe(),
                        exc,
                        self.retry,
                    )
                    last_error, last_logged = str(exc), now
                self._stop.wait(self.retry)
            except Exception as exc:  # unexpected: keep the engine alive, report unhealthy
                self.healthy, self.error = False, f"{type(exc).__name__}: {exc}"
                log.exception("journal failure")
                self._stop.wait(self.retry)
            self._wake.clear()

    def _cycle(self):
        self.backend.check()
        if self._next_seq is None:
            self._next_seq = self.backend.next_sequence_number(self.persistence_id)
        while True:
            with self._lock:
                if not self._pending:
                    return
                stamp, event = self._pending[0]
            self.backend.write(
                {
                    "persistence_id": self.persistence_id,
                    "sequence_number": self._next_seq,
                    "writer": self.writer,
                    "write_timestamp": stamp,
                    "event_payload": json.dumps(event, sort_keys=True).encode("utf-8"),
                    "event_ser_id": 1,
                    "event_ser_manifest": "membership",
                }
            )
            self._next_seq += 1
            self.written += 1
            with self._lock:
                self._pending.pop(0)
