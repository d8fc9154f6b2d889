"""
Validation of the database role (``layline:database``) and of ``layline:network`` and
``layline:firewall``: the settings that reach my.cnf, the MySQL accounts and the firewall.
"""

import ipaddress

from layline_checks import (
    check_ip,
    check_minion_id,
    check_path,
    check_words,
    engine_count,
    is_int,
    is_ip_or_network,
    is_nonempty_str,
    is_valid_hostname,
)
from layline_hocon import tls_enabled
from layline_schema import (
    DB_BACKENDS,
    DB_TLS_MODES,
    MYSQL_HOST_RE,
    MYSQL_IDENT_RE,
    PACKAGE_RE,
    UNSAFE_CHAR_RE,
)


def check_database(config, found):
    database = config.get("database")
    if not isinstance(database, dict):
        found.error("database", "must be a mapping")
        return
    backend = database.get("backend")
    if backend not in DB_BACKENDS:
        found.error("database:backend", f"{backend!r} is not one of {', '.join(DB_BACKENDS)}")
        return
    password = database.get("password")
    if password is not None and not isinstance(password, str):
        found.error("database:password", "must be a string (quote it in YAML)")
    elif isinstance(password, str) and UNSAFE_CHAR_RE.search(password):
        found.error(
            "database:password",
            "contains a control character other than tab/newline, "
            "which cannot be written to application.conf safely",
        )
    check_database_tls(config, database, found)
    check_mysql_settings(database, found)
    count = engine_count(config)
    if backend == "h2":
        if count > 1:
            found.error(
                "database:backend",
                f"h2 is a single-user database and cannot serve a "
                f"cluster of {count} engine nodes; use backend mysql",
            )
        return
    for key in ("minion", "hostname"):
        if not is_nonempty_str(database.get(key)):
            found.error(f"database:{key}", "is required for backend mysql")
    hostname = database.get("hostname")
    if is_nonempty_str(hostname) and not is_valid_hostname(hostname):
        found.error("database:hostname", f"{hostname!r} is not a valid DNS name or IP address")
    if password in (None, ""):
        found.error("database:password", "is required for backend mysql")
    for key, limit in (("name", 64), ("user", 32)):
        value = database.get(key)
        if not isinstance(value, str) or not MYSQL_IDENT_RE.fullmatch(value) or len(value) > limit:
            found.error(
                f"database:{key}",
                f"must be a MySQL identifier of letters, digits and "
                f"'_' with at most {limit} characters",
            )
    allowed = database.get("allowed_hosts")
    if allowed is not None and not isinstance(allowed, list):
        found.error(
            "database:allowed_hosts",
            "must be a list of host names, IPs or MySQL host patterns such as '10.0.0.%'",
        )
    else:
        check_words(
            found,
            "database:allowed_hosts",
            allowed or [],
            MYSQL_HOST_RE,
            "a host name, IP, IPv4 CIDR or MySQL host pattern such as '10.0.0.%'",
        )
        check_account_hosts(database, found)


def check_database_tls(config, database, found):
    """database:tls; the old database:ssl (encryption without verification) is refused."""
    if "ssl" in database:
        found.error(
            "database:ssl",
            "was replaced by layline:database:tls (verify-identity, the "
            "default: TLS with the server certificate and host name verified against the "
            "cluster CA; or disabled): remove ssl from the pillar",
        )
    mode = database.get("tls")
    if mode not in DB_TLS_MODES:
        found.error("database:tls", f"{mode!r} is not one of {', '.join(DB_TLS_MODES)}")
    elif (
        mode == "verify-identity" and database.get("backend") == "mysql" and not tls_enabled(config)
    ):
        found.error(
            "database:tls",
            "verify-identity needs the cluster CA and node certificates "
            "(layline:tls:enabled is false): enable layline:tls or set database:tls: "
            "disabled",
        )


