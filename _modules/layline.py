"""
Execution module for layline.io, a Pekko-based stream processing platform.

Works on the formula configuration: the ``layline`` pillar deep-merged over
``layline/defaults.yaml`` and ``layline/osfamilymap.yaml`` (see
``docs/design.md``). Every public function takes an optional ``config`` dict
(the merged configuration, as ``map.jinja`` builds it); without it the module
renders ``salt://layline/map.jinja`` itself, so there is one merge only.

:depends: pyhocon (imported only where HOCON is parsed: ``render``, ``diagnose``);
          the ``layline.python`` state installs it. The module loads without it, so
          rendering the formula's SLS files never needs it.

Functions:

- configuration: ``mapdata``, ``roles``, ``monitoring``, ``is_multi_node``,
  ``validate``, ``render``, ``render_data``
- addresses: ``address`` (canonical address of a node entry), ``bind_address``
- Salt's own Python: ``python_missing``, ``python_ready``
- installation: ``version_installed``
- running cluster (read only): ``members``, ``ready``, ``status``,
  ``cluster_health``, ``diagnose``

``validate``, ``diagnose``, ``cluster_health`` and ``status`` return their data
and set a non-zero exit code (``salt``, ``salt-call``) when they find a problem.

Secrets (``database:password`` and any key named like a password, secret or
token) never appear in a return value, an error message or a log line: they
are shown as ``******``.

``extra_config`` keys: a key with dots is a HOCON path (``pekko.loglevel``
is ``pekko { loglevel }``); a key wrapped in double quotes is one literal key
(``'"com.example.Event"'`` stays ``"com.example.Event"``, as in HOCON).
"""

import importlib.metadata
import ipaddress
import logging
import os.path
import re
import socket

import layline_render
import salt.utils.http
from salt.exceptions import CommandExecutionError

import layline_address
import layline_checks
import layline_files
import layline_hocon
import layline_hostfacts
import layline_metrics
import layline_model
import layline_schema
import layline_signing
import layline_sync
import layline_systemd
import layline_validate
import layline_validate_db

# a re-sync in this process takes effect (see layline_sync); bind names after it
layline_sync.refresh(
    layline_schema,
    layline_files,
    layline_model,
    layline_address,
    layline_checks,
    layline_metrics,
    layline_hocon,
    layline_hostfacts,
    layline_validate_db,
    layline_validate,
    layline_render,
    layline_systemd,
    layline_signing,
)
_is_single_host = layline_model.is_single_host
_nodes = layline_model.nodes
_section = layline_model.section
_seed_address = layline_model.seed_address
_url_host = layline_model.url_host
_is_nonempty_str = layline_checks.is_nonempty_str
# the utils this module was written for: an older synced copy counts as not synced
UTILS_API = 6

log = logging.getLogger(__name__)

__virtualname__ = "layline"


def __virtual__():
    problem = layline_sync.out_of_date(layline_schema, UTILS_API)
    if problem:
        return False, problem
    # No dependency check: the SLS files call this module while they render, before the
    # layline.python state installed pyhocon. Functions that parse HOCON import it themselves.
    return __virtualname__


def _set_retcode(failed):
    """Make `salt`/`salt-call` exit non-zero when a check failed; the data is still returned."""
    if failed:
        __context__["retcode"] = 1


# ---------------------------------------------------------------------------
# configuration: loading, lookups, roles
# ---------------------------------------------------------------------------


def _load_config():
    """
    The merged model with its real secrets, rendered on the minion by salt://layline/map.jinja
    and cached in ``__context__`` (see :py:func:`layline_model.load`). Private on purpose:
    never a state argument, a return or a CLI answer.
    """
    return layline_model.load(__salt__["slsutil.renderer"], __context__, _pillar())


def _pillar():
    try:
        return __pillar__
    except NameError:  # outside the loader (unit tests)
        return None


def _config(config):
    """``config`` when given (tests), else the model read on this minion."""
    return _load_config() if config is None else config


def _minion_id(minion_id=None):
    return minion_id if minion_id is not None else __opts__["id"]


# lookups and canonical addresses: _utils/layline_model.py and _utils/layline_address.py
# (pure; the functions below are this module's names for them)
_engine_nodes = layline_model.engine_nodes
_this_engine_node = layline_model.this_engine_node
_roles_for = layline_model.roles
_config_server_hostname = layline_model.config_server_hostname
_seed_nodes = layline_model.seed_nodes
_seed_gate_marker = layline_model.seed_gate_marker
_seed_gate = layline_model.seed_gate
_monitoring = layline_model.monitoring_entry
_node_entries = layline_model.node_entries
_is_one_machine = layline_model.is_one_machine
_bind_any = layline_model.bind_any
_own_key = layline_model.own_key
_engine_key = layline_model.engine_key
_node_host = layline_model.node_host
_resolve_entry = layline_address.resolve_entry
_address = layline_address.address
_engine_addresses = layline_address.engine_addresses
_config_server_addresses = layline_address.config_server_addresses
_bind_for = layline_address.bind_for
_address_errors = layline_address.address_errors


# ---------------------------------------------------------------------------
# secrets
# ---------------------------------------------------------------------------


_is_secret_key = layline_model.is_secret_key
_mask_url_credentials = layline_model.mask_url_credentials
_mask_secrets = layline_model.mask_secrets
_redact = layline_model.redact


# ---------------------------------------------------------------------------
# validation and rendering: _utils/layline_render.py joins the lookups with the rules of
# layline_validate and the builder of layline_hocon; the states import it too
# ---------------------------------------------------------------------------


_validate = layline_render.validate
_build_data = layline_render.build_data
_render_text = layline_render.render_text


def tls_paths(config=None):
    """
    Where the TLS files of this minion are (``layline.tls``): the directory, the cluster CA
    (``ca``, also as ``ca_cert``), this node's certificate and key (``cert``, ``key``) and
    the JDBC truststore holding the CA (``truststore``, made by ``layline.config.truststore``).

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline.tls_paths
    """
    return layline_hocon.tls_files(_config(config))


