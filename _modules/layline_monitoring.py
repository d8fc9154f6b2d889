"""
Execution module ``layline_monitoring``: Prometheus configuration and alert rules of
the monitoring role, built as data and dumped as YAML (no text template).

The model comes from ``layline.monitoring`` (targets from the same pillar as the
cluster, so adding or removing a node changes the targets on the next apply). The
``layline.monitoring`` SLS writes the text with ``promtool check config`` /
``promtool check rules`` as ``check_cmd``, so a file Prometheus would refuse never
replaces a working one.

Functions: ``prometheus_config``, ``alert_rules``, ``config_text``, ``rules_text``,
``listen_address`` (Prometheus and the node exporter bind the canonical address of their
machine, never every interface; the firewall table filters their ports).
"""

import ipaddress

import yaml
from salt.exceptions import CommandExecutionError

import layline_model
import layline_schema
import layline_sync

# a re-sync in this process takes effect (see layline_sync)
layline_sync.refresh(layline_schema, layline_model)
# the utils this module was written for: an older synced copy counts as not synced
UTILS_API = 6

__virtualname__ = "layline_monitoring"

RULES_FILE = "/etc/prometheus/layline.rules.yml"
ENGINE_JOB = "layline-engine"
NODE_EXPORTER_JOB = "layline-node-exporter"
BACKUP_METRIC = "layline_backup_last_success_timestamp_seconds"


def __virtual__():
    problem = layline_sync.out_of_date(layline_schema, UTILS_API)
    if problem:
        return False, problem
    return __virtualname__


def _model(model):
    if model is None:
        model = __salt__["layline.monitoring"]()
    if not model:
        raise CommandExecutionError(
            "layline:monitoring:minion is not set: there is no monitoring role to configure"
        )
    return model


def _static(target, minion):
    return {"targets": [target], "labels": {"minion": minion}}


# the machine's canonical address when a listener binds every address (bind_any)
_ANY = ("0.0.0.0", "::")  # noqa: S104 - compared, never bound here


def listen_text(address, port):
    """``host:port`` of a ``--web.listen-address`` flag (IPv6 in brackets; pure)."""
    return f"{layline_model.url_host(str(address))}:{int(port)}"


def _self_target(listen, port):
    """Where Prometheus scrapes itself: the address it listens on (localhost with bind_any)."""
    if listen is None or str(listen) in _ANY:
        return f"localhost:{port}"
    return listen_text(listen, port)


def build_config(model, rules_file=RULES_FILE, listen=None):
    """prometheus.yml as a dict (pure); ``listen`` is the address Prometheus binds."""
    interval = model["scrape_interval"]
    jobs = [
        {
            "job_name": "prometheus",
            "static_configs": [{"targets": [_self_target(listen, model["port"])]}],
        },
        {
            "job_name": ENGINE_JOB,
            "metrics_path": model["metrics_path"],
            "static_configs": [_static(e["target"], e["minion"]) for e in model["engines"]],
        },
    ]
    exporter = model.get("node_exporter")
    if exporter:
        jobs.append(
            {
                "job_name": NODE_EXPORTER_JOB,
                "static_configs": [_static(exporter["target"], exporter["minion"])],
            }
        )
    return {
        "global": {
            "scrape_interval": interval,
            "evaluation_interval": interval,
            "external_labels": {"layline_cluster": model["cluster"]},
        },
        "rule_files": [rules_file],
        "scrape_configs": jobs,
    }


def _rule(name, expr, duration, severity, summary, description):
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description},
    }


