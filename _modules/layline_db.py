"""
layline MySQL helpers: reachability checks and idempotent schema application.

:depends: pymysql (and ``cryptography`` for MySQL 8 ``caching_sha2_password``)
          in Salt's own Python; the ``layline.python`` state installs them.

All connection settings come from the single pillar key ``layline:database``
(``hostname``, ``port``, ``name``, ``user``, ``password``, ``tls``). Without
``config`` (which remains for tests) every function reads the model on the
minion through ``layline_model.load`` (``_utils``) - the one merge of
``layline/defaults.yaml`` and the pillar, with the real password (in Salt 3008
``pillar.get`` returns masked values in module context); canonical addresses come
from ``layline_address``. Secrets are scrubbed from messages by
``layline_model.redact``, the one scrubber.

The pekko-persistence-jdbc DDL is not idempotent (its
``CREATE UNIQUE INDEX event_journal_ordering_idx`` has no ``IF NOT EXISTS``), so
the file is never replayed as a whole: :py:func:`plan_schema` runs a
``CREATE TABLE`` only for a missing table and a ``CREATE INDEX`` only when its
table was created in the same run or the index is missing. Nothing is ever
dropped, altered or rewritten.

Messages name host, port, user and database, never the password.

TLS (``layline:database:tls: verify-identity``, the default): every connection of this
module checks the server certificate against the cluster CA (``layline.tls_paths``) and
that it names ``layline:database:hostname``, as the engines' Connector/J does with
``sslMode=VERIFY_IDENTITY``. The JDBC truststore (a JKS holding the CA) is written from
data here (:py:func:`truststore_data`): minions have no JDK.
"""

import base64
import contextlib
import datetime
import gzip
import hashlib
import ipaddress
import logging
import os
import re
import shutil
import ssl
import struct
import subprocess
import tempfile
import time
import zlib

from salt.exceptions import CommandExecutionError

import layline_address
import layline_model
import layline_schema
import layline_sync

# a re-sync in this process takes effect (see layline_sync)
layline_sync.refresh(layline_schema, layline_model, layline_address)
# the utils this module was written for: an older synced copy counts as not synced
UTILS_API = 6

try:
    import pymysql

    HAS_PYMYSQL = True
except ImportError:  # pragma: no cover - depends on the minion
    HAS_PYMYSQL = False

log = logging.getLogger(__name__)

__virtualname__ = "layline_db"

#: Tables the layline engines and the config server need (pekko-persistence-jdbc).
REQUIRED = ("event_journal", "event_tag", "snapshot")

#: Seconds a login attempt may take.
CONNECT_TIMEOUT = 10
#: Keys of ``layline:database`` a connection needs (defaults: ``layline/defaults.yaml``).
CONNECTION_KEYS = ("hostname", "port", "name", "user", "password")

#: Root-only option file of the backup and the restore (layline.backup writes it).
BACKUP_OPTION_FILE = "/etc/layline-backup/client.cnf"
#: Backup files: layline-<UTC time>.sql.gz (the names sort by time).
BACKUP_NAME_RE = re.compile(r"^layline-\d{8}T\d{6}Z\.sql\.gz$")
#: The last line of a complete mariadb-dump/mysqldump output.
DUMP_COMPLETED = b"-- Dump completed"
#: Seconds a restore's load may take.
RESTORE_TIMEOUT = 6 * 3600
# Error numbers of the MySQL client that mean "not there": unknown database, unknown table.
ER_BAD_DB = 1049
ER_NO_SUCH_TABLE = 1146

# Error numbers of the MySQL protocol that mean "already there".
ER_TABLE_EXISTS = 1050
ER_DUP_KEYNAME = 1061


def __virtual__():
    problem = layline_sync.out_of_date(layline_schema, UTILS_API)
    if problem:
        return False, problem
    # Loads without pymysql on purpose: allowed_hosts() and the DDL helpers are
    # used while rendering layline.mysql, before the layline.python state installed
    # pymysql. Functions that talk to the database raise an actionable error.
    return __virtualname__


# --------------------------------------------------------------------------- config


def _config(config=None):
    """The merged layline model: ``config`` (tests) or the one read on this minion."""
    if config is None:
        config = layline_model.load(__salt__["slsutil.renderer"], __context__, __pillar__)
    if not isinstance(config, dict):
        raise CommandExecutionError(
            f"layline_db: config must be the merged layline mapping, got {type(config).__name__}"
        )
    return config


def _db(config=None):
    """The ``database`` section of the model (its defaults come from defaults.yaml)."""
    db = dict(_config(config).get("database") or {})
    missing = [key for key in CONNECTION_KEYS if key not in db]
    if missing:
        raise CommandExecutionError(
            f"layline:database:{missing[0]} is missing from the model: is the layline formula "
            "(layline/defaults.yaml) in the master's file_roots?"
        )
    try:
        db["port"] = int(db["port"])
    except (TypeError, ValueError) as exc:
        raise CommandExecutionError(
            f"layline:database:port must be a number, got {db['port']!r}"
        ) from exc
    return db


def _where(db):
    return f"{db['hostname']}:{db['port']} as user '{db['user']}' (database '{db['name']}')"


def describe(config=None):
    """
    Where the layline database is, for messages: host, port, user and database name.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_db.describe
    """
    return f"MySQL at {_where(_db(config))}"


def required_tables():
    """
    The tables layline needs: event_journal, event_tag, snapshot.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_db.required_tables
    """
    return list(REQUIRED)