def check_mysql_settings(database, found):
    """The MySQL role's settings: they reach my.cnf, package and service names."""
    for key in ("server_package", "client_package", "service"):
        if database.get(key) is not None:
            check_words(
                found,
                f"database:{key}",
                database.get(key),
                PACKAGE_RE,
                "a package or service name",
            )
    for key in ("server_config", "socket"):
        check_path(found, f"database:{key}", database.get(key))
    bind_address = database.get("bind_address")
    if isinstance(bind_address, str) and not is_valid_hostname(bind_address):
        found.error(
            "database:bind_address",
            f"{bind_address!r} is not an IP address or "
            "host name (0.0.0.0 listens on all interfaces)",
        )
    timeout = database.get("wait_timeout")
    if is_int(timeout) and timeout < 0:
        found.error("database:wait_timeout", "must be a number of seconds >= 0")
    minion = database.get("minion")
    check_minion_id(found, "database:minion", minion)
    check_ip(found, "database:address", database.get("address"))


def check_account_hosts(database, found):
    """allowed_hosts against skip_name_resolve; '%' is legal but named as a risk."""
    skip = database.get("skip_name_resolve", True) is not False
    for index, host in enumerate(database.get("allowed_hosts") or []):
        key = f"database:allowed_hosts[{index}]"
        if not isinstance(host, str):
            continue
        if host == "%":
            found.warn(
                key,
                "'%' lets the layline account log in from any host that reaches "
                "the server: a leaked password is then usable from anywhere; list the "
                "clients' IPs or CIDRs instead",
            )
            continue
        if "/" in host:
            try:
                network = ipaddress.ip_network(host, strict=False)
            except ValueError:
                found.error(key, f"{host!r} is not an IP network such as 10.0.0.0/24")
                continue
            if network.version != 4:
                found.error(
                    key,
                    f"{host!r}: MariaDB/MySQL accept only IPv4 networks "
                    "(address/netmask); list the IPv6 addresses one by one",
                )
            elif network.prefixlen < 8:
                found.error(
                    key,
                    f"{host!r} (a /{network.prefixlen}) is a catch-all in disguise: list the "
                    "clients' networks (at least /8); '%' is the one spelling of 'any host', "
                    "and it warns",
                )
            continue
        if host.strip("%_.") == "":
            # '%%', '_%', '%.%': every (dotted) host name, i.e. '%' without its warning
            found.error(
                key,
                f"{host!r} matches (nearly) every host: write '%' if that is meant (it is "
                "warned about), else list the clients' IPs or CIDRs",
            )
            continue
        is_pattern = "%" in host or "_" in host
        if skip and not is_pattern and not is_ip_or_network(host):
            found.error(
                key,
                f"{host!r} is a host name, but layline:database:skip_name_resolve "
                "is on (the server never resolves client addresses to names): use an "
                "IP or CIDR, or set skip_name_resolve: false",
            )


def check_network_and_firewall(config, found, is_one_machine):
    """
    layline:network and layline:firewall (sources are IP addresses or networks);
    ``is_one_machine(config)``: True when every role runs on one minion.
    """
    network = config.get("network")
    if network is not None and not isinstance(network, dict):
        found.error("network", "must be a mapping with bind_any")
    firewall = config.get("firewall")
    if firewall is None:
        return
    if not isinstance(firewall, dict):
        found.error(
            "firewall", "must be a mapping with enabled, browsers, clients, scrape, operators"
        )
        return
    for key in ("browsers", "clients", "scrape", "operators"):
        for index, value in enumerate(firewall.get(key) or []):
            if not isinstance(value, str) or not is_ip_or_network(value):
                found.error(
                    f"firewall:{key}[{index}]",
                    f"{value!r} is not an IP address or network (CIDR such as 192.0.2.0/24)",
                )
    backend = firewall.get("backend")
    if backend is not None and backend not in ("nftables", "firewalld"):
        found.error("firewall:backend", f"{backend!r} is not one of nftables, firewalld")
    elif backend is None and firewall.get("enabled") is True and not is_one_machine(config):
        found.error(
            "firewall:backend",
            "is not set for this OS family (layline/osfamilymap."
            "yaml knows Debian and RedHat): set nftables or firewalld, or "
            "layline:firewall:enabled: false",
        )
    for key in ("package", "service", "zone"):
        if firewall.get(key) is not None:
            check_words(
                found,
                f"firewall:{key}",
                firewall.get(key),
                PACKAGE_RE,
                "a package, service or zone name",
            )
    check_path(found, "firewall:ruleset_file", firewall.get("ruleset_file"))
