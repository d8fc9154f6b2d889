"""
The metrics and monitoring model (``layline:metrics``, ``layline:monitoring``, the backup
alert) and its validation: what the monitoring role builds and scrapes.
"""

import ipaddress
import re

from layline_checks import check_minion_id, check_path, is_int, is_nonempty_str, is_valid_hostname
from layline_model import is_single_host, nodes, section, url_host
from layline_schema import (
    ALERT_KEYS,
    BACKUP_PERIODS,
    BACKUP_SLACK,
    BACKUP_TEXTFILE_DIR,
    PROM_DURATION_RE,
    PROM_UNITS,
    URL_PATH_RE,
)


def prom_seconds(duration):
    """Seconds of a Prometheus duration such as ``1h30m`` (validated beforehand)."""
    return sum(
        int(number) * PROM_UNITS[unit]
        for number, unit in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration)
    )


def metrics_enabled(config):
    return section(config, "metrics").get("enabled") is True


def metrics_on_rest_port(config):
    """metrics.port = ports.rest: layline's documented endpoint, the REST server's
    /engine/prometheus (Prometheus extension asset); nothing to render, no port of its own."""
    return section(config, "metrics").get("port") == section(config, "ports").get("rest")


def monitoring_minion(config):
    minion = section(config, "monitoring").get("minion")
    return minion if is_nonempty_str(minion) else None


def backup_watched(config):
    """True when the monitoring role alerts on backups: MySQL backend with backups on
    (``layline:backup`` belongs to the backup feature; read with defaults)."""
    database = section(config, "database")
    return (
        database.get("backend") == "mysql"
        and bool(database.get("minion"))
        and section(config, "backup").get("enabled", True) is not False
    )


def backup_max_age(config):
    """(seconds, pillar key to blame) a backup may be old before it counts as late."""
    explicit = section(config, "monitoring").get("backup_max_age")
    if explicit is not None:
        return prom_seconds(explicit), "monitoring:backup_max_age"
    schedule = section(config, "backup").get("on_calendar", "daily")
    period = BACKUP_PERIODS.get(str(schedule).strip().lower())
    return (None if period is None else period + BACKUP_SLACK), "backup:on_calendar"


def check_metrics(config, found):
    metrics = config.get("metrics")
    if metrics is None:
        return
    if not isinstance(metrics, dict):
        found.error("metrics", "must be a mapping with enabled and port")
        return
    port = metrics.get("port")
    if not is_int(port) or not 1 <= port <= 65535:
        found.error("metrics:port", "must be an integer port between 1 and 65535")


def check_monitoring(config, found):
    monitoring = config.get("monitoring")
    if not isinstance(monitoring, dict) or not monitoring.get("minion"):
        return
    minion = monitoring.get("minion")
    check_minion_id(found, "monitoring:minion", minion, required=True)
    hostname = monitoring.get("hostname")
    if not is_nonempty_str(hostname):
        found.error("monitoring:hostname", "is required when layline:monitoring:minion is set")
    elif not is_valid_hostname(hostname):
        found.error("monitoring:hostname", f"{hostname!r} is not a valid DNS name or IP address")
    address = monitoring.get("address")
    if address is not None:
        try:
            if ipaddress.ip_address(address).is_loopback:
                found.error(
                    "monitoring:address",
                    f"{address!r} is a loopback address: give "
                    "the address the engines see the monitoring minion at",
                )
        except ValueError:
            found.error("monitoring:address", f"{address!r} is not an IP address")
    if is_single_host(config):
        found.error(
            "monitoring:minion",
            "needs layline:cluster:nodes: the single-host default "
            "binds every layline port to 127.0.0.1, out of Prometheus' reach",
        )
    textfile_dir = section(config, "backup").get("textfile_dir")
    if textfile_dir is not None:
        check_path(found, "backup:textfile_dir", textfile_dir)
    if not metrics_enabled(config):
        found.error(
            "metrics:enabled",
            "must be true when layline:monitoring:minion is set: "
            "the monitoring role scrapes the engines' metrics port",
        )
    for key in ("port", "node_exporter_port"):
        port = monitoring.get(key)
        if not is_int(port) or not 1 <= port <= 65535:
            found.error(f"monitoring:{key}", "must be an integer port between 1 and 65535")
    path = monitoring.get("metrics_path")
    if not isinstance(path, str) or not URL_PATH_RE.fullmatch(path):
        found.error("monitoring:metrics_path", "must be a URL path such as /metrics")
    durations = [
        ("monitoring:scrape_interval", monitoring.get("scrape_interval")),
        ("monitoring:backup_max_age", monitoring.get("backup_max_age") or "1s"),
    ]
    alerts = monitoring.get("alerts") if isinstance(monitoring.get("alerts"), dict) else {}
    durations += [(f"monitoring:alerts:{key}", alerts.get(key)) for key in ALERT_KEYS]
    for key, value in durations:
        if (
            not isinstance(value, str)
            or not PROM_DURATION_RE.fullmatch(value)
            or prom_seconds(value) == 0
        ):
            found.error(key, f"{value!r} is not a Prometheus duration such as 15s, 1m or 1h30m")
    if backup_watched(config) and "monitoring:backup_max_age" not in found.failed:
        seconds, key = backup_max_age(config)
        if seconds is None:
            found.error(
                "monitoring:backup_max_age",
                "is required: layline:backup:on_calendar "
                f"is not one of {', '.join(BACKUP_PERIODS)}, so the backup alert "
                "cannot tell how old a backup may be",
            )


def scrape_host(node):
    """Where Prometheus reaches a node: its canonical address, else its hostname."""
    return node.get("address") or node.get("hostname")


def monitoring_model(config):
    """What the monitoring role builds (see :py:func:`monitoring`); None when it is off."""
    monitoring = section(config, "monitoring")
    minion = monitoring_minion(config)
    if minion is None:
        return None
    database = section(config, "database")
    metrics_port = section(config, "metrics").get("port")
    engines = [
        {"minion": node.get("minion"), "target": f"{url_host(scrape_host(node))}:{metrics_port}"}
        for node in nodes(config)
        if isinstance(node, dict)
    ]
    node_exporter = None
    if database.get("backend") == "mysql" and database.get("minion"):
        node_exporter = {
            "minion": database["minion"],
            "target": f"{url_host(scrape_host(database))}:{monitoring.get('node_exporter_port')}",
        }
    backup = None
    if backup_watched(config):
        seconds, _key = backup_max_age(config)
        backup = {
            "max_age_seconds": int(seconds),
            "textfile_dir": section(config, "backup").get("textfile_dir") or BACKUP_TEXTFILE_DIR,
        }
    return {
        "minion": minion,
        "port": monitoring.get("port"),
        "scrape_interval": monitoring.get("scrape_interval"),
        "metrics_path": monitoring.get("metrics_path"),
        "cluster": section(config, "cluster").get("name"),
        "engines": engines,
        "configured_members": len(engines),
        "node_exporter": node_exporter,
        "textfile_dir": section(config, "backup").get("textfile_dir") or BACKUP_TEXTFILE_DIR,
        "backup": backup,
        "alerts": {key: section(monitoring, "alerts").get(key) for key in ALERT_KEYS},
    }