def _redact(text, db):
    """Remove the password from ``text`` in case a driver message echoes it."""
    return layline_model.redact(str(text), {"database": db})


def _tls_ca(config=None):
    """The cluster CA file the server certificate must chain to, or None without TLS."""
    config = _config(config)
    if not __salt__["layline.db_tls"](config):
        return None
    return __salt__["layline.tls_paths"](config)["ca"]


def _ssl_context(ca):
    """Verify the chain to ``ca`` and the host name, TLS 1.2 or newer (Connector/J's
    VERIFY_IDENTITY)."""
    if not os.path.isfile(ca):
        raise CommandExecutionError(
            f"The cluster CA {ca} is missing, so the MySQL server cannot be verified "
            "(layline:database:tls is verify-identity): apply the layline.tls state on this minion"
        )
    context = ssl.create_default_context(cafile=ca)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _connect_args(config=None):
    """
    Keyword arguments for ``pymysql.connect`` built from ``layline:database``.

    With ``tls: verify-identity`` ``ssl`` is a context that trusts only the cluster CA
    and checks the host name; with ``tls: disabled`` TLS is off.

    Private: the result contains the password (a public function would hand it
    to the CLI, the job cache and the event bus).
    """
    db = _db(config)
    args = {
        "host": db["hostname"],
        "port": db["port"],
        "user": db["user"],
        "password": db["password"] or "",
        "database": db["name"],
        "connect_timeout": CONNECT_TIMEOUT,
        "charset": "utf8mb4",
    }
    ca = _tls_ca(config)
    if ca:
        args["ssl"] = _ssl_context(ca)
    else:
        args["ssl_disabled"] = True
    return args


def _connect(config=None):
    db = _db(config)
    if not HAS_PYMYSQL:
        raise CommandExecutionError(
            "layline_db needs pymysql in Salt's own Python to reach MySQL at "
            f"{_where(db)}: apply the layline.python state first"
        )
    try:
        return pymysql.connect(**_connect_args(config))
    except Exception as exc:  # driver or socket errors: pymysql classes may be reloaded
        code = exc.args[0] if exc.args else None
        detail = _redact(exc.args[1] if len(exc.args) > 1 else exc, db)
        hint = ""
        if code == 1045:
            hint = (
                " - check layline:database:user/password and that the user exists for this"
                " client host (layline:database:allowed_hosts; apply layline.mysql on the"
                " database minion)"
            )
        elif code == 1049:
            hint = " - the database does not exist yet: apply layline.mysql on the database minion"
        elif "CERTIFICATE_VERIFY_FAILED" in str(detail) or "certificate verify failed" in str(
            detail
        ):
            hint = (
                f" - the server's certificate is not valid for {db['hostname']} or not signed"
                f" by the cluster CA {_tls_ca(config)}: the database minion needs a certificate"
                " from the cluster CA naming layline:database:hostname (layline.tls), and MariaDB"
                " must have been restarted with it"
            )
        elif code in (2003, 2005, 2013):
            hint = (
                " - is the server running and listening on that address"
                " (layline:database:bind_address, firewall)?"
            )
        raise CommandExecutionError(
            f"Cannot connect to MySQL at {_where(db)}: [{code}] {detail}{hint}"
        ) from None


def check_connection(config=None):
    """
    Try to log in with the configured user and return ``(ok, message)``.

    The message names host, port, user and database, never the password.

    CLI Example:

    .. code-block:: bash

        salt ll-config-server layline_db.check_connection
    """
    db = _db(config)
    try:
        conn = _connect(config)
    except CommandExecutionError as exc:
        return False, str(exc)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            version = cur.fetchone()[0]
    except Exception as exc:  # driver or socket errors: pymysql classes may be reloaded
        return False, f"Connected to MySQL at {_where(db)} but a query failed: {_redact(exc, db)}"
    finally:
        conn.close()
    return True, f"Connected to MySQL at {_where(db)}, server {version}"


def _tables(cur, schema):
    cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        (schema,),
    )
    return sorted(row[0] for row in cur.fetchall())


def _indexes(cur, schema):
    cur.execute(
        "SELECT DISTINCT table_name, index_name FROM information_schema.statistics"
        " WHERE table_schema = %s",
        (schema,),
    )
    found = {}
    for table, index in cur.fetchall():
        found.setdefault(table, set()).add(index)
    return found


def _query(config, func, commit=False):
    """Run ``func(cursor, db)`` on a fresh connection; driver errors become actionable."""
    db = _db(config)
    conn = _connect(config)
    try:
        with conn.cursor() as cur:
            result = func(cur, db)
        if commit:
            conn.commit()
        return result
    except CommandExecutionError:
        raise
    except Exception as exc:  # driver or socket errors: pymysql classes may be reloaded
        raise CommandExecutionError(
            f"Query on MySQL at {_where(db)} failed: {_redact(exc, db)}"
        ) from None
    finally:
        conn.close()


def existing_tables(config=None):
    """
    Names of the tables in the layline database.

    CLI Example:

    .. code-block:: bash

        salt ll-config-server layline_db.existing_tables
    """
    return _query(config, lambda cur, db: _tables(cur, db["name"]))


def missing_tables(config=None):
    """
    Which of the required tables (event_journal, event_tag, snapshot) are missing.

    CLI Example:

    .. code-block:: bash

        salt ll-config-server layline_db.missing_tables
    """
    have = set(existing_tables(config))
    return [table for table in REQUIRED if table not in have]


