"""
The rolling restart's, the first deployment's and the restore's planner: pure functions
over the formula's non-secret settings and the live data the runner gathered.

Used by the runner ``_runners/layline.py`` on the master (imported plainly, synced with
``salt-run saltutil.sync_all``); unit-tested without Salt. Nodes and addresses come from
``layline_model`` (the same code as the minions), constants from ``layline_schema``.

Settings: :py:func:`settings_of` (validates and keeps the non-secret keys only). Rolling
restart: :py:func:`wave_bounds`, :py:func:`largest_safe`, :py:func:`precheck`,
:py:func:`timespan_seconds`, :py:func:`stop_timeout_problems`, :py:func:`order_nodes`,
:py:func:`make_waves`, :py:func:`build_plan`, :py:func:`plan_text`. First deployment:
:py:func:`deploy_steps`, :py:func:`start_groups`. Restore: :py:func:`restore_plan`,
:py:func:`restore_plan_text`.
"""

from salt.exceptions import SaltInvocationError

import layline_model
from layline_checks import rolling_problems
from layline_schema import ENGINE_UNIT, FULL_RESTART, GRACEFUL_LEAVE_WORST_CASE

ROLLING_DEFAULTS = {
    "all": False,
    "max_unavailable": 1,
    "timeout": 300,
    "poll_interval": 0.5,
    # seconds the pre-check waits for configured engines that are still joining
    "join_timeout": 180,
    # a node failing its gate: rollback (default when its wave changes a version) or stop
    "on_failure": None,
}
# the unit states of an engine that may still join (the others: refuse at once)
ALIVE_UNIT_STATES = ("active", "activating", "reloading")
SETTINGS_KEYS = (
    "cluster",
    "ports",
    "config_server",
    "home",
    "rolling",
    "database",
    "tls",
    "monitoring",
)
# the keys of those sections the runner may see (never layline:database:password)
SECTION_KEYS = {
    "database": ("backend", "minion", "name"),
    "tls": ("enabled", "ca_minion"),
    "monitoring": ("minion",),
}
DATABASE_KEYS = SECTION_KEYS["database"]
# what the rolling restart and the restore cannot work without
REQUIRED_KEYS = ("cluster", "ports")
# systemd time span units (systemctl show) in seconds
_TIMESPAN_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1, "sec": 1, "min": 60, "h": 3600, "d": 86400}

# ---------------------------------------------------------------------------
# settings and addresses
# ---------------------------------------------------------------------------


def settings_of(config, required=()):
    """
    The non-secret part of the formula configuration the runner works with, validated:
    SaltInvocationError naming the key when a ``required`` key is missing or a key has
    the wrong type. Sections in ``SECTION_KEYS`` keep only their listed keys (the
    database password never passes).
    """
    if not isinstance(config, dict):
        raise SaltInvocationError(
            f"the runner's settings must be a mapping, not {type(config).__name__} "
            "(the orchestrations build them in layline/orch/settings.jinja)"
        )
    for key in required:
        if config.get(key) is None:
            raise SaltInvocationError(
                f"the runner's settings lack layline:{key} "
                "(the orchestrations build them in layline/orch/settings.jinja)"
            )
    for key in SETTINGS_KEYS:
        value = config.get(key)
        wanted = str if key == "home" else dict
        if value is not None and not isinstance(value, wanted):
            raise SaltInvocationError(
                f"layline:{key} must be a {'string' if wanted is str else 'mapping'}, "
                f"not {type(value).__name__}"
            )
    if "ports" in required:
        port = layline_model.section(config, "ports").get("cluster")
        if isinstance(port, bool) or not isinstance(port, int):
            raise SaltInvocationError(f"layline:ports:cluster must be an integer, not {port!r}")
    settings = {key: config.get(key) for key in SETTINGS_KEYS if key in config}
    for key, keep in SECTION_KEYS.items():
        if key in settings:
            section = layline_model.section(config, key)
            settings[key] = {name: section.get(name) for name in keep}
    rolling = dict(ROLLING_DEFAULTS)
    overrides = layline_model.section(config, "rolling")
    rolling.update({key: value for key, value in overrides.items() if value is not None})
    problems = rolling_problems(rolling)
    if problems:
        key, problem = problems[0]
        raise SaltInvocationError(f"layline:rolling:{key} {problem}, not {rolling.get(key)!r}")
    settings["rolling"] = rolling
    return settings


