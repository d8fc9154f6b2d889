"""
States for the layline MySQL schema.

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

Connection settings come from ``layline:database`` of the model the
``layline_db`` execution module reads on the minion; ``config`` (the merged
model) is for tests only - an SLS never passes it, so the password is in no
state data. Comments and changes never contain the password.
"""

import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "layline_db"


def __virtual__():
    if "layline_db.apply_schema" in __salt__:
        return __virtualname__
    return (False, "layline_db execution module not loaded (needs pymysql in Salt's Python)")


def _ret(name):
    return {"name": name, "changes": {}, "result": True, "comment": ""}


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
    return _wait_state(name, config, timeout, interval, need_tables=False,
                       goal="to accept the login")