#: What the engines' journal needs (pekko-persistence-jdbc reads, writes and deletes rows).
ENGINE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
#: The schema owner (the config server's role): the journal plus the DDL of layline.schema
#: (CREATE TABLE, CREATE INDEX, the FOREIGN KEY of event_tag). Nothing drops a table.
OWNER_PRIVILEGES = ENGINE_PRIVILEGES + ("CREATE", "ALTER", "INDEX", "REFERENCES")


def _account_host(value):
    """A MySQL account host from an IP, an IPv4 CIDR (MariaDB wants address/netmask),
    a host name or a pattern."""
    value = str(value).strip()
    if "/" in value:
        network = ipaddress.ip_network(value, strict=False)
        if network.prefixlen == network.max_prefixlen:
            return str(network.network_address)
        return f"{network.network_address}/{network.netmask}"
    return value


def account_list(config, resolve):
    """
    The accounts of the layline user as data, ``[{host, privileges, role}]``
    (pure; ``resolve(key)`` gives the canonical address of a node entry).

    - the config server (schema owner): OWNER_PRIVILEGES, host its canonical address
      (its hostname when ``skip_name_resolve`` is false);
    - the engines: ENGINE_PRIVILEGES, one account per engine the same way, or one per
      ``layline:database:allowed_hosts`` entry when that list is set.

    When one host has both roles (all-in-one) it gets the owner's privileges.
    """
    database = config.get("database") or {}
    by_name = database.get("skip_name_resolve") is False
    single = not (config.get("cluster") or {}).get("nodes")

    def host_of(key, entry):
        if by_name and entry.get("hostname"):
            return str(entry["hostname"])
        return resolve(key)

    accounts = {}
    server = config.get("config_server") or {}
    explicit = [_account_host(host) for host in database.get("allowed_hosts") or []]
    if single:
        # the single-host default: one host is config server and engine (owner); it reaches
        # a local database from 127.0.0.1, a remote one from an allowed_hosts entry
        owner_hosts = explicit or ["127.0.0.1"]
    else:
        owner_hosts = (
            [host_of("config_server", server)]
            if server.get("hostname") or server.get("address")
            else []
        )
    if explicit:
        engine_hosts = explicit
    elif single:
        engine_hosts = []
    else:
        engine_hosts = [
            host_of(f"cluster:nodes[{index}]", node)
            for index, node in enumerate((config.get("cluster") or {}).get("nodes"))
            if isinstance(node, dict)
        ]
    for host in owner_hosts:
        accounts.setdefault(
            host,
            {
                "host": host,
                "privileges": list(OWNER_PRIVILEGES),
                "role": "schema owner (config server)",
            },
        )
    for host in engine_hosts:
        accounts.setdefault(
            host, {"host": host, "privileges": list(ENGINE_PRIVILEGES), "role": "engine"}
        )
    return list(accounts.values())


def accounts(config=None):
    """
    The accounts of the layline database user (``'user'@'host'``) and their
    privileges on the layline database, ``[{host, privileges, role}]``: the config
    server owns the schema (DML and DDL), the engines get only the DML their
    journal needs. Hosts are the canonical addresses (resolved on this minion)
    while ``layline:database:skip_name_resolve`` is on (the default), else the
    hostnames; ``layline:database:allowed_hosts`` (IPs, IPv4 CIDRs, host names,
    patterns) replaces the engines' hosts.

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.accounts
    """
    config = _config(config)
    minion_id = __opts__["id"]
    return account_list(config, lambda key: layline_address.address(config, key, minion_id))


def allowed_hosts(config=None):
    """
    Hosts the layline database user has an account for (see :py:func:`accounts`).

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.allowed_hosts
    """
    return [account["host"] for account in accounts(config)]


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else value


def stale_account_hosts(rows, user, allowed):
    """Hosts of ``user``'s accounts in ``rows`` (``{User, Host}``) that ``allowed`` lacks."""
    allowed = {str(host).lower() for host in allowed}
    hosts = {
        _text(row.get("Host"))
        for row in rows
        if isinstance(row, dict)
        and _text(row.get("User")) == user
        and str(_text(row.get("Host"))).lower() not in allowed
    }
    return sorted(host for host in hosts if host is not None)


def root_connection(config=None):
    """
    The ``connection_*`` arguments with which this formula's MySQL states (saltext.mysql's
    and ``layline_db``'s) log in: as root through the server's unix socket
    (``layline:database:socket``), no password (unix_socket authentication). With
    ``layline:database:tls`` verify-identity, ``connection_ssl`` makes the driver verify
    the server's certificate against the cluster CA instead of loading the system's CA
    bundle for every connection (pymysql negotiates TLS on the socket unasked). The host
    name is not checked: the socket is local. No secret.

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.root_connection
    """
    db = _db(config)
    args = {
        "connection_unix_socket": db.get("socket"),
        "connection_host": "localhost",
        "connection_user": "root",
        "connection_pass": "",
        "connection_charset": "utf8",
    }
    ca = _tls_ca(config)
    if ca:
        args["connection_ssl"] = {"ca": ca, "check_hostname": False}
    return args