def address_of(settings, hostname):
    port = layline_model.section(settings, "ports").get("cluster")
    return layline_model.seed_address(hostname, port).lower()


def engine_nodes(settings):
    return [
        node
        for node in layline_model.nodes(settings)
        if isinstance(node, dict) and node.get("minion")
    ]


def norm(address):
    return str(address or "").strip().lower()


def up_addresses(view):
    return {
        norm(m.get("node"))
        for m in (view or {}).get("members", [])
        if isinstance(m, dict) and m.get("status") == "Up"
    }


# ---------------------------------------------------------------------------
# the split-brain resolver bound
# ---------------------------------------------------------------------------


def wave_bounds(count, strategy, quorum_size=None, min_nr_of_members=1):
    """
    Upper bounds on k, the engines restarting at once out of ``count`` members,
    as ``[(bound, why), ...]``: the running side keeps the split-brain
    resolver's decision and stays a cluster (docs/design.md, "Rolling restart").
    """
    bounds = []
    if strategy == "keep-majority":
        bounds.append(
            (
                (count - 1) // 2,
                f"keep-majority with {count} members: k <= (N-1)//2 = {(count - 1) // 2}",
            )
        )
    elif strategy == "static-quorum":
        quorum = quorum_size if isinstance(quorum_size, int) else count
        bounds.append(
            (
                count - quorum,
                f"static-quorum with quorum_size {quorum}: k <= N - quorum_size = {count - quorum}",
            )
        )
    elif strategy == "keep-oldest":
        bounds.append(
            (
                count - 1,
                "keep-oldest: the oldest restarts alone and a seed stays Up: "
                f"k <= N-1 = {count - 1}",
            )
        )
    elif strategy == "down-all":
        bounds.append(
            (1, "down-all: any unreachable member downs the whole cluster, so one node at a time")
        )
    else:
        bounds.append((1, f"unknown strategy {strategy!r}: one node at a time"))
    members = min_nr_of_members if isinstance(min_nr_of_members, int) else 1
    bounds.append(
        (
            count - members,
            f"min_nr_of_members {members}: k <= N - min_nr_of_members = {count - members}",
        )
    )
    bounds.append((count - 1, f"a seed node stays Up: k <= N-1 = {count - 1}"))
    return bounds


def largest_safe(count, strategy, quorum_size=None, min_nr_of_members=1):
    """
    Return ``(k, why, notes)``: the largest wave size and the rule that binds.

    One node at a time is always allowed (a graceful leave involves no
    downing decision, and a restart has to be possible at all); when even
    k = 1 exceeds a bound, ``notes`` says that a failure during the restart
    can cost the cluster (e.g. two members with keep-majority). A single
    engine (N = 1) restarts alone: that is a full outage, noted too.
    """
    bounds = wave_bounds(count, strategy, quorum_size, min_nr_of_members)
    bound, why = min(bounds, key=lambda item: item[0])
    notes = []
    if count <= 1:
        notes.append("a single engine: its restart is a full outage of the cluster")
    elif bound < 1:
        notes.append(
            f"{why}: even one node at a time leaves no margin; a failure of another "
            "node during a restart can down the cluster"
        )
    return max(bound, 1), why, notes


# ---------------------------------------------------------------------------
# the plan
# ---------------------------------------------------------------------------


def precheck(settings, view):
    """Problems that forbid a rolling restart (empty list: go), each naming nodes."""
    if view is None:
        return [
            "no engine answered on its management endpoint (layline.members): "
            "are the engines running?"
        ]
    problems = []
    nodes = engine_nodes(settings)
    by_address = {norm(m.get("node")): m for m in view.get("members", []) if isinstance(m, dict)}
    configured = {address_of(settings, node["hostname"]): node["minion"] for node in nodes}
    missing = [minion for address, minion in configured.items() if address not in by_address]
    not_up = [
        f"{minion} ({by_address[address].get('status')})"
        for address, minion in configured.items()
        if address in by_address and by_address[address].get("status") != "Up"
    ]
    unreachable = [
        norm(entry.get("node")) for entry in view.get("unreachable", []) if isinstance(entry, dict)
    ]
    unknown = sorted(address for address in by_address if address not in configured)
    if missing:
        problems.append(f"not a cluster member: {', '.join(missing)}")
    if not_up:
        problems.append(f"not Up: {', '.join(not_up)}")
    if unreachable:
        names = [configured.get(address, address) for address in unreachable]
        problems.append(f"unreachable: {', '.join(names)}")
    if not view.get("leader"):
        problems.append("the cluster has no leader")
    if unknown:
        problems.append(
            f"members not in layline:cluster:nodes: {', '.join(unknown)} "
            "(remove them from the cluster or add them to the pillar)"
        )
    return problems