def db_tls(config=None):
    """
    True when the MySQL connections use verified TLS (``layline:database:tls`` is
    ``verify-identity`` and the backend is mysql).

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline.db_tls
    """
    return layline_hocon.db_tls(_config(config))


def _tls_names(config, minion_id, roles_):
    """Subject names of this minion's certificate: its role hostnames and pillar addresses."""
    entries = []
    if "engine" in roles_:
        entries.append(_this_engine_node(config, minion_id) or {})
    if "config-server" in roles_:
        entries.append(
            _section(config, "config_server")
            if not _is_single_host(config)
            else {"hostname": layline_schema.LOOPBACK}
        )
    if "database" in roles_:
        entries.append(_section(config, "database"))
    names = []
    for entry in entries:
        for field in ("hostname", "address"):
            value = entry.get(field)
            if _is_nonempty_str(value) and value.lower() not in [n.lower() for n in names]:
                names.append(value)
    return names


def _san(names):
    """x509 subjectAltName text: IP literals as IP, everything else as DNS."""
    parts = []
    for name in names:
        try:
            parts.append(f"IP:{ipaddress.ip_address(name)}")
        except ValueError:
            parts.append(f"DNS:{name}")
    return ", ".join(parts)


def _key_group(config, roles_):
    """The group that may read node.key: the service group where an engine uses it for
    Artery, ``mysql`` where MariaDB is the only user, else ``root`` (a config server alone
    does not use it)."""
    if "engine" in roles_:
        return config.get("group")
    if "database" in roles_:
        return layline_schema.MYSQL_GROUP
    return "root"


def _tls_plan(config, minion_id):
    """What layline.tls manages on ``minion_id`` (see :py:func:`tls_plan`)."""
    roles_ = _roles_for(config, minion_id)
    if not roles_ or not layline_hocon.tls_enabled(config):
        return {"enabled": False}
    tls = _section(config, "tls")
    config_dir = str(config.get("config_dir", "")).rstrip("/")
    runs_layline = bool({"config-server", "engine"} & set(roles_))
    if _is_single_host(config):
        ca_minion = minion_id
    else:
        ca_minion = tls.get("ca_minion") or _section(config, "config_server").get("minion")
    names = _tls_names(config, minion_id, roles_)
    cluster_name = _section(config, "cluster").get("name")
    # Pekko's RotatingKeysSSLEngineProvider accepts a peer only when its certificate shares
    # a subject name with its own: every engine carries the cluster's name as CN, and only
    # engines do (the config server's or database's certificate cannot join the cluster).
    common_name = f"layline-{cluster_name}-engine" if "engine" in roles_ else names[0]
    return {
        "enabled": True,
        **layline_hocon.tls_paths(config),
        "config_dir": config_dir,
        "group": config.get("group") if runs_layline else layline_schema.MYSQL_GROUP,
        "key_group": _key_group(config, roles_),
        "ca_minion": ca_minion,
        "is_ca": ca_minion == minion_id,
        # the CA minion signs other minions' certificates (peer + signing policy needed)
        "signs_for_others": ca_minion == minion_id
        and not _is_single_host(config)
        and bool(layline_validate.layline_minions(config) - {minion_id}),
        "ca_dir": f"{config_dir}/ca",
        "ca_key": f"{config_dir}/ca/ca.key",
        "ca_cn": f"layline {cluster_name} cluster CA",
        "common_name": common_name,
        "names": names,
        "subject_alt_name": _san(names),
        "days": tls.get("days"),
        "renew_days": tls.get("renew_days"),
        "ca_days": tls.get("ca_days"),
        "key_size": tls.get("key_size"),
        # this minion's own policy on the CA minion (layline_signing: one per minion)
        "signing_prefix": tls.get("signing_policy"),
        "signing_policy": layline_signing.policy_name(minion_id, tls.get("signing_policy")),
        # on the CA minion: the minions whose certificates it signs (one policy each)
        "signed_minions": sorted(layline_validate.layline_minions(config) - {minion_id})
        if ca_minion == minion_id and not _is_single_host(config)
        else [],
        "wait_timeout": tls.get("wait_timeout"),
    }


# ---------------------------------------------------------------------------
# systemd unit values (pure)
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# network helpers
# ---------------------------------------------------------------------------


def _http_get(url, timeout, decode_json=True):
    """GET ``url`` via salt.utils.http; returns (status, decoded body or None, error or None)."""
    opts = dict(__opts__)
    opts.update(http_connect_timeout=timeout, http_request_timeout=timeout)
    try:
        result = salt.utils.http.query(
            url,
            method="GET",
            decode=decode_json,
            decode_type="json",
            status=True,
            opts=opts,
            backend="tornado",
        )
    except ValueError:
        return 200, None, f"{url} did not answer with JSON"
    status = result.get("status", 0)
    if result.get("error"):
        return status, None, result["error"]
    return status, result.get("dict") if decode_json else result.get("body"), None


def _tcp_reachable(host, port, timeout):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, None
    except OSError as exc:
        return False, str(exc) or type(exc).__name__


def _normalise_address(address):
    return str(address).strip().lower()


def _fetch_members(config, minion_id, timeout):
    """Ask each engine's management endpoint in seed order: (hostname, body) or (None, None)."""
    port = _section(config, "ports").get("management")
    for node in _engine_nodes(config, minion_id):
        status, body, _error = _http_get(
            f"http://{_url_host(_node_host(node))}:{port}/cluster/members", timeout
        )
        if status == 200 and isinstance(body, dict):
            return node["hostname"], body
    return None, None


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------


def mapdata():
    """
    Return the merged formula configuration as ``layline/map.jinja`` builds it
    (``defaults.yaml``, the os_family entry of ``osfamilymap.yaml``, pillar
    ``layline``), with secrets masked as ``******``.

    CLI Example:

    .. code-block:: bash

        salt '*' layline.mapdata
    """
    config = _load_config()
    return _redact(_mask_secrets(config), config)


