"""
States for the layline MySQL schema, the JDBC truststore and the accounts' TLS.

:depends: the ``layline_db`` execution module (pymysql in Salt's Python)

.. code-block:: yaml

    layline-schema-layline_db-reachable:
      layline_db.reachable:
        - name: layline
        - timeout: 300

    layline-schema-layline_db-schema_present:
      layline_db.schema_present:
        - name: /opt/layline/scripts/sql/mysql/persistence-schema.sql

    layline-service-layline_db-tables_present:
      layline_db.tables_present:
        - name: layline
        - timeout: 300
        - interval: 5

    layline-config-truststore-layline_db-truststore_present:
      layline_db.truststore_present:
        - name: /etc/layline/tls/truststore.jks
        - ca: /etc/layline/tls/ca.crt
        - group: layline

Connection settings come from ``layline:database`` of the model the
``layline_db`` execution module reads on the minion; ``config`` (the merged
model) is for tests only - an SLS never passes it, so the password is in no
state data. Comments and changes never contain the password.
"""

import base64
import grp
import os
import pwd
import time

from salt.exceptions import CommandExecutionError

import layline_files
import layline_model
import layline_schema
import layline_sync

# a re-sync in this process takes effect (see layline_sync)
layline_sync.refresh(layline_schema, layline_files, layline_model)

__virtualname__ = "layline_db"


def __virtual__():
    if "layline_db.apply_schema" in __salt__:
        return __virtualname__
    return (False, "layline_db execution module not loaded (needs pymysql in Salt's Python)")


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


def account_present(name, host, config=None, **connection):
    """
    The MySQL account ``name``@``host`` exists with the password of
    ``layline:database:password``: ``mysql_user.present`` with the password's native hash,
    computed here from the model read on the minion. Neither the password nor its hash is
    state data, a function's return or part of this state's output (``******`` instead).

    connection
        ``connection_host``, ``connection_user``, ... as ``mysql_user.present`` takes them

    .. code-block:: yaml

        layline-mysql-layline_db-account_present-10.0.0.5:
          layline_db.account_present:
            - name: layline
            - host: 10.0.0.5
            - connection_unix_socket: /run/mysqld/mysqld.sock
    """
    model = config
    try:
        if model is None:
            model = layline_model.load(__salt__["slsutil.renderer"], __context__, __pillar__)
        password = (model.get("database") or {}).get("password")
        password_hash = layline_model.mysql_native_hash(password)
    except (CommandExecutionError, layline_model.ModelError) as exc:
        ret = _ret(name)
        ret.update(result=False, comment=f"{name}@{host}: {exc}")
        return ret
    ret = __states__["mysql_user.present"](
        name=name, host=host, password_hash=password_hash, **connection
    )
    secrets = [password_hash, str(password)]
    return _scrub(ret, secrets)


def _scrub(value, secrets):
    """``value`` (a state return) with every secret string replaced by the mask."""
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret:
                value = value.replace(secret, layline_schema.MASK)
    return value


def _tables_text(tables):
    return ", ".join(tables) if tables else "none"


def _required():
    return list(__salt__["layline_db.required_tables"]())


def _describe(config):
    db = __salt__["layline_db.describe"](config)
    return db


def schema_present(name, config=None):
    """
    Create the missing layline tables (and their indexes) from the DDL file ``name``.

    Only statements for missing tables/indexes run (see
    ``layline_db.plan_schema``); existing tables and their rows are never
    touched. After applying, the required tables (event_journal, event_tag,
    snapshot) must exist, else the state fails naming the missing ones.

    With ``test=True`` nothing runs: the comment lists what would be created
    (result ``None``), or result ``True`` when nothing is missing.

    name
        Path of the DDL file, e.g. ``/opt/layline/scripts/sql/mysql/persistence-schema.sql``.

    config
        The merged model, for tests only; by default it is read on the minion.
    """
    ret = _ret(name)
    where = _describe(config)
    if __opts__["test"]:
        try:
            todo = __salt__["layline_db.plan_schema"](config, name)
        except CommandExecutionError as exc:
            ret["result"] = None
            ret["comment"] = (
                f"Would create the missing layline tables from {name}; cannot check now: {exc}"
            )
            return ret
        tables = [it["table"] for it in todo if it["kind"] == "table"]
        indexes = [f"{it['table']}.{it['index']}" for it in todo if it["kind"] == "index"]
        if not tables and not indexes:
            ret["comment"] = f"All tables and indexes of {name} exist in {where}"
            return ret
        ret["result"] = None
        ret["comment"] = (
            f"Would create in {where}: tables {_tables_text(tables)}; "
            f"indexes {_tables_text(indexes)}"
        )
        ret["changes"] = {"created_tables": tables, "created_indexes": indexes}
        return ret

    try:
        created = __salt__["layline_db.apply_schema"](config, name)
        missing = __salt__["layline_db.missing_tables"](config)
    except CommandExecutionError as exc:
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    changes = {key: value for key, value in created.items() if value}
    ret["changes"] = changes
    if missing:
        ret["result"] = False
        ret["comment"] = (
            f"After applying {name}, required tables are still missing in {where}: "
            f"{', '.join(missing)}. Does the file create them (CREATE TABLE ...)? "
            f"Created in this run: tables {_tables_text(created['created_tables'])}"
        )
        return ret
    if changes:
        ret["comment"] = (
            f"Created in {where}: tables {_tables_text(created['created_tables'])}; "
            f"indexes {_tables_text(created['created_indexes'])}"
        )
    else:
        ret["comment"] = f"All tables and indexes of {name} already exist in {where}"
    return ret