def not_up_minions(settings, view):
    """The configured engines ``view`` does not list as Up (missing, or Joining, ...)."""
    statuses = {
        norm(m.get("node")): m.get("status")
        for m in (view or {}).get("members", [])
        if isinstance(m, dict)
    }
    return [
        node["minion"]
        for node in engine_nodes(settings)
        if statuses.get(address_of(settings, node["hostname"])) != "Up"
    ]


def joining_split(units, applying=()):
    """
    ``units``: ``{minion: the engine unit's ActiveState or None (no answer)}`` of the
    engines that are not Up; ``applying``: the minions running a state job. Returns
    ``(joining, dead)``: the minions whose unit runs or whose apply is still running (they
    may still join: wait for them) and ``["minion (unit failed)", ...]`` (refuse at once).
    """
    joining, dead = [], []
    for minion, state in sorted(units.items()):
        if state in ALIVE_UNIT_STATES or minion in applying:
            joining.append(minion)
        else:
            dead.append(f"{minion} (unit {state or 'state unknown: its minion did not answer'})")
    return joining, dead


def applying_minions(answers):
    """The minions of ``answers`` (``{minion: (ok, saltutil.running's jobs)}``) that run a
    state job: an apply that may still install and start the engine."""
    return {
        minion
        for minion, (ok, jobs) in answers.items()
        if ok
        and isinstance(jobs, list)
        and any(
            isinstance(job, dict) and str(job.get("fun", "")).startswith("state.") for job in jobs
        )
    }


def dead_problem(dead):
    return (
        f"not a cluster member and its {ENGINE_UNIT} is not running: {', '.join(dead)} "
        "(start it or fix it: journalctl -u layline-reactive-engine)"
    )


def timespan_seconds(text):
    """Seconds of a systemd time span as ``systemctl show`` prints it ("1min 30s", "90s",
    "infinity"); None when it cannot be read."""
    text = str(text or "").strip()
    if text == "infinity":
        return float("inf")
    total, found = 0.0, False
    for part in text.split():
        number = part.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = part[len(number) :] or "s"
        if unit not in _TIMESPAN_UNITS:
            return None
        try:
            total += float(number) * _TIMESPAN_UNITS[unit]
        except ValueError:
            return None
        found = True
    return total if found else None


def stop_timeout_problems(stop_timeouts):
    """Engines whose unit stop timeout is not above the graceful leave's worst case."""
    short = []
    for minion, text in sorted((stop_timeouts or {}).items()):
        seconds = timespan_seconds(text)
        if seconds is None or seconds <= GRACEFUL_LEAVE_WORST_CASE:
            short.append(f"{minion} ({text or 'unknown'})")
    if not short:
        return []
    return [
        f"TimeoutStopSec of {ENGINE_UNIT} not above {GRACEFUL_LEAVE_WORST_CASE} s (Pekko's "
        f"worst case of a graceful leave) on: {', '.join(short)}; apply the layline state "
        "there first (its unit sets 90 s)"
    ]


def order_nodes(settings, view, pending, not_ready):
    """Pending minions in restart order: not ready first, then newest to oldest."""
    nodes = {node["minion"]: node for node in engine_nodes(settings)}
    position = {
        norm(m.get("node")): index
        for index, m in enumerate((view or {}).get("members", []))
        if isinstance(m, dict)
    }
    oldest = norm((view or {}).get("oldest"))

    def key(minion):
        address = address_of(settings, nodes[minion]["hostname"])
        return (minion not in not_ready, address == oldest, -position.get(address, -1), minion)

    return sorted((m for m in pending if m in nodes), key=key)