def systemd_quote(value, kind="word"):
    """
    Return ``value`` quoted for a systemd unit file; the unit template of the
    formula writes every pillar value through it.

    kind
        ``word`` (default: a command-line argument or list item, double-quoted),
        ``assignment`` (an ``Environment=`` assignment) or ``plain`` (``User=``,
        ``WorkingDirectory=``: specifiers escaped, quotes and whitespace refused)

    Raises CommandExecutionError for control characters (a newline would add a
    directive to the unit).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.systemd_quote '/opt/layline/bin/reactive-engine'
    """
    return layline_systemd.quote(value, kind)


def roles(config=None, minion_id=None):
    """
    Return the layline roles of a minion, a sublist of
    ``['database', 'config-server', 'engine', 'monitoring']``.

    ``engine`` when listed in ``layline:cluster:nodes``, ``config-server`` when
    it is ``layline:config_server:minion``, ``database`` when it is
    ``layline:database:minion`` and the backend is mysql, ``monitoring`` when it
    is ``layline:monitoring:minion`` (Prometheus). With no nodes and no config
    server minion the minion is config server and engine (single host).

    config
        merged formula config (default: built from defaults and pillar)

    minion_id
        minion to ask about (default: this minion)

    CLI Example:

    .. code-block:: bash

        salt '*' layline.roles
    """
    return _roles_for(_config(config), _minion_id(minion_id))


def monitoring(config=None):
    """
    Return what the monitoring role builds, or None when ``layline:monitoring:minion``
    is not set: the Prometheus minion and port, the scrape interval and metrics
    path, one scrape target per engine (``<address or hostname>:<metrics port>``),
    the node exporter on the database minion, the configured member count, the
    ``for`` duration of each alert and the backup age limit (seconds; None when
    backups are not watched). ``layline_monitoring`` builds prometheus.yml and the
    alert rules from it.

    config
        merged formula config (default: built from defaults and pillar)

    CLI Example:

    .. code-block:: bash

        salt '*' layline.monitoring
    """
    return layline_metrics.monitoring_model(_config(config))


def is_multi_node(config=None):
    """
    Return True when the cluster has more than one engine node (engines then
    restart one at a time instead of on every change).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.is_multi_node
    """
    return layline_checks.engine_count(_config(config)) > 1


def seed_gate(config=None, minion_id=None):
    """
    Return the start gate of the first seed node's engine unit as
    ``{'check': argv, 'record': argv}`` (``ExecStartPre=`` / ``ExecStopPost=``),
    or ``{}`` on every other minion and on a single engine.

    ``record`` remembers that the engine ended in failure (downed by the
    split-brain resolver: exit 255; killed); ``check`` then holds the restart
    back until another seed node answers on its cluster port, so that the first
    seed never forms a cluster of its own (an island) while the others are cut
    off. A clean stop clears the record: a cold start is never held back.

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline.seed_gate
    """
    return _seed_gate(_config(config), _minion_id(minion_id))


def address(key=None, config=None, minion_id=None):
    """
    Return the canonical address of a machine entry, resolved on this minion:
    its ``address`` (an IP literal) when the pillar gives one, else the first
    address (IPv4 preferred) its ``hostname`` resolves to (getaddrinfo:
    /etc/hosts, DNS). A loopback result is an error naming the key when the
    roles run on more than one machine (set ``address`` then).

    key
        ``cluster:nodes[N]``, ``config_server``, ``database`` or ``monitoring``;
        default: this minion's own entry (its engine entry first). In the
        single-host default (no nodes) the engine and config server are
        ``127.0.0.1``.

    CLI Example:

    .. code-block:: bash

        salt '*' layline.address
        salt 'll-config-server' layline.address 'cluster:nodes[1]'
    """
    config = _config(config)
    minion_id = _minion_id(minion_id)
    if key is None:
        key = _engine_key(config, minion_id) or _own_key(config, minion_id)
    return _address(config, key, minion_id)


def bind_address(key=None, config=None, minion_id=None):
    """
    Return the address the listeners of a machine entry bind: ``0.0.0.0``
    when ``layline:network:bind_any`` is true, ``127.0.0.1`` for the engine and
    config server of the single-host default, else :py:func:`address`.
    For ``database`` an explicit ``layline:database:bind_address`` wins.

    CLI Example:

    .. code-block:: bash

        salt 'll-mysql' layline.bind_address database
    """
    config = _config(config)
    minion_id = _minion_id(minion_id)
    if key == "database" and _section(config, "database").get("bind_address"):
        return str(_section(config, "database")["bind_address"])
    if key is None:
        key = _engine_key(config, minion_id) or _own_key(config, minion_id)
    return _bind_for(config, key, minion_id)


def validate(config=None):
    """
    Check the whole configuration at once and return
    ``{'errors': [...], 'warnings': [...]}``; never raises for invalid
    settings. Every message starts with the pillar key it is about and never
    contains a secret value. Exits non-zero when there are errors. On the CA
    minion it also checks its ``x509_signing_policies`` (``layline_tls.signing_problems``).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.validate
    """
    errors, warnings = _validate(_config(config), _minion_id(), host=layline_hostfacts.HostFacts())
    if not errors and "layline_tls.signing_problems" in __salt__:
        # on the CA minion: its pillar's signing policies, one per minion, every field fixed
        errors = __salt__["layline_tls.signing_problems"](config=config)
    _set_retcode(errors)
    return {"errors": errors, "warnings": warnings}