def stale_hosts(config=None, **connection_args):
    """
    Hosts of accounts of the layline user (``layline:database:user``) that
    :py:func:`allowed_hosts` no longer lists, e.g. of a node removed from
    ``layline:cluster:nodes``. Reads ``mysql.user`` through saltext.mysql's
    ``mysql.user_list`` with ``connection_args`` (``connection_unix_socket``,
    ``connection_user``, ...); never lists other users' accounts. Empty when
    saltext.mysql is not loaded yet or the server does not answer (a fresh
    server has no stale accounts).

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.stale_hosts connection_unix_socket=/run/mysqld/mysqld.sock
    """
    config = _config(config)
    socket = connection_args.get("connection_unix_socket")
    if "mysql.user_list" not in __salt__ or (socket and not os.path.exists(socket)):
        return []
    ssl_args = connection_args.get("connection_ssl") or {}
    if ssl_args.get("ca") and not os.path.isfile(ssl_args["ca"]):
        # first apply: the layline.tls state makes the CA after this render
        connection_args = {k: v for k, v in connection_args.items() if k != "connection_ssl"}
    rows = __salt__["mysql.user_list"](**connection_args)
    if __context__.pop("mysql.error", None) is not None or not isinstance(rows, (list, tuple)):
        # saltext.mysql's states read this shared key: a failed look-up must not fail them
        return []
    user = (config.get("database") or {}).get("user")
    return stale_account_hosts(rows, user, allowed_hosts(config))


_GRANT_RE = re.compile(r"^GRANT (?P<privs>.+?) ON (?P<target>\S+) TO ", re.IGNORECASE)


def _grant_target(target):
    # saltext.mysql escapes '_' in database grants (`layline\_db`.*): the same database
    return target.replace("`", "").replace('"', "").replace("\\", "")


def excess_privileges(grants, database, wanted):
    """
    Privileges the ``SHOW GRANTS`` lines ``grants`` give beyond ``wanted`` on
    ``<database>.*``, plus every privilege on any other target except the login
    itself (``USAGE ON *.*``): ``{target: [privilege, ...]}`` to revoke (pure).
    ``ALL PRIVILEGES`` is revoked as a whole (the wanted ones are granted again).

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.excess_privileges \
            '["GRANT ALL PRIVILEGES ON `layline`.* TO `layline`@`h`"]' layline '["SELECT"]'
    """
    wanted = {str(priv).upper() for priv in wanted}
    excess = {}
    for line in grants or []:
        match = _GRANT_RE.match(str(line))
        if not match:
            continue
        target = _grant_target(match.group("target"))
        privileges = [p.strip().upper() for p in match.group("privs").split(",") if p.strip()]
        own = target == f"{database}.*"
        extra = [p for p in privileges if p != "USAGE" and not (own and p in wanted)]
        if "ALL PRIVILEGES" in extra or "ALL" in extra:
            extra = ["ALL PRIVILEGES"]
        if "WITH GRANT OPTION" in str(line).upper():
            extra.append("GRANT OPTION")
        if extra:
            excess.setdefault(target, []).extend(
                p for p in extra if p not in excess.get(target, [])
            )
    return excess


# --------------------------------------------------------------------------- DDL parsing


def _split_sql(text):
    """Split SQL text on ``;`` outside quotes and comments; drop the comments."""
    statements = []
    buf = []
    i = 0
    n = len(text)
    quote = None
    while i < n:
        ch = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if quote:
            buf.append(ch)
            if ch == "\\" and quote != "`" and nxt:
                buf.append(nxt)
                i += 2
                continue
            if ch == quote:
                if nxt == quote:  # doubled quote inside a literal
                    buf.append(nxt)
                    i += 2
                    continue
                quote = None
            i += 1
            continue
        if ch in ("'", '"', "`"):
            quote = ch
            buf.append(ch)
        elif ch == "#" or (
            ch == "-" and nxt == "-" and text[i + 2 : i + 3] in ("", " ", "\t", "\r", "\n")
        ):
            end = text.find("\n", i)
            i = n if end < 0 else end
            buf.append(" ")
            continue
        elif ch == "/" and nxt == "*":
            end = text.find("*/", i + 2)
            if end < 0:
                raise CommandExecutionError("Unterminated /* comment in the schema file")
            i = end + 2
            buf.append(" ")
            continue
        elif ch == ";":
            statements.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if quote:
        raise CommandExecutionError(f"Unterminated {quote} quote in the schema file")
    statements.append("".join(buf))
    result = []
    for stmt in statements:
        stmt = "\n".join(line.rstrip() for line in stmt.strip().splitlines() if line.strip())
        if stmt:
            result.append(stmt)
    return result


def schema_statements(path):
    """
    Read a DDL file and return its statements (comments removed, no trailing ``;``).

    ``--``, ``#`` and ``/* */`` comments are removed; a ``;`` inside quotes
    (``'``, ``"``, `````) does not end a statement.

    CLI Example:

    .. code-block:: bash

        salt ll-config-server layline_db.schema_statements \\
            /opt/layline/scripts/sql/mysql/persistence-schema.sql
    """
    if not os.path.isfile(path):
        raise CommandExecutionError(
            f"Schema file {path} does not exist: install layline first (layline.install)"
            " or check layline:install_dir"
        )
    with open(path, encoding="utf-8") as fh:
        return _split_sql(fh.read())


