"""
The firewall of layline's guide (its production notes' port table), per role.

Rules are data first (:py:func:`rules`): for each layline port this minion
listens on, the sources allowed to connect (canonical addresses of the other
roles, resolved on this minion, plus the pillar lists
``layline:firewall:{browsers, clients, scrape, operators}``). Everything else to those
ports is dropped; no other port is touched (SSH, Salt and the site's own rules
stay as they are).

- Debian (``layline:firewall:backend: nftables``): :py:func:`ruleset` renders
  one table ``inet layline`` from that data (never string-templated from
  pillar); the file replaces the table atomically (``nft -f`` runs it as one
  transaction) and the site's ``/etc/nftables.conf`` is never touched.
- RedHat (``firewalld``): :py:func:`rich_rules` gives firewalld rich rules that
  accept the sources on each port of the zone; ports the zone does not open
  are rejected by firewalld itself.

The port table (docs/design.md, firewall):

==================  ===============================================
port                sources
==================  ===============================================
database:port       config server, engines
ports:config_server browsers, engines
ports:rest          config server, clients
ports:cluster       engines
ports:management    engines, config server
metrics:port        scrape, the monitoring machine (metrics enabled)
monitoring:port     operators (Prometheus' UI and API, on the
                    monitoring minion; it scrapes itself over lo)
monitoring:         scrape, the monitoring machine (the node
node_exporter_port  exporter on the database minion)
==================  ===============================================
"""

import ipaddress

from salt.exceptions import CommandExecutionError

import layline_address
import layline_checks
import layline_metrics
import layline_model
import layline_schema
import layline_sync

# a re-sync in this process takes effect (see layline_sync)
layline_sync.refresh(
    layline_schema, layline_model, layline_address, layline_checks, layline_metrics
)
# the utils this module was written for: an older synced copy counts as not synced
UTILS_API = 6

__virtualname__ = "layline_firewall"

TABLE = "layline"
RULESET_HEADER = (
    "# Managed by Salt (layline-formula): the layline listeners' firewall. Do not edit.\n"
)


def __virtual__():
    problem = layline_sync.out_of_date(layline_schema, UTILS_API)
    if problem:
        return False, problem
    return __virtualname__


def _networks(values):
    """IPs/CIDRs -> collapsed networks per family (no overlaps: nft sets refuse them)."""
    parsed = [ipaddress.ip_network(str(value), strict=False) for value in values]
    result = []
    for version in (4, 6):
        family = [net for net in parsed if net.version == version]
        result.extend(str(net) for net in ipaddress.collapse_addresses(family))
    return result


def build_rules(config, roles, addresses):
    """
    The rules of one minion as data: a list of ``{port, what, key, sources}``
    sorted by port. ``addresses`` maps ``engines``, ``config_server`` and
    ``monitoring`` to canonical addresses (lists) and ``node_exporter`` to True
    when this minion runs the monitoring role's node exporter; ``roles`` are the
    minion's layline roles. Pure: :py:func:`rules` gathers the addresses on the minion.
    """
    firewall = config.get("firewall") or {}
    ports = config.get("ports") or {}
    database = config.get("database") or {}
    metrics = config.get("metrics") or {}
    engines = addresses.get("engines", [])
    config_server = addresses.get("config_server", [])
    wanted = []
    if "database" in roles:
        wanted.append((database.get("port"), "MySQL", "database:port", config_server + engines))
    if "config-server" in roles:
        wanted.append(
            (
                ports.get("config_server"),
                "config server web UI and REST",
                "ports:config_server",
                list(firewall.get("browsers") or []) + engines,
            )
        )
    if "engine" in roles:
        wanted.append(
            (
                ports.get("rest"),
                "engine REST",
                "ports:rest",
                config_server + list(firewall.get("clients") or []),
            )
        )
        wanted.append((ports.get("cluster"), "Pekko Artery (cluster)", "ports:cluster", engines))
        wanted.append(
            (
                ports.get("management"),
                "Pekko management",
                "ports:management",
                engines + config_server,
            )
        )
        if metrics.get("enabled") is True and metrics.get("port"):
            wanted.append(
                (
                    metrics.get("port"),
                    "metrics",
                    "metrics:port",
                    list(firewall.get("scrape") or []) + addresses.get("monitoring", []),
                )
            )
    monitoring = config.get("monitoring") or {}
    if "monitoring" in roles:
        wanted.append(
            (
                monitoring.get("port"),
                "Prometheus",
                "monitoring:port",
                list(firewall.get("operators") or []),
            )
        )
    if addresses.get("node_exporter"):
        wanted.append(
            (
                monitoring.get("node_exporter_port"),
                "node exporter",
                "monitoring:node_exporter_port",
                list(firewall.get("scrape") or []) + addresses.get("monitoring", []),
            )
        )
    merged = {}
    for port, what, key, sources in wanted:
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise CommandExecutionError(f"layline:{key}: {port!r} is not a port")
        rule = merged.setdefault(port, {"port": port, "what": what, "key": key, "sources": []})
        rule["sources"] = _networks(rule["sources"] + sources)
    return [merged[port] for port in sorted(merged)]