def render(role, config=None, minion_id=None):
    """
    Return the text of ``application.conf`` for ``role`` on this minion, with
    secrets masked as ``******`` (the state writes the real text; it is never
    returned to the CLI, the job cache or the event bus).

    role
        ``reactive-engine`` or ``config-server``

    The text is parsed back with pyhocon and compared with the intended
    settings before it is returned. An invalid model (see :py:func:`validate`)
    is refused with every error.

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline.render reactive-engine
    """
    config = _config(config)
    text = _render_text(role, _mask_secrets(config), _minion_id(minion_id))
    return _redact(text, config)


def render_data(role, config=None, minion_id=None):
    """
    Return the settings :py:func:`render` writes for ``role`` as a nested dict,
    with secrets masked (for debugging).

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline.render_data reactive-engine
    """
    config = _config(config)
    return _redact(_mask_secrets(_build_data(role, config, _minion_id(minion_id))), config)


def tls_plan(config=None, minion_id=None):
    """
    Return what ``layline.tls`` manages on this minion: ``{'enabled': False}`` when
    ``layline:tls:enabled`` is false or the minion has no layline role, else the file
    paths (``dir``, ``ca_cert``, ``cert``, ``key``; ``ca_dir``, ``ca_key`` on the CA
    minion), the ``group`` of the TLS directory (the service group, ``mysql`` on a
    database-only minion), the ``key_group`` that may read the key (the service group on
    an engine, else ``mysql`` on a database minion, else ``root``), ``ca_minion`` and
    ``is_ca``, the certificate's
    ``common_name`` and ``subject_alt_name`` (the minion's role hostnames and pillar
    addresses) and the ``layline:tls`` settings.

    CLI Example:

    .. code-block:: bash

        salt '*' layline.tls_plan
    """
    return _tls_plan(_config(config), _minion_id(minion_id))


_TRANSPORT_RE = re.compile(r'^\s*transport = "([A-Za-z0-9-]+)"$', re.MULTILINE)
# a restart marker reason with this prefix makes the rolling restart refuse (Pekko: nodes
# with different remote transports cannot talk, so no rolling restart can change it)


def transport_change(config=None):
    """
    Return the restart reason ``'full cluster restart needed: Artery transport
    <old> -> <new> ...'`` when the engine's deployed application.conf runs another
    Artery transport (``tcp`` / ``tls-tcp``) than ``layline:tls`` now renders, else
    ``''`` (also when nothing is deployed yet). Pekko members with different
    transports cannot talk: the rolling restart refuses a marker with this reason.

    CLI Example:

    .. code-block:: bash

        salt 'll-node-*' layline.transport_change
    """
    config = _config(config)
    path = f"{str(config.get('config_dir', '')).rstrip('/')}/reactive-engine/application.conf"
    try:
        with open(path, encoding="utf-8") as handle:
            found = _TRANSPORT_RE.search(handle.read())
    except OSError:
        return ""
    new = layline_hocon.artery_tls_data(config)["transport"]
    if not found or found.group(1) == new:
        return ""
    return (
        f"{layline_schema.FULL_RESTART}: Artery transport {found.group(1)} -> {new} (members with "
        "different transports cannot talk)"
    )


def members(host=None, port=None, config=None, timeout=5):
    """
    Return the parsed ``/cluster/members`` answer of Pekko Management.

    host
        default: this minion's engine hostname from ``layline:cluster:nodes``

    port
        default: ``layline:ports:management``

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline.members
        salt 'll-config-server' layline.members host=ll-node-2.orb.local
    """
    host, port = _management_endpoint(host, port, config)
    url = f"http://{_url_host(host)}:{port}/cluster/members"
    status, body, error = _http_get(url, timeout)
    if status != 200 or not isinstance(body, dict):
        raise CommandExecutionError(
            f"cannot read {url}: {error or f'HTTP {status}'}; is layline-reactive-engine "
            "running there and layline:ports:management right?"
        )
    return body


def ready(host=None, port=None, config=None, timeout=5):
    """
    Return True when Pekko Management's ``/ready`` answers 200 (the member is
    Up or WeaklyUp and its journal works), else False.

    CLI Example:

    .. code-block:: bash

        salt 'll-node-1' layline.ready
    """
    host, port = _management_endpoint(host, port, config)
    status, _body, _error = _http_get(
        f"http://{_url_host(host)}:{port}/ready", timeout, decode_json=False
    )
    return status == 200


def _management_endpoint(host, port, config):
    if host is None or port is None:
        config = _config(config)
    if host is None:
        node = _this_engine_node(config, _minion_id())
        if node is None:
            raise CommandExecutionError(
                "this minion is not an engine node: pass host=<engine hostname>"
            )
        # where the listener is bound: the node's address, else its hostname (which
        # resolves to it); never localhost, which the listeners no longer bind
        host = _node_host(node)
    if port is None:
        port = _section(config, "ports").get("management")
    return host, port


def _address_host(address):
    """Host of a Pekko address ``pekko://system@host:port`` (IPv6 without brackets), or None."""
    match = re.match(r"^[a-z]+://[^@/]+@(\[[^\]]+\]|[^:/]+):\d+", str(address or ""))
    return match.group(1).strip("[]") if match else None


def _status_row(
    node, hostname, rest_port, timeout, unreachable, in_pillar, member_state=None, host=None
):
    url = f"http://{_url_host(host or hostname)}:{rest_port}/engine/status"
    code, body, _error = _http_get(url, timeout)
    answered = code == 200 and isinstance(body, dict)
    return {
        "node": node,
        "hostname": hostname,
        "state": body.get("state") if answered else (member_state or "Unreachable"),
        "version": body.get("version") if answered else None,
        "uptime": body.get("uptime") if answered else None,
        "unreachable": not answered or unreachable,
        "in_pillar": in_pillar,
    }