_IDENT = r"(?:`[^`]+`|\"[^\"]+\"|[\w$]+)"
_NAME = rf"(?:{_IDENT}\s*\.\s*)?({_IDENT})"
_RE_TABLE = re.compile(
    rf"^CREATE\s+(TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}",
    re.I,
)
_RE_INDEX = re.compile(
    rf"^CREATE\s+(?:(?:UNIQUE|FULLTEXT|SPATIAL)\s+)?INDEX\s+"
    rf"(?:IF\s+NOT\s+EXISTS\s+)?({_IDENT})\s+(?:USING\s+\w+\s+)?ON\s+{_NAME}",
    re.I,
)
_RE_INSERT = re.compile(rf"^(?:INSERT|REPLACE)\s+(?:IGNORE\s+)?(?:INTO\s+)?{_NAME}", re.I)
_RE_SESSION = re.compile(r"^SET\s", re.I)
_RE_FORBIDDEN = re.compile(
    r"^(DROP|ALTER|TRUNCATE|DELETE|UPDATE|RENAME|GRANT|REVOKE|CREATE\s+OR\s+REPLACE)\b", re.I
)


def _unquote(name):
    name = name.strip()
    if len(name) > 1 and name[0] == name[-1] and name[0] in '`"':
        return name[1:-1]
    return name


def classify(statement):
    """
    Classify one DDL statement: ``{'kind': 'table'|'index'|'data'|'session', ...}``.

    ``table`` statements carry ``table``; ``index`` statements ``index`` and
    ``table``; ``data`` (INSERT) statements ``table``. Statements that could
    change or remove existing data (DROP, ALTER, TRUNCATE, DELETE, UPDATE,
    CREATE OR REPLACE, ...) and anything unknown raise CommandExecutionError.

    CLI Example:

    .. code-block:: bash

        salt '*' layline_db.classify 'CREATE TABLE IF NOT EXISTS snapshot (id INT)'
    """
    stmt = statement.strip()
    head = " ".join(stmt.split())[:60]
    if _RE_FORBIDDEN.match(stmt):
        raise CommandExecutionError(
            f"Refusing schema statement '{head}...': the layline schema is only ever created,"
            " never dropped or altered by the formula"
        )
    match = _RE_TABLE.match(stmt)
    if match:
        if match.group(1):
            return {"kind": "session", "statement": stmt}
        return {"kind": "table", "table": _unquote(match.group(2)), "statement": stmt}
    match = _RE_INDEX.match(stmt)
    if match:
        return {
            "kind": "index",
            "index": _unquote(match.group(1)),
            "table": _unquote(match.group(2)),
            "statement": stmt,
        }
    match = _RE_INSERT.match(stmt)
    if match:
        return {"kind": "data", "table": _unquote(match.group(1)), "statement": stmt}
    if _RE_SESSION.match(stmt):
        return {"kind": "session", "statement": stmt}
    raise CommandExecutionError(
        f"Unsupported statement in the schema file: '{head}...'. Only CREATE TABLE,"
        " CREATE [UNIQUE] INDEX, INSERT (into tables created in the same run) and SET are applied"
    )


def plan(statements, tables, indexes):
    """
    Decide which statements to run (pure function; see :py:func:`plan_schema`).

    ``tables``: names of the existing tables; ``indexes``: ``{table: {index, ...}}``
    of the existing indexes. Returns the classified statements to run, in file order.

    CLI Example:

    .. code-block:: bash

        salt '*' layline_db.plan '["CREATE TABLE t (a INT)"]' '[]' '{}'
    """
    existing = set(tables)
    indexes = {table: set(names) for table, names in (indexes or {}).items()}
    created = set()
    todo = []
    for stmt in statements:
        item = classify(stmt)
        kind = item["kind"]
        table = item.get("table")
        if kind == "session":
            todo.append(item)
        elif kind == "table" and table not in existing:
            created.add(table)
            existing.add(table)
            todo.append(item)
        elif (
            kind == "index" and table in existing and item["index"] not in indexes.get(table, set())
        ):
            indexes.setdefault(table, set()).add(item["index"])
            todo.append(item)
        elif kind == "data" and table in created:
            todo.append(item)
    # SET statements only matter for the statements they precede.
    if all(item["kind"] == "session" for item in todo):
        return []
    return todo


def plan_schema(config=None, path=None):
    """
    Which statements of the DDL file ``path`` must run against the layline database.

    A ``CREATE TABLE`` runs only when its table is missing; a ``CREATE [UNIQUE]
    INDEX`` only when its table is created in this run or the index is missing
    (``information_schema.statistics``); an ``INSERT`` only into a table created
    in this run. Existing tables are never touched.

    Returns a list of ``{'kind', 'table', ['index'], 'statement'}``.

    CLI Example:

    .. code-block:: bash

        salt ll-config-server layline_db.plan_schema \\
            path=/opt/layline/scripts/sql/mysql/persistence-schema.sql
    """
    if not path:
        raise CommandExecutionError("plan_schema needs path= the DDL file")
    statements = schema_statements(path)
    return _query(
        config,
        lambda cur, db: plan(statements, _tables(cur, db["name"]), _indexes(cur, db["name"])),
    )


def apply_schema(config=None, path=None):
    """
    Create the missing tables and indexes of the DDL file ``path``.

    Returns ``{'created_tables': [...], 'created_indexes': [...]}`` (empty lists
    when everything exists). Rows in existing tables are never touched.

    CLI Example:

    .. code-block:: bash

        salt ll-config-server layline_db.apply_schema \\
            path=/opt/layline/scripts/sql/mysql/persistence-schema.sql
    """
    if not path:
        raise CommandExecutionError("apply_schema needs path= the DDL file")
    statements = schema_statements(path)
    return _query(config, lambda cur, db: _run_plan(cur, db, statements), commit=True)