def make_waves(ordered, oldest_minion, size):
    """Waves of at most ``size``; the oldest member alone in the last wave."""
    rest = [minion for minion in ordered if minion != oldest_minion]
    waves = [rest[index : index + size] for index in range(0, len(rest), size)]
    if oldest_minion in ordered:
        waves.append([oldest_minion])
    return waves


def _oldest_minion(settings, view):
    oldest = norm((view or {}).get("oldest"))
    for node in engine_nodes(settings):
        if address_of(settings, node["hostname"]) == oldest:
            return node["minion"]
    return None


def _requested_size(rolling):
    size = rolling.get("max_unavailable", 1)
    if rolling_problems({"max_unavailable": size}):
        raise SaltInvocationError(
            f"layline:rolling:max_unavailable must be an integer >= 1, not {size!r}"
        )
    return size


def build_plan(
    settings,
    view,
    markers,
    ready,
    config_server_marker=None,
    stop_timeouts=None,
    problems=None,
    done=None,
):
    """
    The rolling restart's plan, from live data.

    settings
        :py:func:`settings_of` the formula configuration
    view
        ``/cluster/members`` of one engine (None when none answered)
    markers
        ``{minion: marker or None}``: each engine's restart marker
        (``{"reasons": [...], "version": ...}``)
    ready
        ``{minion: bool}``: each engine's ``/ready``
    config_server_marker
        the config server's marker, or None
    stop_timeouts
        ``{minion: TimeoutStopUSec}`` of each engine's unit (``service.show``)
    problems
        refusals the runner found itself (engines whose unit is not running)
    done
        engines whose marker is older than their engine's start and asks for no release
        switch (restarted by hand): not restarted, their marker is cleared

    Returns ``{"refused": [...], "nodes": [...], "waves": [[minion, ...]],
    "max_unavailable", "largest_safe", "bound", "notes", "config_server",
    "text"}``; ``refused`` non-empty means nothing may be restarted.
    """
    rolling = settings["rolling"]
    cluster = layline_model.section(settings, "cluster")
    sbr = layline_model.section(cluster, "split_brain_resolver")
    nodes = engine_nodes(settings)
    refused = list(problems or []) + precheck(settings, view)
    count = len(nodes)
    safe, why, notes = largest_safe(
        count, sbr.get("strategy"), sbr.get("quorum_size"), cluster.get("min_nr_of_members", 1)
    )
    size = _requested_size(rolling)
    if size > safe:
        refused.append(
            f"layline:rolling:max_unavailable {size} is above the largest safe "
            f"value {safe} ({why}); use max_unavailable <= {safe}"
        )
    refused += [marker["error"] for marker in markers.values() if marker and "error" in marker]
    refused += [
        f"{minion}: {reason}: stop every engine, then start them all (README, TLS), "
        "then clear the markers (layline.clear_pending layline-reactive-engine)"
        for minion, marker in sorted(markers.items())
        if marker and "error" not in marker
        for reason in marker.get("reasons") or []
        if str(reason).startswith(FULL_RESTART)
    ]
    pending_minions = (
        {m for m, marker in markers.items() if marker}
        if not rolling.get("all")
        else {node["minion"] for node in nodes}
    )
    refused += stop_timeout_problems(
        {m: t for m, t in (stop_timeouts or {}).items() if m in pending_minions}
    )
    pending = {}
    for node in nodes:
        marker = markers.get(node["minion"])
        if rolling.get("all"):
            reasons = ["layline:rolling:all"] + list((marker or {}).get("reasons") or [])
            pending[node["minion"]] = {"reasons": reasons, "version": (marker or {}).get("version")}
        elif marker:
            pending[node["minion"]] = {
                "reasons": list(marker.get("reasons") or ["pending"]),
                "version": marker.get("version"),
            }
    not_ready = {minion for minion in pending if not ready.get(minion, False)}
    ordered = order_nodes(settings, view, pending, not_ready)
    oldest = _oldest_minion(settings, view)
    waves = make_waves(ordered, oldest, min(size, safe))
    hostnames = {node["minion"]: node["hostname"] for node in nodes}
    plan = {
        "refused": refused,
        "nodes": [
            {
                "minion": minion,
                "hostname": hostnames[minion],
                "reasons": pending[minion]["reasons"],
                "version": pending[minion]["version"],
                "ready": minion not in not_ready,
                "oldest": minion == oldest,
            }
            for minion in ordered
        ],
        "waves": waves,
        "max_unavailable": size,
        "largest_safe": safe,
        "bound": why,
        "notes": notes,
        "config_server": None,
        "done": sorted(done or []),
    }
    server = layline_model.section(settings, "config_server").get("minion")
    if server and config_server_marker:
        plan["config_server"] = {
            "minion": server,
            "reasons": list(config_server_marker.get("reasons") or ["pending"]),
            "version": config_server_marker.get("version"),
        }
    plan["text"] = plan_text(plan)
    return plan