def status(config=None, timeout=5):
    """
    Return one row per engine, like the Cluster page of the layline UI:
    ``{node, hostname, state, version, uptime, unreachable, in_pillar}``.

    The configured nodes come first, in seed order; then every live member of
    the cluster (``/cluster/members``) that ``layline:cluster:nodes`` does not
    list, with ``node`` None and ``in_pillar`` False (a removed node still
    running, or a stranger), so the table never hides a member.

    ``state`` comes from the node's REST ``/engine/status`` (``Unreachable``
    when it does not answer), ``version`` is the release the node runs,
    ``uptime`` is in seconds, ``unreachable`` is True when the node does not
    answer or the cluster lists it unreachable. Exits non-zero when a row is
    not ``Up`` or is unreachable.

    CLI Example:

    .. code-block:: bash

        salt 'll-config-server' layline.status
    """
    config = _config(config)
    minion_id = _minion_id()
    ports = _section(config, "ports")
    _seen_from, cluster_view = _fetch_members(config, minion_id, timeout)
    flagged = {
        _normalise_address(entry.get("node"))
        for entry in (cluster_view or {}).get("unreachable", [])
        if isinstance(entry, dict)
    }
    rows, known = [], set()
    for node in _engine_nodes(config, minion_id):
        address = _normalise_address(_seed_address(node["hostname"], ports.get("cluster")))
        known.add(address)
        rows.append(
            _status_row(
                node.get("minion"),
                node["hostname"],
                ports.get("rest"),
                timeout,
                address in flagged,
                True,
                host=_node_host(node),
            )
        )
    for member in (cluster_view or {}).get("members", []):
        if not isinstance(member, dict):
            continue
        address = _normalise_address(member.get("node"))
        host = _address_host(member.get("node"))
        if address in known or host is None:
            continue
        known.add(address)
        rows.append(
            _status_row(
                None,
                host,
                ports.get("rest"),
                timeout,
                address in flagged,
                False,
                member.get("status"),
            )
        )
    _set_retcode(any(row["state"] != "Up" or row["unreachable"] for row in rows))
    return rows


def cluster_health(config=None, timeout=5):
    """
    Return ``{'healthy', 'expected', 'up', 'missing', 'unreachable',
    'comment'}``: healthy when every configured node's address is Up and no
    member is unreachable, as seen by the first engine (in seed order) whose
    management endpoint answers. Exits non-zero when not healthy.

    CLI Example:

    .. code-block:: bash

        salt 'll-config-server' layline.cluster_health
    """
    config = _config(config)
    expected = _seed_nodes(config, _minion_id())
    seen_from, view = _fetch_members(config, _minion_id(), timeout)
    result = {
        "healthy": False,
        "expected": expected,
        "up": [],
        "missing": list(expected),
        "unreachable": [],
        "comment": "",
    }
    if view is None:
        port = _section(config, "ports").get("management")
        result["comment"] = (
            f"no engine node answered on its management port {port} "
            "(layline:ports:management); are the reactive engines running?"
        )
        _set_retcode(True)
        return result
    result["up"] = [
        entry.get("node")
        for entry in view.get("members", [])
        if isinstance(entry, dict) and entry.get("status") == "Up"
    ]
    result["unreachable"] = [
        entry.get("node") for entry in view.get("unreachable", []) if isinstance(entry, dict)
    ]
    up = {_normalise_address(address) for address in result["up"]}
    result["missing"] = [address for address in expected if _normalise_address(address) not in up]
    result["healthy"] = not result["missing"] and not result["unreachable"]
    if result["healthy"]:
        result["comment"] = f"all {len(expected)} node(s) Up (seen from {seen_from})"
    else:
        problems = []
        if result["missing"]:
            problems.append(f"not Up: {', '.join(result['missing'])}")
        if result["unreachable"]:
            problems.append(f"unreachable: {', '.join(result['unreachable'])}")
        result["comment"] = f"cluster not healthy (seen from {seen_from}): " + "; ".join(problems)
    _set_retcode(not result["healthy"])
    return result


def _check_row(check, target, result, detail="", fix=""):
    return {"check": check, "target": target, "result": result, "detail": detail, "fix": fix}


def _diagnose_resolution(config, minion_id):
    hosts = [node.get("hostname") for node in _engine_nodes(config, minion_id)]
    hosts.append(_config_server_hostname(config))
    database = _section(config, "database")
    if database.get("backend") == "mysql":
        hosts.append(database.get("hostname"))
    rows = []
    for host in dict.fromkeys(h for h in hosts if _is_nonempty_str(h)):
        try:
            addresses = sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
            rows.append(_check_row("hostname resolves", host, "ok", ", ".join(addresses)))
        except (OSError, UnicodeError) as exc:
            rows.append(
                _check_row(
                    "hostname resolves",
                    host,
                    "failed",
                    str(exc),
                    f"add '<address> {host}' to /etc/hosts on every machine or fix DNS",
                )
            )
    return rows


def _diagnose_addresses(config, minion_id):
    rows = []
    for key, entry in _node_entries(config):
        try:
            found = _resolve_entry(config, key, entry, minion_id)
            rows.append(_check_row("canonical address", f"layline:{key}", "ok", found))
        except CommandExecutionError as exc:
            rows.append(
                _check_row(
                    "canonical address",
                    f"layline:{key}",
                    "failed",
                    str(exc),
                    f"set layline:{key}:address or fix DNS / /etc/hosts",
                )
            )
    return rows