def build_rules(model):
    """The alert rules file as a dict (pure). ``{{ $labels.x }}`` are Prometheus templates."""
    alerts = model["alerts"]
    engine = f'job="{ENGINE_JOB}"'
    wanted = model["configured_members"]
    rules = [
        _rule(
            "LaylineMemberNotUp",
            f'up{{{engine}}} == 0 or layline_member_status{{{engine},status="Up"}} == 0',
            alerts["member_not_up"],
            "critical",
            "layline engine {{ $labels.minion }} is not an Up cluster member",
            "{{ $labels.instance }} does not answer its metrics scrape or reports a "
            "member status other than Up.",
        ),
        _rule(
            "LaylineUnreachableMembers",
            f"max by (instance, minion) (layline_cluster_unreachable_members{{{engine}}}) > 0",
            alerts["unreachable_members"],
            "critical",
            "layline engine {{ $labels.minion }} sees unreachable members",
            "{{ $labels.instance }} sees {{ $value }} unreachable cluster member(s); the "
            "split-brain resolver downs them after stable-after.",
        ),
        _rule(
            "LaylineMembersMissing",
            f'(max(layline_cluster_members{{{engine},status="Up"}}) or vector(0)) < {wanted}',
            alerts["members_missing"],
            "warning",
            f"fewer than the {wanted} configured layline engines are Up",
            f"The cluster has {{{{ $value }}}} Up member(s); layline:cluster:nodes lists {wanted}.",
        ),
    ]
    backup = model.get("backup")
    if backup and model.get("node_exporter"):
        exporter = f'job="{NODE_EXPORTER_JOB}"'
        max_age = backup["max_age_seconds"]
        rules += [
            _rule(
                "LaylineBackupStale",
                f"time() - max({BACKUP_METRIC}{{{exporter}}}) > {max_age}",
                alerts["backup_stale"],
                "warning",
                "the last layline database backup is older than its schedule allows",
                f"The last successful backup is more than {max_age} s old.",
            ),
            _rule(
                "LaylineBackupMissing",
                f"absent({BACKUP_METRIC}{{{exporter}}})",
                f"{max_age}s",
                "warning",
                "no layline database backup has been recorded",
                f"No {BACKUP_METRIC} in the node exporter's textfile directory "
                f"({backup['textfile_dir']}) for {max_age} s.",
            ),
        ]
    return {"groups": [{"name": "layline", "rules": rules}]}


def _dump(data):
    return layline_schema.HEADER + yaml.safe_dump(data, default_flow_style=False, sort_keys=False)


def listen_address(key="monitoring", port=None):
    """
    Return the ``host:port`` a monitoring listener binds on this minion: the canonical
    address of the machine entry ``key`` (``layline.bind_address``: ``monitoring`` for
    Prometheus, ``database`` for the node exporter; ``0.0.0.0`` only with
    ``layline:network:bind_any``) and ``port`` (default: ``layline:monitoring:port``).

    CLI Example:

    .. code-block:: bash

        salt-call layline_monitoring.listen_address monitoring
    """
    if key not in ("monitoring", "database"):
        raise CommandExecutionError(f"{key!r} is not monitoring or database")
    if port is None:
        port = _model(None)["port"]
    return listen_text(__salt__["layline.bind_address"](key), port)


def _listen_host(listen):
    """The address part of ``listen_address``'s answer (None when not given)."""
    if listen is None:
        return None
    host = str(listen).rsplit(":", 1)[0].strip("[]")
    ipaddress.ip_address(host)  # what layline.bind_address gives: an IP literal
    return host


def prometheus_config(model=None, listen=None):
    """
    Return prometheus.yml of the monitoring role as a dict.

    model
        the result of ``layline.monitoring`` (default: asked for)

    listen
        the ``host:port`` Prometheus binds (``listen_address``): it scrapes itself there

    CLI Example:

    .. code-block:: bash

        salt-call layline_monitoring.prometheus_config
    """
    return build_config(_model(model), listen=_listen_host(listen))


def alert_rules(model=None):
    """
    Return layline's Prometheus alert rules as a dict.

    model
        the result of ``layline.monitoring`` (default: asked for)

    CLI Example:

    .. code-block:: bash

        salt-call layline_monitoring.alert_rules
    """
    return build_rules(_model(model))


def config_text(model=None, listen=None):
    """
    Return prometheus.yml as YAML text (what ``layline.monitoring`` writes); ``listen``
    as in :py:func:`prometheus_config`.

    CLI Example:

    .. code-block:: bash

        salt-call layline_monitoring.config_text
    """
    return _dump(prometheus_config(model, listen))


def rules_text(model=None):
    """
    Return the alert rules file as YAML text (``/etc/prometheus/layline.rules.yml``).

    CLI Example:

    .. code-block:: bash

        salt-call layline_monitoring.rules_text
    """
    return _dump(alert_rules(model))