def plan_text(plan):
    """The plan as the operator reads it (test=True and the runner's first lines)."""
    lines = []
    if plan["refused"]:
        lines.append("rolling restart REFUSED, nothing was restarted:")
        lines += [f"  - {reason}" for reason in plan["refused"]]
        return "\n".join(lines)
    done = [
        f"  {minion}: restarted by hand after its change: marker cleared, not restarted"
        for minion in plan.get("done") or []
    ]
    if not plan["waves"] and not plan["config_server"]:
        return "\n".join(
            ["nothing to restart: no engine and no config server has a restart pending", *done]
        )
    lines.append(
        f"rolling restart: {len(plan['nodes'])} engine(s) in {len(plan['waves'])} "
        f"wave(s) of at most {plan['max_unavailable']} (largest safe "
        f"{plan['largest_safe']}: {plan['bound']})"
    )
    details = {node["minion"]: node for node in plan["nodes"]}
    for index, wave in enumerate(plan["waves"], 1):
        for minion in wave:
            node = details[minion]
            extra = []
            if not node["ready"]:
                extra.append("not ready")
            if node["oldest"]:
                extra.append("oldest member")
            if node["version"]:
                extra.append(f"switch to {node['version']}")
            suffix = f" [{', '.join(extra)}]" if extra else ""
            lines.append(f"  wave {index}: {minion}{suffix}: {'; '.join(node['reasons'])}")
    if plan["config_server"]:
        server = plan["config_server"]
        lines.append(f"  then config server {server['minion']}: {'; '.join(server['reasons'])}")
    lines += done
    lines += [f"  note: {note}" for note in plan["notes"]]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# first deployment order (layline/orch/deploy.sls renders it)
# ---------------------------------------------------------------------------


def deploy_steps(config):
    """
    The ordered steps of the first deployment: the database minion, the config
    server, then each engine in seed order, each gated on health
    (``layline.ready``), last the monitoring minion when it has no other role.
    With ``tls: {enabled, ca_minion}`` and a database minion that is not the CA
    minion, ``layline.tls`` on the CA minion comes first (kind ``tls``): the
    database's certificate is signed there. With ``min_nr_of_members`` = m the
    first m engines cannot be Up before m members joined: they are deployed back
    to back and checked together.

    Returns ``[{"id", "kind": "state"|"ready"|"tls", "minion", "require"}]``
    (``require``: the id of the previous step or None).
    """
    steps = []
    database = layline_model.section(config, "database")
    server = layline_model.section(config, "config_server").get("minion")
    nodes = [
        node
        for node in (layline_model.section(config, "cluster").get("nodes") or [])
        if isinstance(node, dict)
    ]
    members = layline_model.section(config, "cluster").get("min_nr_of_members")
    members = max(members if isinstance(members, int) else 1, 1)

    def add(step_id, kind, minion, require):
        steps.append({"id": step_id, "kind": kind, "minion": minion, "require": require})
        return step_id

    last = None
    tls = layline_model.section(config, "tls")
    has_database = database.get("backend") == "mysql" and database.get("minion")
    if (
        tls.get("enabled")
        and has_database
        and tls.get("ca_minion") not in (None, database["minion"])
    ):
        # the database's certificate is signed by the CA minion: its CA comes first
        last = add("layline-orch-deploy-salt-state-tls-ca", "tls", tls["ca_minion"], last)
    if has_database:
        last = add("layline-orch-deploy-salt-state-database", "state", database["minion"], last)
    if server:
        last = add("layline-orch-deploy-salt-state-config-server", "state", server, last)
    started = 0
    for group in start_groups(nodes, members):
        for node in group:
            deployed = add(
                f"layline-orch-deploy-salt-state-{node['minion']}", "state", node["minion"], last
            )
            last = deployed
        started += len(group)
        # fewer engines than min_nr_of_members can never be Up: nothing to gate on
        for check in group if started >= members else []:
            last = add(
                f"layline-orch-deploy-salt-function-ready-{check['minion']}",
                "ready",
                check["minion"],
                deployed,
            )
    monitoring = layline_model.section(config, "monitoring").get("minion")
    if monitoring and monitoring not in {step["minion"] for step in steps}:
        add("layline-orch-deploy-salt-state-monitoring", "state", monitoring, last)
    return steps