def _diagnose_seed_nodes(config, minion_id):
    expected = _seed_nodes(config, minion_id)
    rows = []
    try:
        rendered = _build_data("reactive-engine", config, minion_id)
    except CommandExecutionError as exc:
        return [
            _check_row(
                "seed nodes match canonical hostnames",
                "rendered config",
                "failed",
                str(exc),
                "fix the configuration named in the detail",
            )
        ]
    sources = [("rendered config", rendered)]
    deployed = os.path.join(
        str(config.get("config_dir", "")), "reactive-engine", "application.conf"
    )
    if os.path.isfile(deployed):
        factory = layline_hocon.config_factory()
        try:
            sources.append(
                (deployed, layline_hocon.plain(factory.parse_file(deployed, resolve=False)))
            )
        except Exception as exc:  # any parse problem is the finding itself
            rows.append(
                _check_row(
                    "seed nodes match canonical hostnames",
                    deployed,
                    "failed",
                    f"cannot parse: {type(exc).__name__}",
                    "re-apply the layline state to rewrite the file",
                )
            )
    for where, data in sources:
        seeds = _dig_hocon(data, "pekko.cluster.seed-nodes")
        canonical = _dig_hocon(data, "pekko.remote.artery.canonical.hostname")
        cluster_port = _section(config, "ports").get("cluster")
        own = _seed_address(canonical, cluster_port) if canonical else None
        if seeds == expected and own in expected:
            rows.append(
                _check_row(
                    "seed nodes match canonical hostnames",
                    where,
                    "ok",
                    f"{len(expected)} seed node(s) in pillar order",
                )
            )
        else:
            rows.append(
                _check_row(
                    "seed nodes match canonical hostnames",
                    where,
                    "failed",
                    f"seed-nodes {seeds} / canonical {own!r} differ from {expected}",
                    "remove seed-nodes/canonical overrides from layline:extra_config and "
                    "re-apply the layline state",
                )
            )
    return rows


def _dig_hocon(data, dotted):
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _diagnose_ports(check, targets, timeout, fix):
    rows = []
    for label, host, port in targets:
        ok, error = _tcp_reachable(host, port, timeout)
        target = f"{label} ({_url_host(host)}:{port})"
        result = "ok" if ok else "failed"
        rows.append(_check_row(check, target, result, error or "", "" if ok else fix))
    return rows


def _diagnose_database(config, timeout):
    database = _section(config, "database")
    target = (
        f"{database.get('user')}@{database.get('hostname')}:{database.get('port')}/"
        f"{database.get('name')}"
    )
    rows = _diagnose_ports(
        "database port reachable",
        [("mysql", database.get("hostname"), database.get("port"))],
        timeout,
        "check that MySQL runs, listens on the database's canonical address "
        "(layline:database:bind_address) and its firewall accepts this machine",
    )
    if "layline_db.check_connection" not in __salt__:
        rows.append(
            _check_row(
                "database login", target, "skipped", "execution module layline_db is not available"
            )
        )
        return rows
    ok, message = __salt__["layline_db.check_connection"](config)
    rows.append(
        _check_row(
            "database login",
            target,
            "ok" if ok else "failed",
            _redact(message, config),
            ""
            if ok
            else "check layline:database:user/password and that the user's host "
            "pattern (layline:database:allowed_hosts) covers this machine",
        )
    )
    if not ok or "layline_db.missing_tables" not in __salt__:
        rows.append(
            _check_row(
                "database tables present",
                target,
                "skipped",
                "needs a working database login and layline_db.missing_tables",
            )
        )
        return rows
    missing = __salt__["layline_db.missing_tables"](config)
    rows.append(
        _check_row(
            "database tables present",
            target,
            "failed" if missing else "ok",
            f"missing: {', '.join(missing)}" if missing else "all tables present",
            "apply the layline database schema state (scripts/sql/mysql/persistence-schema.sql)"
            if missing
            else "",
        )
    )
    return rows


_UNIT_PROPS = ("ActiveState", "SubState", "Result", "NRestarts", "ExecMainStatus")
_MEMBERSHIP = "member of the cluster"


def _engine_unit_state():
    """systemd's properties of the engine unit, or None when they cannot be read."""
    if "cmd.run_all" not in __salt__:
        return None
    args = ["systemctl", "show", layline_schema.ENGINE_UNIT]
    for prop in _UNIT_PROPS:
        args += ["-p", prop]
    ret = __salt__["cmd.run_all"](args, python_shell=False, ignore_retcode=True)
    if ret.get("retcode") != 0:
        return None
    return dict(line.split("=", 1) for line in ret.get("stdout", "").splitlines() if "=" in line)


def _live_nodes(view):
    """Addresses of the members of a ``/cluster/members`` view that still count."""
    return sorted(
        _normalise_address(m.get("node"))
        for m in view.get("members", [])
        if isinstance(m, dict) and m.get("status") not in ("Down", "Removed")
    )


def _unit_finding(unit, target, gated, marker):
    """A row when the engine unit is not running (None when it runs)."""
    engine_unit = layline_schema.ENGINE_UNIT
    active, sub = unit.get("ActiveState"), unit.get("SubState")
    if active == "active":
        return None
    restarts = unit.get("NRestarts", "?")
    if unit.get("Result") == "start-limit-hit":
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"{engine_unit} hit its start limit: systemd gave up restarting it "
            f"({restarts} restarts)",
            f"systemctl reset-failed {engine_unit}; systemctl start {engine_unit}; re-apply "
            "the layline state (the formula's unit has no start limit)",
        )
    if gated and active == "activating":  # in its ExecStartPre or waiting to try again
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            "first seed node held back by the seed gate: it ended in failure (downed in a "
            "partition?) and no other seed node answers on its cluster port, so it does not "
            f"form a cluster of its own ({restarts} restarts so far)",
            "restore the network between the engines (layline:ports:cluster); it starts and "
            f"rejoins by itself. Only to start a new cluster from this node alone: rm {marker}",
        )
    if active == "activating" and sub != "auto-restart":
        return None  # starting
    if active == "activating":
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"{engine_unit} ended and systemd restarts it ({restarts} restarts so far)",
            f"journalctl -u {engine_unit}: see why it ends (exit 255 = downed by the "
            "split-brain resolver); it rejoins by itself once it stays up",
        )
    if unit.get("ExecMainStatus") == "255":
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"downed by the split-brain resolver (exit 255) and {engine_unit} did not restart it",
            f"systemctl start {engine_unit}; re-apply the layline state so that the unit "
            "restarts a downed engine (Restart=on-failure)",
        )
    return _check_row(
        _MEMBERSHIP,
        target,
        "failed",
        f"{engine_unit} is {active} ({sub})",
        f"systemctl start {engine_unit} (a node that should leave the cluster for good is "
        "removed from layline:cluster:nodes and decommissioned)",
    )