def _run_plan(cur, db, statements):
    """Execute what ``plan`` says is missing; report what was created."""
    result = {"created_tables": [], "created_indexes": []}
    for item in plan(statements, _tables(cur, db["name"]), _indexes(cur, db["name"])):
        try:
            cur.execute(item["statement"])
        except Exception as exc:  # driver or socket errors: pymysql classes may be reloaded
            code = exc.args[0] if exc.args else None
            # Another run created it in the meantime: nothing to do.
            if code in (ER_TABLE_EXISTS, ER_DUP_KEYNAME):
                log.info("layline_db: %s already exists", item.get("index", item["table"]))
                continue
            done = ", ".join(result["created_tables"] + result["created_indexes"])
            raise CommandExecutionError(
                f"Schema statement for {item['kind']} "
                f"'{item.get('index', item.get('table', ''))}' failed on MySQL at "
                f"{_where(db)}: {_redact(exc, db)}"
                f" (created before the failure: {done or 'nothing'})"
            ) from None
        if item["kind"] == "table":
            result["created_tables"].append(item["table"])
        elif item["kind"] == "index":
            result["created_indexes"].append(f"{item['table']}.{item['index']}")
    return result


def status(config=None):
    """
    Reachability and schema status: ``{'reachable', 'message', 'missing_tables'}``.

    ``missing_tables`` is ``None`` when the database cannot be reached.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_db.status
    """
    ok, message = check_connection(config)
    if not ok:
        return {"reachable": False, "message": message, "missing_tables": None}
    try:
        missing = missing_tables(config)
    except CommandExecutionError as exc:
        return {"reachable": False, "message": str(exc), "missing_tables": None}
    return {"reachable": True, "message": message, "missing_tables": missing}


# --------------------------------------------------------------------------- accounts


def _root_connect(connection_args):
    """A pymysql connection from saltext.mysql-style ``connection_*`` arguments (the states
    log in as root through the server's unix socket)."""
    if not HAS_PYMYSQL:
        raise CommandExecutionError(
            "layline_db needs pymysql in Salt's own Python: apply the layline.python state first"
        )
    names = {
        "connection_unix_socket": "unix_socket",
        "connection_host": "host",
        "connection_user": "user",
        "connection_pass": "password",
        "connection_port": "port",
        "connection_charset": "charset",
    }
    args = {
        names[key]: value
        for key, value in connection_args.items()
        if key in names and value not in (None, "")
    }
    args.setdefault("password", "")
    args["connect_timeout"] = CONNECT_TIMEOUT
    if "unix_socket" in args:
        # a local socket needs no TLS; unasked, pymysql negotiates it and loads the
        # system CA bundle on every connection
        args["ssl_disabled"] = True
    try:
        return pymysql.connect(**args)
    except Exception as exc:  # driver or socket errors: pymysql classes may be reloaded
        raise CommandExecutionError(
            f"Cannot log in to the local MySQL server as {args.get('user')!r}: {exc}"
        ) from None


def account_requires_tls(user, host, **connection_args):
    """
    Whether the MySQL account ``'user'@'host'`` must use TLS (``REQUIRE SSL`` or
    stricter); ``None`` when the account does not exist.

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.account_requires_tls layline ll-node-1.orb.local \\
            connection_unix_socket=/run/mysqld/mysqld.sock connection_user=root
    """
    conn = _root_connect(connection_args)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT ssl_type FROM mysql.user WHERE User = %s AND Host = %s", (user, host)
            )
            row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    return _text(row[0]) not in ("", None, "NONE")


def set_account_tls(user, host, required, **connection_args):
    """
    ``ALTER USER 'user'@'host' REQUIRE SSL`` (``required`` true) or ``REQUIRE NONE``.

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.set_account_tls layline ll-node-1.orb.local True \\
            connection_unix_socket=/run/mysqld/mysqld.sock connection_user=root
    """
    conn = _root_connect(connection_args)
    clause = "SSL" if required else "NONE"
    try:
        with conn.cursor() as cur:
            cur.execute(f"ALTER USER %s@%s REQUIRE {clause}", (user, host))
        conn.commit()
    except Exception as exc:  # driver or socket errors: pymysql classes may be reloaded
        raise CommandExecutionError(
            f"ALTER USER '{user}'@'{host}' REQUIRE {clause} failed: {exc}"
        ) from None
    finally:
        conn.close()
    return True


# --------------------------------------------------------------------------- truststore

JKS_MAGIC = 0xFEEDFEED
JKS_VERSION = 2
JKS_TRUSTED_CERT = 2
# JKS's keyed checksum: SHA-1 over the password (UTF-16BE), this phrase and the store
_JKS_WHITENER = b"Mighty Aphrodite"


def _jks_utf(text):
    data = text.encode("utf-8")
    return struct.pack(">H", len(data)) + data


def _jks_digest(password, body):
    secret = "".join(password).encode("utf-16-be")
    return hashlib.sha1(secret + _JKS_WHITENER + body).digest()  # noqa: S324 - JKS's format