def _wait(config, timeout, interval, need_tables):
    """Poll until reachable (and the tables exist); return (ok, message, waited)."""
    timeout = max(0.0, float(timeout))
    interval = max(0.1, float(interval))
    start = time.monotonic()
    while True:
        status = __salt__["layline_db.status"](config)
        ok = status["reachable"] and (not need_tables or not status["missing_tables"])
        if ok:
            return True, status, time.monotonic() - start
        elapsed = time.monotonic() - start
        if __opts__["test"] or elapsed + interval > timeout:
            return False, status, elapsed
        time.sleep(interval)


def _status_text(status):
    if not status["reachable"]:
        return status["message"]
    if status["missing_tables"]:
        return f"missing tables: {', '.join(status['missing_tables'])}"
    return status["message"]


def _wait_state(name, config, timeout, interval, need_tables, goal):
    """The state return of a bounded wait for the database (``goal`` says for what)."""
    ret = _ret(name)
    where = _describe(config)
    ok, status, waited = _wait(config, timeout, interval, need_tables=need_tables)
    if ok:
        ret["comment"] = f"{where} is ready: {status['message']} (waited {waited:.0f}s)"
        return ret
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = (
            f"{where} is not ready yet ({_status_text(status)}); would wait up to {timeout}s "
            f"for it {goal}"
        )
        return ret
    ret["result"] = False
    ret["comment"] = (
        f"Timed out after {waited:.0f}s (timeout {timeout}s) waiting for {where} {goal}; "
        f"last check: {_status_text(status)}"
    )
    return ret


def tables_present(name, config=None, timeout=300, interval=5):
    """
    Wait (bounded) until the layline database is reachable with the configured
    user and the tables event_journal, event_tag and snapshot exist.

    Never creates anything: use it on engines before starting them, or after
    ``schema_present`` on another minion. With ``test=True`` it checks once
    (result ``None`` if not ready yet).

    name
        A label for the state.

    config
        The merged model, for tests only; by default it is read on the minion.

    timeout
        Seconds to wait at most (default 300).

    interval
        Seconds between checks (default 5).
    """
    goal = f"to be reachable and to have tables {', '.join(_required())}"
    return _wait_state(name, config, timeout, interval, need_tables=True, goal=goal)


def reachable(name, config=None, timeout=300, interval=5):
    """
    Wait (bounded) until the layline database accepts a login of the configured user.

    Tables are not checked. With ``test=True`` it checks once (result ``None``
    if not reachable yet).

    name
        A label for the state.

    config
        The merged model, for tests only; by default it is read on the minion.

    timeout
        Seconds to wait at most (default 300).

    interval
        Seconds between checks (default 5).
    """
    return _wait_state(
        name, config, timeout, interval, need_tables=False, goal="to accept the login"
    )


def privileges_reduced(name, host, database, privileges, **connection_args):
    """
    Revoke what the account ``name``@``host`` holds beyond ``privileges`` on
    ``<database>.*`` (and anything on other targets), so an account made with
    broader grants (the guide's ``ALL PRIVILEGES``, an engine that used to own
    the schema) ends with exactly what its role needs. Granting is
    ``mysql_grants.present``'s job; an account that does not exist yet is left
    alone. With ``test=True`` nothing is revoked: the comment names what would
    be.

    connection_args
        saltext.mysql's ``connection_*`` arguments (``connection_unix_socket``, ...).

    .. code-block:: yaml

        layline-mysql-layline_db-privileges_reduced-10.0.0.5:
          layline_db.privileges_reduced:
            - name: layline
            - host: 10.0.0.5
            - database: layline
            - privileges: [SELECT, INSERT, UPDATE, DELETE]
            - connection_unix_socket: /run/mysqld/mysqld.sock
    """
    ret = _ret(name)
    account = f"'{name}'@'{host}'"
    if "mysql.user_grants" not in __salt__:
        ret["result"] = False
        ret["comment"] = (
            "saltext.mysql is not loaded (mysql.user_grants): apply layline.python first"
        )
        return ret
    grants = __salt__["mysql.user_grants"](name, host, **connection_args)
    # a missing account reads as False (saltext.mysql); the present states create it
    __context__.pop("mysql.error", None)
    excess = __salt__["layline_db.excess_privileges"](grants or [], database, privileges)
    if not excess:
        ret["comment"] = f"{account} holds no more than {', '.join(privileges)} on {database}.*"
        return ret
    wording = "; ".join(f"{', '.join(privs)} ON {target}" for target, privs in excess.items())
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"Would revoke from {account}: {wording}"
        ret["changes"] = {"revoked": excess}
        return ret
    for target, privs in excess.items():
        rest = [priv for priv in privs if priv != "GRANT OPTION"] or ["USAGE"]
        done = __salt__["mysql.grant_revoke"](
            ",".join(rest),
            target,
            name,
            host,
            grant_option="GRANT OPTION" in privs,
            **connection_args,
        )
        if not done:
            error = __context__.pop("mysql.error", None) or "unknown error"
            ret["result"] = False
            ret["comment"] = f"Cannot revoke {', '.join(privs)} ON {target} from {account}: {error}"
            return ret
    ret["changes"] = {"revoked": excess}
    ret["comment"] = f"Revoked from {account}: {wording}"
    return ret