def _membership_finding(target, own_address, unit, own_view, others, gated=False, marker=""):
    """
    Why this engine is (not) a member of the one cluster: a ``_check_row``.

    ``unit``: systemd properties of the engine unit (None: unknown); ``own_view``: this
    engine's ``/cluster/members`` (None: no answer); ``others``: {minion: view or None} of
    the other engines; ``gated``: the seed gate's failure record exists.
    """
    engine_unit = layline_schema.ENGINE_UNIT
    own = _normalise_address(own_address)
    finding = _unit_finding(unit, target, gated, marker) if unit else None
    if finding:
        return finding
    silent = sorted(minion for minion, view in others.items() if view is None)
    if own_view is None:
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"{engine_unit} runs but its management endpoint does not answer: still starting, "
            "or its actor system ended after it was downed while the JVM lives on (a process "
            "that is no member; pekko.coordinated-shutdown.exit-jvm off)",
            f"see the engine log; systemctl restart {engine_unit}; re-apply the layline state "
            "(it renders exit-jvm = on so that a downed engine exits and is restarted)",
        )
    mine = {
        _normalise_address(m.get("node")): m.get("status")
        for m in own_view.get("members", [])
        if isinstance(m, dict)
    }
    status = mine.get(own)
    if status is None:
        detail = "not joined yet: it keeps asking the seed nodes"
        if silent:
            detail += f"; not answering: {', '.join(silent)}"
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            detail,
            "check the network and the cluster port (layline:ports:cluster) between the "
            "engines and the engine log (an incompatible configuration is refused); it joins "
            "by itself once a seed node answers",
        )
    if status in ("Down", "Removed", "Exiting", "Leaving"):
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"this member is {status}",
            f"a downed engine exits and its unit restarts it; if it stays {status}: "
            f"systemctl restart {engine_unit}",
        )
    for minion, view in sorted(others.items()):
        if view is None or own in _live_nodes(view):
            continue
        theirs, ours = (
            _live_nodes(view),
            sorted(a for a, st in mine.items() if st not in ("Down", "Removed")),
        )
        if set(theirs) & set(ours):
            continue  # a view in flux (the other node is still joining or leaving)
        smaller = "this node's" if len(ours) <= len(theirs) else f"{minion}'s"
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"two clusters: this node is in {ours} (leader {own_view.get('leader')}), "
            f"{minion} is in {theirs} (leader {view.get('leader')}); an island that never "
            "merges back (a first seed node that joined itself while cut off)",
            f"restart the engines of the smaller cluster ({smaller}): systemctl restart "
            f"{engine_unit} there; they join the other cluster through the seed nodes",
        )
    unreachable = sorted(
        _normalise_address(u.get("node"))
        for u in own_view.get("unreachable", [])
        if isinstance(u, dict)
    )
    if unreachable:
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"{status}, but unreachable: {', '.join(unreachable)}",
            "check the network to them; the split-brain resolver downs one side after "
            "stable_after, and a downed engine is restarted and rejoins by itself",
        )
    if status != "Up":
        return _check_row(
            _MEMBERSHIP,
            target,
            "failed",
            f"this member is {status}",
            "the leader moves it Up once min_nr_of_members are present and none is unreachable",
        )
    return _check_row(
        _MEMBERSHIP,
        target,
        "ok",
        f"Up in a cluster of {len(mine)} (leader {own_view.get('leader')})",
    )


def _diagnose_membership(config, minion_id, timeout):
    ports = _section(config, "ports")
    node = _this_engine_node(config, minion_id)
    nodes = _engine_nodes(config, minion_id)
    own_address = _seed_nodes(config, minion_id)[nodes.index(node)]  # its cluster address

    def view_of(hostname):
        url = f"http://{_url_host(hostname)}:{ports.get('management')}/cluster/members"
        code, body, _error = _http_get(url, timeout)
        return body if code == 200 and isinstance(body, dict) else None

    others = {
        n.get("minion"): view_of(n.get("hostname"))
        for n in _engine_nodes(config, minion_id)
        if n.get("minion") != minion_id
    }
    gate = _seed_gate(config, minion_id)
    marker = _seed_gate_marker(config)
    gated = bool(gate) and os.path.exists(marker)
    return [
        _membership_finding(
            f"{minion_id} ({own_address})",
            own_address,
            _engine_unit_state(),
            view_of(node.get("hostname")),
            others,
            gated,
            marker,
        )
    ]


def diagnose(config=None, timeout=2):
    """
    Run the troubleshooting checks of layline's multi-node guide for this
    minion's roles and return ``{'ok': bool, 'checks': [...]}``; each check is
    ``{check, target, result: ok|failed|skipped, detail, fix}``. Failed checks
    do not raise; they make the exit code non-zero.

    - all hostnames (nodes, config server, database) resolve
    - engine: seed nodes equal the canonical hostnames (rendered and deployed
      config); the cluster port of every other node is reachable; this engine is
      a member of the one cluster - if not, why: its unit stopped, failed (exit
      255: downed and not restarted) or hit its start limit, the first seed node
      waits at the seed gate, it runs but is no member, it cannot reach the
      seeds, or it is Up in another cluster than the other engines (an island)
    - engine / config server with mysql: database reachable, login works,
      tables present (via ``layline_db`` when available, else skipped)
    - config server: every engine's REST port is reachable

    CLI Example:

    .. code-block:: bash

        salt -G 'roles:*' layline.diagnose
    """
    config = _config(config)
    minion_id = _minion_id()
    my_roles = _roles_for(config, minion_id)
    ports = _section(config, "ports")
    checks = _diagnose_resolution(config, minion_id) + _diagnose_addresses(config, minion_id)
    others = [n for n in _engine_nodes(config, minion_id) if n.get("minion") != minion_id]
    if "engine" in my_roles:
        checks += _diagnose_seed_nodes(config, minion_id)
        checks += _diagnose_ports(
            "cluster port reachable",
            [(n.get("minion"), n.get("hostname"), ports.get("cluster")) for n in others],
            timeout,
            "start layline-reactive-engine there and allow the cluster port "
            "(layline:ports:cluster) between all engine nodes in the firewall",
        )
        checks += _diagnose_membership(config, minion_id, timeout)
    if "config-server" in my_roles:
        checks += _diagnose_ports(
            "engine REST port reachable",
            [
                (n.get("minion"), n.get("hostname"), ports.get("rest"))
                for n in _engine_nodes(config, minion_id)
            ],
            timeout,
            "start layline-reactive-engine there and allow the REST port "
            "(layline:ports:rest) from the config server",
        )
    uses_mysql = _section(config, "database").get("backend") == "mysql"
    if uses_mysql and {"engine", "config-server"} & set(my_roles):
        checks += _diagnose_database(config, timeout)
    ok = all(row["result"] != "failed" for row in checks)
    _set_retcode(not ok)
    return {"ok": ok, "checks": checks}