def jks_encode(entries, password):
    """
    A Java KeyStore (JKS) of trusted-certificate entries: ``entries`` is a list of
    ``(alias, der_bytes, timestamp_ms)``. Pure function; the bytes depend only on the input.
    """
    body = struct.pack(">III", JKS_MAGIC, JKS_VERSION, len(entries))
    for alias, der, stamp in entries:
        body += struct.pack(">I", JKS_TRUSTED_CERT) + _jks_utf(alias.lower())
        body += struct.pack(">Q", int(stamp)) + _jks_utf("X.509")
        body += struct.pack(">I", len(der)) + der
    return body + _jks_digest(password, body)


def _pem_certificates(ca):
    """``[(der, not_before_ms)]`` of every certificate in the PEM file ``ca``."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        with open(ca, "rb") as fh:
            certs = x509.load_pem_x509_certificates(fh.read())
    except (OSError, ValueError) as exc:
        raise CommandExecutionError(f"Cannot read the CA certificate {ca}: {exc}") from None
    result = []
    for cert in certs:
        before = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before.replace(
            tzinfo=datetime.timezone.utc
        )
        result.append((cert.public_bytes(Encoding.DER), int(before.timestamp() * 1000)))
    return result


def _truststore_password():
    """The public truststore password of the layline module (the one the JDBC URL names)."""
    return layline_schema.TRUSTSTORE_PASSWORD


def truststore_data(ca):
    """
    The JDBC truststore (JKS, base64) holding every certificate of the PEM file ``ca``
    (aliases ``layline-ca``, ``layline-ca-2``, ...), protected by the public truststore
    password the JDBC URL names. The same CA gives the same bytes.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_db.truststore_data /etc/layline/tls/ca.crt
    """
    certs = _pem_certificates(ca)
    entries = [
        ("layline-ca" if index == 0 else f"layline-ca-{index + 1}", der, stamp)
        for index, (der, stamp) in enumerate(certs)
    ]
    return base64.b64encode(jks_encode(entries, _truststore_password())).decode("ascii")


# --------------------------------------------------------------------------- backups


def client_options(socket):
    """
    The text of the backup's option file (``--defaults-extra-file``): root through
    the server's unix socket, so no password exists to leak. ``socket`` comes from
    ``layline:database:socket`` (validated: an absolute path without quotes or
    whitespace) and is written quoted.

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.client_options /run/mysqld/mysqld.sock
    """
    socket = str(socket)
    if not socket.startswith("/") or re.search(r"[\s\x00-\x1f\x7f\"'\\]", socket):
        raise CommandExecutionError(
            f"layline:database:socket {socket!r} must be an absolute path without whitespace,"
            " quotes or backslashes"
        )
    return (
        "# Managed by Salt (layline.backup): local changes are overwritten.\n"
        "# Client login of layline-backup and layline_db.restore: MariaDB's root through\n"
        "# the server socket (unix_socket authentication), no password.\n"
        "[client]\n"
        "user = root\n"
        f'socket = "{socket}"\n'
    )


def _backup_settings(config=None):
    config = _config(config)
    backup = config.get("backup")
    if not isinstance(backup, dict) or not backup.get("dir"):
        raise CommandExecutionError(
            "layline:backup:dir is missing from the model: is the layline formula"
            " (layline/defaults.yaml) in the master's file_roots?"
        )
    return backup


def _age_text(seconds):
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    if not days:
        parts.append(f"{minutes}m")
    if not days and not hours:
        parts.append(f"{seconds}s")
    return " ".join(parts)


def list_backups(directory, now=None):
    """
    The backup files in ``directory`` (``layline-<UTC time>.sql.gz``), newest first:
    ``[{"file", "path", "size", "modified", "age_seconds", "age"}]``. Temporary
    files of a running backup and anything else are left out.

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.list_backups /var/backups/layline
    """
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        raise CommandExecutionError(
            f"backup directory {directory} does not exist: apply the layline state on the"
            " database minion (layline.backup creates it)"
        ) from None
    except OSError as exc:
        raise CommandExecutionError(f"cannot read backup directory {directory}: {exc}") from None
    found = []
    for entry in entries:
        if not BACKUP_NAME_RE.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        info = entry.stat(follow_symlinks=False)
        found.append(
            {
                "file": entry.name,
                "path": os.path.join(directory, entry.name),
                "size": info.st_size,
                "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(info.st_mtime)),
                "age_seconds": int(now - info.st_mtime),
                "age": _age_text(now - info.st_mtime),
            }
        )
    return sorted(found, key=lambda item: item["file"], reverse=True)


def backups(config=None):
    """
    The backups of the layline database on this (the database) minion, newest first,
    with size (bytes) and age: ``[{"file", "path", "size", "modified", "age_seconds",
    "age"}]``. Fails (non-zero exit) when ``layline:backup:dir`` does not exist.

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.backups
    """
    return list_backups(_backup_settings(config)["dir"])


def resolve_backup(name, directory):
    """
    The absolute path of backup ``name`` (a file name, or an absolute path) in
    ``directory``; refuses a path outside it, a link, a missing file, or a name
    that is not a backup's (``layline-<UTC time>.sql.gz``).

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.resolve_backup layline-20260101T020000Z.sql.gz /var/backups/layline
    """
    if not isinstance(name, str) or not name.strip():
        raise CommandExecutionError(
            "no backup file given: pass layline:restore:file, a name from"
            " `salt <database minion> layline_db.backups`"
        )
    path = name if name.startswith("/") else os.path.join(directory, name)
    if os.path.dirname(os.path.normpath(path)) != os.path.normpath(directory):
        raise CommandExecutionError(
            f"refusing {name}: a backup must be a file directly in layline:backup:dir ({directory})"
        )
    base = os.path.basename(path)
    if not BACKUP_NAME_RE.fullmatch(base):
        raise CommandExecutionError(
            f"refusing {name}: not a backup file name (layline-<UTC time>.sql.gz);"
            " `layline_db.backups` lists them"
        )
    if os.path.islink(path) or not os.path.isfile(path):
        raise CommandExecutionError(
            f"backup {base} does not exist in {directory} on this minion;"
            " `layline_db.backups` lists the backups there"
        )
    return path


def verify_dump(path):
    """
    Read the whole compressed dump: raise when it is not intact gzip or does not end
    with mariadb-dump's ``-- Dump completed`` line (a truncated or foreign file).

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.verify_dump /var/backups/layline/layline-20260101T020000Z.sql.gz
    """
    tail = b""
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                tail = (tail + chunk)[-4096:]
    except (OSError, EOFError, zlib.error) as exc:
        raise CommandExecutionError(f"backup {path} is damaged: {exc}") from None
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if not last.startswith(DUMP_COMPLETED):
        raise CommandExecutionError(
            f"backup {path} is incomplete: it does not end with mariadb-dump's"
            " '-- Dump completed' line"
        )


def check_backup(file, config=None):
    """
    Whether ``file`` (a name from :py:func:`backups`, or its path) can be restored:
    in ``layline:backup:dir``, present and complete. Returns its entry of
    :py:func:`backups`; raises (non-zero exit) with the reason otherwise.

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.check_backup layline-20260101T020000Z.sql.gz
    """
    directory = _backup_settings(config)["dir"]
    path = resolve_backup(file, directory)
    verify_dump(path)
    (entry,) = [item for item in list_backups(directory) if item["path"] == path]
    return entry


def _client_binary():
    binary = shutil.which("mariadb") or shutil.which("mysql")
    if not binary:
        raise CommandExecutionError(
            "neither mariadb nor mysql (the client) is installed: apply layline.mysql"
        )
    return binary


def _client(args, stdin=None, timeout=120):
    """Run the MySQL client as root through the option file; (returncode, stdout, stderr)."""
    if not os.path.isfile(BACKUP_OPTION_FILE):
        raise CommandExecutionError(
            f"{BACKUP_OPTION_FILE} is missing: apply the layline state on the database minion"
            " (layline.backup writes it)"
        )
    argv = [_client_binary(), f"--defaults-extra-file={BACKUP_OPTION_FILE}", "--batch", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=out, stderr=err
        )
        try:
            if stdin:
                # BrokenPipeError: the client stopped reading; its exit code and stderr say why
                with contextlib.suppress(BrokenPipeError):
                    shutil.copyfileobj(stdin, proc.stdin, 1 << 20)
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CommandExecutionError(
                f"the MySQL client did not finish within {timeout} s: {' '.join(args)[:80]}"
            ) from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        return (code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def _client_error(stderr):
    match = re.search(r"ERROR (\d+)", stderr)
    return int(match.group(1)) if match else None


def journal_rows(config=None):
    """
    The number of rows of ``event_journal`` in the layline database, read as root
    through the server socket; ``None`` when the database or the table does not
    exist (e.g. dropped).

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.journal_rows
    """
    name = _db(config)["name"]
    code, out, err = _client(
        ["--skip-column-names", "-e", "SELECT COUNT(*) FROM event_journal", name]
    )
    if code == 0:
        return int(out.split()[0])
    if _client_error(err) in (ER_BAD_DB, ER_NO_SUCH_TABLE):
        return None
    raise CommandExecutionError(f"counting the journal rows of {name} failed: {err.strip()}")


def restore(file, config=None):
    """
    Replace the layline database by backup ``file`` (a name from :py:func:`backups`,
    or its path in ``layline:backup:dir``), as root through the server socket.

    The file is checked first (in the backup directory, intact gzip, a complete
    dump): a bad file changes nothing. Then the database is dropped, created again
    (utf8mb4) and the dump loaded; nothing may write to it meanwhile (the restore
    orchestration stops the engines and the config server). A load that fails
    leaves a partial database: restore again. With ``test=True`` only the check runs.

    Returns ``{"file", "size", "database", "journal_rows", "seconds"}``.

    CLI Example:

    .. code-block:: bash

        salt ll-mysql layline_db.restore layline-20260101T020000Z.sql.gz
    """
    entry = check_backup(file, config)
    name = _db(config)["name"]
    if __opts__.get("test"):
        return {
            "file": entry["path"],
            "size": entry["size"],
            "database": name,
            "comment": f"would drop database {name} and load {entry['path']}",
        }
    started = time.monotonic()
    code, _out, err = _client(
        [
            "-e",
            f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"
            " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        ]
    )
    if code != 0:
        raise CommandExecutionError(f"recreating database {name} failed: {err.strip()}")
    with gzip.open(entry["path"], "rb") as dump:
        code, _out, err = _client([name], stdin=dump, timeout=RESTORE_TIMEOUT)
    if code != 0:
        raise CommandExecutionError(
            f"loading {entry['path']} into {name} failed (the database is partial now;"
            f" restore again): {err.strip()}"
        )
    log.info("layline_db: restored %s into %s", entry["path"], name)
    return {
        "file": entry["path"],
        "size": entry["size"],
        "database": name,
        "journal_rows": journal_rows(config),
        "seconds": round(time.monotonic() - started, 1),
    }