def truststore_present(name, ca, user="root", group="root", mode="0640"):
    """
    The JDBC truststore ``name`` (a JKS) holds exactly the certificates of the PEM file
    ``ca`` (the cluster CA); written atomically, owned ``user``:``group`` with ``mode``.
    No change when the file already has these bytes and this ownership.

    name
        Path of the truststore, e.g. ``/etc/layline/tls/truststore.jks``.

    ca
        The CA certificate(s) in PEM, e.g. ``/etc/layline/tls/ca.crt``.
    """
    ret = _ret(name)
    if __opts__["test"] and not os.path.exists(ca):
        # layline.tls creates the CA earlier in the same run
        ret["result"] = None
        ret["comment"] = f"Truststore {name} would be made from {ca} (not there yet)"
        ret["changes"] = {"truststore": "created"}
        return ret
    try:
        data = base64.b64decode(__salt__["layline_db.truststore_data"](ca))
        uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    except (CommandExecutionError, KeyError) as exc:
        ret["result"], ret["comment"] = False, f"Cannot build the truststore {name}: {exc}"
        return ret
    want_mode = int(str(mode), 8)
    directory, base = os.path.split(name)
    try:
        # the hardened reader/writer: a link or fifo planted at the path is replaced, never
        # followed, and the file appears whole with its final owner and mode
        dir_fd = layline_files.open_dir(directory or ".")
    except CommandExecutionError as exc:
        ret["result"], ret["comment"] = False, f"Cannot write the truststore {name}: {exc}"
        return ret
    try:
        current = layline_files.read_current(dir_fd, base)
        if current == (data, uid, gid, want_mode):
            ret["comment"] = f"Truststore {name} holds the certificates of {ca}"
            return ret
        change = "created" if current is None else "updated"
        if __opts__["test"]:
            ret["result"] = None
            ret["comment"] = f"Truststore {name} would be {change} from {ca}"
            ret["changes"] = {"truststore": change}
            return ret
        layline_files.write_at(dir_fd, base, data, uid, gid, want_mode)
    except OSError as exc:
        ret["result"], ret["comment"] = False, f"Cannot write the truststore {name}: {exc}"
        return ret
    finally:
        os.close(dir_fd)
    ret["comment"] = f"Truststore {name} {change} from {ca}"
    ret["changes"] = {"truststore": change}
    return ret


def account_tls(name, host, required=True, **connection_args):
    """
    The MySQL account ``'name'@'host'`` must use TLS (``REQUIRE SSL``) when ``required``,
    else ``REQUIRE NONE``. saltext.mysql's ``mysql_grants`` sets ``REQUIRE`` only when it
    creates a grant; this state also converges existing accounts. ``connection_*``
    arguments as for saltext.mysql (root through the unix socket).

    .. code-block:: yaml

        layline-mysql-layline_db-account_tls-ll-node-1:
          layline_db.account_tls:
            - name: layline
            - host: ll-node-1.orb.local
            - connection_unix_socket: /run/mysqld/mysqld.sock
            - connection_user: root
    """
    account = f"'{name}'@'{host}'"
    ret = _ret(account)
    want = "REQUIRE SSL" if required else "REQUIRE NONE"
    try:
        current = __salt__["layline_db.account_requires_tls"](name, host, **connection_args)
    except CommandExecutionError as exc:
        ret["result"], ret["comment"] = False, str(exc)
        return ret
    if current is None and not __opts__["test"]:
        ret["result"], ret["comment"] = False, f"MySQL account {account} does not exist"
        return ret
    if current is not None and bool(current) == bool(required):
        ret["comment"] = f"MySQL account {account} has {want}"
        return ret
    if __opts__["test"]:
        ret["result"], ret["comment"] = None, f"MySQL account {account} would get {want}"
        ret["changes"] = {"require": want}
        return ret
    try:
        __salt__["layline_db.set_account_tls"](name, host, required, **connection_args)
    except CommandExecutionError as exc:
        ret["result"], ret["comment"] = False, str(exc)
        return ret
    ret["comment"] = f"MySQL account {account} now has {want}"
    ret["changes"] = {"require": want}
    return ret
