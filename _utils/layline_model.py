"""
Lookups on the layline formula's configuration model (the merged ``layline`` pillar).

Pure functions over plain dicts, shared by the execution modules on the minions and the
runner on the master, so both compute nodes and addresses the same way.
"""

from layline_schema import LOOPBACK, SYSTEM_NAME


def section(config, key):
    """``config[key]`` when it is a mapping, else an empty dict."""
    value = (config or {}).get(key)
    return value if isinstance(value, dict) else {}


def nodes(config):
    """The entries of ``cluster:nodes`` (a list, possibly empty)."""
    found = section(config, "cluster").get("nodes")
    return found if isinstance(found, list) else []


def is_single_host(config):
    """layline's own default: no nodes and no config server minion in the pillar."""
    return not nodes(config) and not section(config, "config_server").get("minion")


def engine_nodes(config, minion_id=None):
    """
    The ordered engine node entries (dicts); in the single-host default, ``minion_id`` on
    127.0.0.1 (none without a ``minion_id``).
    """
    if is_single_host(config):
        return [{"minion": minion_id, "hostname": LOOPBACK}] if minion_id else []
    return [node for node in nodes(config) if isinstance(node, dict)]


def url_host(hostname):
    """Hostname as it appears in a URL or a Pekko address (IPv6 in brackets)."""
    return f"[{hostname}]" if ":" in str(hostname) else str(hostname)


def seed_address(hostname, cluster_port):
    """The Pekko address of a member: ``pekko://layline@host:port``."""
    return f"pekko://{SYSTEM_NAME}@{url_host(hostname)}:{cluster_port}"