def _nft_element(network):
    network = ipaddress.ip_network(network)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _nft_set(networks):
    return "{ " + ", ".join(_nft_element(net) for net in networks) + " }"


def nft_text(rules):
    """
    The nftables script of ``rules``: create-then-delete-then-define the table
    ``inet layline``, so that ``nft -f`` replaces it in one transaction (pure).
    """
    lines = [
        RULESET_HEADER.rstrip("\n"),
        f"table inet {TABLE} {{}}",
        f"delete table inet {TABLE}",
        f"table inet {TABLE} {{",
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy accept;",
    ]
    if rules:
        lines.append('\t\tiif "lo" accept')
    for rule in rules:
        port = int(rule["port"])
        lines.append(f"\t\t# {rule['what']} (layline:{rule['key']})")
        for family, prefix in (("ip", 4), ("ip6", 6)):
            sources = [s for s in rule["sources"] if ipaddress.ip_network(s).version == prefix]
            if sources:
                lines.append(f"\t\ttcp dport {port} {family} saddr {_nft_set(sources)} accept")
    if rules:
        ports = ", ".join(str(int(rule["port"])) for rule in rules)
        lines.append(f"\t\ttcp dport {{ {ports} }} drop")
    lines += ["\t}", "}"]
    return "\n".join(lines) + "\n"


def rich_rule_list(rules):
    """firewalld rich rules accepting each rule's sources on its port (pure)."""
    result = []
    for rule in rules:
        for source in rule["sources"]:
            family = "ipv4" if ipaddress.ip_network(source).version == 4 else "ipv6"
            result.append(
                f'rule family="{family}" source address="{source}" '
                f'port port="{int(rule["port"])}" protocol="tcp" accept'
            )
    return result


def _model(config, minion_id):
    """``config`` and ``minion_id`` when given (tests), else the model read on this minion
    (``layline_model.load``) and this minion's id."""
    if config is None:
        config = layline_model.load(__salt__["slsutil.renderer"], __context__, __pillar__)
    return config, (__opts__["id"] if minion_id is None else minion_id)


def rules(config=None, minion_id=None):
    """
    The firewall rules of this minion as data: ``[{port, what, key, sources}]``
    (sources are networks; canonical addresses resolved on this minion).

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_firewall.rules
    """
    config, minion_id = _model(config, minion_id)
    roles = layline_model.roles(config, minion_id)
    addresses = {
        "engines": layline_address.engine_addresses(config, minion_id),
        "config_server": layline_address.config_server_addresses(config, minion_id),
        "monitoring": [],
    }
    if layline_model.monitoring_entry(config):
        addresses["monitoring"] = [layline_address.address(config, "monitoring", minion_id)]
        model = layline_metrics.monitoring_model(config)
        exporter = (model or {}).get("node_exporter") or {}
        addresses["node_exporter"] = exporter.get("minion") == minion_id
    return build_rules(config, roles, addresses)


def active(config=None, minion_id=None):
    """
    True when this minion gets the firewall: ``layline:firewall:enabled``, the
    minion has a layline role, and its listeners can be reached from other
    machines (more than one machine, or ``layline:network:bind_any``; on one
    machine everything binds the loopback address).

    CLI Example:

    .. code-block:: bash

        salt '*' layline_firewall.active
    """
    config, minion_id = _model(config, minion_id)
    firewall = config.get("firewall") or {}
    if firewall.get("enabled") is not True or not layline_model.roles(config, minion_id):
        return False
    return layline_model.bind_any(config) or not layline_model.is_one_machine(config)


def ruleset(config=None, minion_id=None):
    """
    The nftables script (table ``inet layline``) of this minion's rules.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_firewall.ruleset
    """
    return nft_text(rules(config, minion_id))


def rich_rules(config=None, minion_id=None):
    """
    firewalld rich rules of this minion's rules (RedHat).

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_firewall.rich_rules
    """
    return rich_rule_list(rules(config, minion_id))