def start_groups(nodes, min_nr_of_members=1):
    """
    Engines in seed order, grouped for a gated start: the first ``min_nr_of_members``
    cannot be Up before that many members joined, so they start back to back and are
    gated together; every later engine is started and gated alone.
    """
    members = min_nr_of_members if isinstance(min_nr_of_members, int) else 1
    members = max(members, 1)
    nodes = list(nodes)
    if not nodes:
        return []
    return [nodes[:members]] + [[node] for node in nodes[members:]]


# ---------------------------------------------------------------------------
# restore of a database backup
# ---------------------------------------------------------------------------


def restore_plan(settings, file, backup):
    """
    The restore's plan.

    settings
        :py:func:`settings_of` the formula configuration (with ``database``)
    file
        the backup to restore (``layline:restore:file``)
    backup
        the database minion's ``layline_db.check_backup`` answer for it (a dict), or
        the reason it cannot be restored (a string); None when not asked

    Returns ``{"refused": [...], "file", "database", "config_server", "stop",
    "start_groups", "text"}``; ``refused`` non-empty means nothing may change.
    """
    database = layline_model.section(settings, "database")
    server = layline_model.section(settings, "config_server").get("minion")
    nodes = engine_nodes(settings)
    cluster = layline_model.section(settings, "cluster")
    refused = []
    if not file:
        refused.append(
            "no backup file given: pass it as pillar layline:restore:file, e.g. "
            'salt-run state.orch layline.orch.restore pillar=\'{"layline": '
            '{"restore": {"file": "<name>"}}}\' (names: salt <database '
            "minion> layline_db.backups)"
        )
    if database.get("backend") != "mysql" or not database.get("minion"):
        refused.append(
            "layline:database:backend is not mysql with a layline:database:minion: "
            "only the MySQL backend has backups to restore"
        )
    elif file and not isinstance(backup, dict):
        refused.append(f"{database['minion']}: {backup}")
    groups = [
        [node["minion"] for node in group]
        for group in start_groups(nodes, cluster.get("min_nr_of_members", 1))
    ]
    plan = {
        "refused": refused,
        "file": backup.get("path", file) if isinstance(backup, dict) else file,
        "backup": backup if isinstance(backup, dict) else None,
        "database": database.get("minion"),
        "config_server": server,
        # the oldest (first seed) last: the others leave without moving singletons twice
        "stop": [node["minion"] for node in reversed(nodes)],
        "start_groups": groups,
    }
    plan["text"] = restore_plan_text(plan, database.get("name") or "layline")
    return plan


def restore_plan_text(plan, name):
    """The restore plan as the operator reads it (test=True and the runner's first lines)."""
    if plan["refused"]:
        return "\n".join(
            ["restore REFUSED, nothing was changed:"]
            + [f"  - {reason}" for reason in plan["refused"]]
        )
    backup = plan["backup"] or {}
    lines = [
        f"restore of {plan['file']} ({backup.get('size', '?')} bytes, "
        f"{backup.get('age', '?')} old) on {plan['database']}:"
    ]
    step = 0

    def add(text):
        nonlocal step
        step += 1
        lines.append(f"  {step}. {text}")

    if plan["stop"]:
        add(
            f"stop the engines gracefully (SIGTERM, they leave the cluster): "
            f"{', '.join(plan['stop'])}"
        )
    if plan["config_server"]:
        add(f"stop the config server {plan['config_server']}")
    add("count the journal rows")
    add(f"drop database {name}, create it again and load the backup")
    add("count the journal rows")
    if plan["config_server"]:
        add(f"start the config server {plan['config_server']}, wait until it listens")
    for group in plan["start_groups"]:
        add(f"start {', '.join(group)}, wait until Up and ready")
    return "\n".join(lines)