# ---------------------------------------------------------------------------
# Salt's own Python: the libraries layline.python installs
# ---------------------------------------------------------------------------

_REQUIREMENT_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)$")


def _requirement_pins(text):
    """``[(name, version)]`` of a pinned requirements file; options and hashes are skipped."""
    pins = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _REQUIREMENT_RE.match(line.split()[0])
        if not match:
            raise CommandExecutionError(
                f"requirements line {line.split()[0]!r} is not pinned as NAME==VERSION "
                "(layline:python:requirements)"
            )
        pins.append((match.group(1), match.group(2)))
    return pins


def _installed_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _read_requirements(requirements):
    """Text of a local requirements file, or of a salt:// / http(s):// one (via the master)."""
    if re.match(r"^(salt|https?)://", str(requirements)):
        text = __salt__["cp.get_file_str"](requirements)
        if text is False or text is None:
            raise CommandExecutionError(
                f"cannot fetch {requirements} (layline:python:requirements)"
            )
        return text
    try:
        with open(requirements, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {requirements}: {exc.strerror}") from None


def python_missing(requirements):
    """
    Return the pinned requirements in the file ``requirements`` (a local path
    or a ``salt://`` / ``https://`` URL) that Salt's own Python does not have at
    exactly that version, as ``NAME==VERSION (installed: X)`` strings; an empty
    list when all are installed.

    Checked in-process from the installed packages' metadata: no pip call.

    CLI Example:

    .. code-block:: bash

        salt '*' layline.python_missing /var/lib/layline-formula/python-requirements.txt
    """
    text = _read_requirements(requirements)
    missing = []
    for name, version in _requirement_pins(text):
        installed = _installed_version(name)
        if installed != version:
            missing.append(f"{name}=={version} (installed: {installed or 'none'})")
    return missing


def python_ready(requirements):
    """
    Return True when Salt's own Python has every pinned requirement in the file
    ``requirements`` (the in-process ``unless`` check of the ``layline.python``
    state); False also when the file is not there yet (a first run with
    ``test=True``).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.python_ready /var/lib/layline-formula/python-requirements.txt
        salt '*' layline.python_ready salt://layline/python/files/requirements.txt
    """
    if "://" not in str(requirements) and not os.path.isfile(requirements):
        return False
    return not python_missing(requirements)


def version_installed(install_dir, version):
    """
    Return True when ``<install_dir>/VERSION`` (written by the installer)
    holds exactly ``version`` (the in-process ``unless`` check of the
    installer state; a missing file is False).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.version_installed /opt/layline 2.5.4
    """
    try:
        with open(os.path.join(str(install_dir), "VERSION"), encoding="utf-8") as fh:
            return fh.read().strip() == str(version)
    except OSError:
        return False


# ---------------------------------------------------------------------------
# restart markers (written by the state layline.restart_pending, cleared by the
# rolling restart runner once the node passed its health gate)
# ---------------------------------------------------------------------------


def pending():
    """
    Return this minion's pending restarts: ``{unit: {"reasons": [...],
    "version": ..., "written": ...}}`` from the root-owned markers in
    ``/var/lib/layline-formula/pending/<unit>.json`` (empty when none).

    CLI Example:

    .. code-block:: bash

        salt 'node*' layline.pending
    """
    return layline_files.list_markers(layline_schema.PENDING_DIR)


def clear_pending(unit):
    """
    Remove the restart marker of ``unit`` (the rolling restart does this after
    the node passed its health gate). Returns True when a marker was removed.

    CLI Example:

    .. code-block:: bash

        salt 'node1' layline.clear_pending layline-reactive-engine
    """
    return layline_files.clear_marker(layline_files.marker_path(unit, layline_schema.PENDING_DIR))


def _retired_units(config, minion_id, installed_units):
    """Units installed here whose role the pillar no longer gives this minion (multi-node only)."""
    if _is_single_host(config):
        return []
    roles = _roles_for(config, minion_id)
    return [
        unit
        for role, unit in layline_schema.UNITS.items()
        if unit in installed_units and role not in roles
    ]


def retired_units(config=None, unit_dir="/etc/systemd/system"):
    """
    Return the layline units installed on this minion that its pillar no longer
    gives it a role for: a node removed from ``layline:cluster:nodes`` (or a
    former ``layline:config_server:minion``) of a multi-node pillar. Always empty
    with the single-host default (an empty pillar gives every minion both roles).
    ``state.apply layline`` decommissions them (``layline.decommission``).

    CLI Example:

    .. code-block:: bash

        salt '*' layline.retired_units
    """
    installed = [
        unit
        for unit in layline_schema.UNITS.values()
        if os.path.isfile(os.path.join(unit_dir, f"{unit}.service"))
    ]
    return _retired_units(_config(config), _minion_id(), installed)
