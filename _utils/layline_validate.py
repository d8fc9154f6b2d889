"""
Validation of the merged configuration model: every pillar key is checked before anything
changes, and each error names the pillar key. Pure Python (no ``__salt__``): what needs the
execution module's lookups is passed in by the caller.
"""

from salt.exceptions import CommandExecutionError

from layline_checks import (
    Findings,
    check_ip,
    check_minion_id,
    check_path,
    check_words,
    dig,
    engine_count,
    is_inside,
    is_int,
    is_nonempty_str,
    is_valid_hostname,
    is_valid_source_hash,
    rolling_problems,
    type_ok,
    unknown_key_message,
)
from layline_hocon import check_hocon_values, expand_keys
from layline_metrics import (
    check_metrics,
    check_monitoring,
    metrics_enabled,
    metrics_on_rest_port,
    monitoring_minion,
)
from layline_model import is_single_host, mask_url_credentials, nodes, section
from layline_schema import (
    ACCOUNT_GECOS,
    ACCOUNT_RE,
    CALENDAR_RE,
    CLUSTER_NAME_RE,
    CONTROL_CHAR_RE,
    DURATION_RE,
    INDEX_URL_RE,
    KNOWN_KEYS,
    MAX_EXTRA_DEPTH,
    NODE_KEYS,
    NOLOGIN_SHELLS,
    OWNED_PATHS,
    PACKAGE_RE,
    PATH_OWN_TREES,
    PATH_PREFIXES,
    PROTECTED_TREES,
    RENDER_ROLES,
    REQUIREMENTS_URL_RE,
    RESERVED_PORTS,
    SOURCE_URL_RE,
    SUPPORTED_STRATEGIES,
    TLS_KEY_SIZES,
    TYPE_NAMES,
    TYPES,
    UNSAFE_PATH_RE,
    VERSION_RE,
)
from layline_validate_db import check_database, check_network_and_firewall


def check_unknown_keys(config, found):
    """An unknown key is an error: a typo must not silently fall back to a default."""
    for scope, known in KNOWN_KEYS.items():
        data = config if scope == "" else dig(config, scope)
        if not isinstance(data, dict):
            continue
        for key in sorted(data, key=str):
            if key not in known:
                where = f"{scope}:{key}" if scope else str(key)
                found.error(where, unknown_key_message(key, known))


def check_types(config, found):
    """Null and wrong types are errors (a null version must not become the string None)."""
    for key, types in TYPES.items():
        parent, _sep, leaf = key.rpartition(":")
        scope = config if not parent else dig(config, parent)
        if not isinstance(scope, dict) or leaf not in scope:
            continue
        value = scope[leaf]
        if type_ok(value, types):
            continue
        expected = " or ".join(TYPE_NAMES[kind] for kind in types if kind is not None)
        got = "null" if value is None else type(value).__name__
        found.error(
            key, f"must be {expected}, got {got}" + (" (quote it in YAML)" if str in types else "")
        )


def check_version_and_distribution(config, found, installs):
    version = config.get("version")
    if not is_nonempty_str(version):
        found.error("version", "must be a non-empty string (quote it in YAML, e.g. '2.5.4')")
    elif not VERSION_RE.fullmatch(version):
        found.error("version", f"{version!r} is not a version string like 2.5.4")

    dist = config.get("distribution")
    if not isinstance(dist, dict):
        found.error("distribution", "must be a mapping with source, source_hash, installer_args")
        return
    source = dist.get("source")
    if not is_nonempty_str(source):
        if installs:
            found.error(
                "distribution:source",
                "is required (salt://, https:// or file:// "
                "URL of layline-linux-amd64-<version>.sh)",
            )
    elif not SOURCE_URL_RE.fullmatch(source):
        found.error(
            "distribution:source",
            f"{mask_url_credentials(source)!r} must be a "
            "salt://, https:// or file:// URL without whitespace (http:// and ftp:// "
            "are unauthenticated)",
        )
    source_hash = dist.get("source_hash")
    if source_hash in (None, ""):
        if installs:
            found.error(
                "distribution:source_hash",
                "is required: a sha256/sha512 hex digest, "
                "'sha256=<hex>', or the salt:// URL of a hash file; Salt never "
                "installs an unverified download",
            )
    elif not is_valid_source_hash(source_hash):
        found.error(
            "distribution:source_hash",
            f"{source_hash!r} is neither a sha256/sha512 "
            "hex digest, '<sha256|sha512>=<hex>', nor a salt:// URL of a hash file "
            "(a hash fetched over http(s) or ftp proves nothing about the download)",
        )
    check_path(found, "distribution:cache_dir", dist.get("cache_dir"), own_directory=True)
    check_words(
        found,
        "distribution:prerequisites",
        dist.get("prerequisites"),
        PACKAGE_RE,
        "a package name",
    )
    args = dist.get("installer_args")
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        found.error(
            "distribution:installer_args", "must be a list of strings, e.g. ['-q', '-dir', '{dir}']"
        )
    elif any(CONTROL_CHAR_RE.search(arg) for arg in args):
        found.error("distribution:installer_args", "must not contain control characters")
    elif not any("{dir}" in arg for arg in args):
        # each version goes into its own release directory, never the one a node runs
        found.error(
            "distribution:installer_args",
            "must contain {dir} (replaced by the "
            "release directory <install_dir>/releases/<version>), e.g. "
            "['-q', '-dir', '{dir}']",
        )


PLACED_PATHS = ("home", "install_dir", "config_dir", "distribution:cache_dir")


def check_paths_and_account(config, found, host=None):
    for key in ("install_dir", "home", "config_dir"):
        value = config.get(key)
        if not is_nonempty_str(value):
            found.error(key, "must be an absolute path")
        check_path(found, key, value, own_directory=True)
    for key in PLACED_PATHS:
        check_placement(found, key, dig(config, key), config.get("user"), host)
    shell = config.get("nologin_shell")
    check_path(found, "nologin_shell", shell)
    if isinstance(shell, str) and shell not in NOLOGIN_SHELLS:
        found.error(
            "nologin_shell",
            f"{shell!r} is not a non-login shell: use one of {', '.join(NOLOGIN_SHELLS)} "
            "(the service account must not be usable for a login)",
        )
    home = config.get("home")
    for key, value in (
        ("install_dir", config.get("install_dir")),
        ("config_dir", config.get("config_dir")),
        ("distribution:cache_dir", dig(config, "distribution:cache_dir")),
    ):
        if is_inside(value, home) or is_inside(home, value):
            # root writes there: it must not be a place the service user controls
            found.error(
                key,
                f"{value!r} overlaps layline:home {home!r}: root installs there, "
                "so it must be outside the service user's home",
            )
    for key in ("user", "group"):
        value = config.get(key)
        if not isinstance(value, str) or not ACCOUNT_RE.fullmatch(value):
            found.error(
                key,
                "must be a valid account name (lower case letters, digits, "
                "'_' and '-', at most 32 characters)",
            )
        elif value == "root":
            found.error(key, "must not be root: layline runs as an unprivileged service account")
    if host is not None:
        check_accounts(config, found, host)


def check_placement(found, key, value, user, host):
    """
    ``key`` (a directory the formula creates, chowns, names in ReadWritePaths= or deletes)
    must not be, contain or lie in a tree root relies on. With ``host`` (the machine's
    answers): a path that exists must be below an allowlisted prefix and root's, and an
    existing home must be the service user's wherever it is (an allowlisted prefix such as
    /home or /var/lib holds other accounts' directories too). Without ``host`` only the
    protected trees are checked.
    """
    if not isinstance(value, str) or not value.startswith("/") or UNSAFE_PATH_RE.search(value):
        return  # check_path reports it
    for tree in PROTECTED_TREES:
        if is_inside(value, tree) or is_inside(tree, value):
            found.error(
                key,
                f"{value!r} is, contains or lies in {tree}, which root, the formula, MariaDB, "
                "Salt or systemd rely on: use a directory of its own such as /opt/layline, "
                "/var/lib/layline or /var/cache/layline",
            )
            return
    allowed = any(is_inside(value, tree) for tree in PATH_OWN_TREES) or any(
        is_inside(value, prefix) and value != prefix for prefix in PATH_PREFIXES
    )
    if host is None:
        return  # without the machine's answer (render, the runner) existence is not known
    owner = host.path_owner(value)
    if owner is None:
        return  # the formula creates it as its own
    if key == "home":
        if owner == user:
            return
        problem = (
            f"exists and belongs to {owner!r}, not layline:user {user!r}: the formula would "
            "hand it to the service user"
        )
    elif not allowed:
        problem = (
            f"is not below {', '.join(PATH_PREFIXES + PATH_OWN_TREES)} and already exists: "
            "the formula takes it over (and layline.clean deletes it)"
        )
    elif owner == "root":
        return
    else:
        problem = f"exists and belongs to {owner!r}: root installs there, so it must be root's"
    found.error(
        key,
        f"{value!r} {problem}; use a directory of its own that does not exist yet, e.g. "
        "/opt/layline, /var/lib/layline or /var/cache/layline",
    )


def check_accounts(config, found, host):
    """
    ``user``/``group`` must not take over an account the formula did not create. The formula's
    account is a system account with the GECOS comment ``ACCOUNT_GECOS``; one created before
    that comment (a system account whose home is layline:home, exists and is its own, and
    whose shell is a nologin shell) is accepted too, and gets the comment on the next apply.
    """
    name, group = config.get("user"), config.get("group")
    if not isinstance(name, str) or not isinstance(group, str):
        return
    account = host.account(name)
    if account is not None:
        legacy = (
            account["system"]
            and account["home"] == config.get("home")
            and account["shell"] in NOLOGIN_SHELLS
            and host.path_owner(account["home"]) == name
        )
        if not (account["system"] and account["gecos"] == ACCOUNT_GECOS) and not legacy:
            found.error(
                "user",
                f"{name!r} is an existing account that layline-formula did not create "
                f"(its comment is not {ACCOUNT_GECOS!r}): choose an account name of its own",
            )
            return
    gid = host.group_gid(group)
    if gid is not None and (account is None or account["gid"] != gid):
        found.error(
            "group",
            f"{group!r} is an existing group that is not the primary group of the formula's "
            "account layline:user: choose a group name of its own",
        )


def check_python(config, found):
    python = config.get("python")
    if not isinstance(python, dict):
        found.error("python", "must be a mapping (index_url, extra_index_url, requirements)")
        return
    insecure = python.get("allow_insecure_index", False)
    if not isinstance(insecure, bool):
        found.error("python:allow_insecure_index", "must be true or false")
        insecure = False
    # https only, unless a lab says so: the hashes pin the artefacts, but a plain-http
    # index or requirements file can be changed on the way (issue 18)
    schemes = "http:// or https://" if insecure else "https://"
    for key in ("index_url", "extra_index_url"):
        value = python.get(key)
        if value is None:
            continue
        if not (isinstance(value, str) and INDEX_URL_RE.fullmatch(value)):
            found.error(
                f"python:{key}",
                f"must be an {schemes} URL of a package "
                "index (e.g. https://pypi.example.com/simple/) or null",
            )
        elif value.startswith("http://") and not insecure:
            found.error(
                f"python:{key}",
                "must be an https:// URL (http:// only with "
                "layline:python:allow_insecure_index: true, for a lab)",
            )
    value = python.get("requirements")
    if not (isinstance(value, str) and REQUIREMENTS_URL_RE.fullmatch(value)):
        found.error(
            "python:requirements",
            f"must be a salt:// or {schemes} URL of a requirements "
            "file that pins every package as NAME==VERSION --hash=sha256:...",
        )
    elif value.startswith("http://") and not insecure:
        found.error(
            "python:requirements",
            "must be a salt:// or https:// URL (http:// only with "
            "layline:python:allow_insecure_index: true, for a lab)",
        )


def check_nodes(config, found):
    cluster = config.get("cluster")
    if not isinstance(cluster, dict):
        found.error("cluster", "must be a mapping")
        return []
    name = cluster.get("name")
    if not isinstance(name, str) or not CLUSTER_NAME_RE.fullmatch(name) or name in (".", ".."):
        found.error(
            "cluster:name",
            "must be a non-empty name of letters, digits, '_', '.', '-' "
            "(it becomes the file name clusters/<name>.json)",
        )
    listed = cluster.get("nodes")
    if listed is None:
        listed = []
    if not isinstance(listed, list):
        found.error("cluster:nodes", "must be a list of {minion, hostname} mappings")
        return []
    first_seen = {"minion": {}, "hostname": {}}
    for index, node in enumerate(listed):
        where = f"cluster:nodes[{index}]"
        if not isinstance(node, dict):
            found.error(where, "must be a mapping with minion and hostname")
            continue
        for field in ("minion", "hostname"):
            value = node.get(field)
            if not is_nonempty_str(value):
                found.error(f"{where}:{field}", "is required")
                continue
            if field == "hostname" and not is_valid_hostname(value):
                found.error(f"{where}:hostname", f"{value!r} is not a valid DNS name or IP address")
            seen = first_seen[field]
            key = value.lower() if field == "hostname" else value
            if key in seen:
                found.error(
                    f"{where}:{field}",
                    f"duplicate of layline:cluster:nodes[{seen[key]}]:{field} {value!r}",
                )
            else:
                seen[key] = index
        for key in sorted(node, key=str):
            if key not in NODE_KEYS:
                found.error(f"{where}:{key}", unknown_key_message(key, NODE_KEYS))
        check_ip(found, f"{where}:address", node.get("address"))
        check_minion_id(found, f"{where}:minion", node.get("minion"))
    return listed


def check_cluster_settings(config, found):
    cluster = section(config, "cluster")
    count = engine_count(config)
    members = cluster.get("min_nr_of_members")
    if not is_int(members) or members < 1:
        found.error("cluster:min_nr_of_members", "must be an integer >= 1")
    elif members > count:
        found.error(
            "cluster:min_nr_of_members",
            f"{members} is more than the {count} "
            "configured engine node(s): the cluster would never become Up",
        )

    sbr = cluster.get("split_brain_resolver")
    if not isinstance(sbr, dict):
        found.error(
            "cluster:split_brain_resolver",
            "must be a mapping with strategy, stable_after, quorum_size",
        )
        return
    strategy = sbr.get("strategy")
    key = "cluster:split_brain_resolver"
    if strategy == "lease-majority":
        found.error(
            f"{key}:strategy",
            "lease-majority is not supported by this formula (it "
            f"needs a lease implementation); use one of {', '.join(SUPPORTED_STRATEGIES)}",
        )
    elif strategy not in SUPPORTED_STRATEGIES:
        found.error(
            f"{key}:strategy", f"{strategy!r} is not one of {', '.join(SUPPORTED_STRATEGIES)}"
        )
    elif strategy == "keep-majority" and count >= 2 and count % 2 == 0:
        found.warn(
            f"{key}:strategy",
            f"keep-majority with an even number of engine nodes "
            f"({count}): on an equal split the side with the lowest address survives, "
            "so losing that side downs the other half too; use an odd node count",
        )
    stable_after = sbr.get("stable_after")
    if not isinstance(stable_after, str) or not DURATION_RE.fullmatch(stable_after):
        found.error(f"{key}:stable_after", "must be a HOCON duration with a unit, e.g. '20s'")
    quorum = sbr.get("quorum_size")
    if strategy == "static-quorum":
        if not is_int(quorum) or not 1 <= quorum <= count:
            found.error(
                f"{key}:quorum_size",
                f"static-quorum needs an integer between 1 and the engine node count ({count})",
            )
        elif quorum <= count / 2:
            found.warn(
                f"{key}:quorum_size",
                f"{quorum} is not more than half of {count} "
                "nodes: both sides of a partition may keep running (split brain)",
            )
    elif quorum is not None:
        found.warn(f"{key}:quorum_size", f"is ignored by strategy {strategy!r}")


def check_config_server(config, found, listed):
    config_server = config.get("config_server")
    if config_server is None:
        config_server = {}
    if not isinstance(config_server, dict):
        found.error("config_server", "must be a mapping with minion and hostname")
        return
    minion = config_server.get("minion")
    hostname = config_server.get("hostname")
    if listed:
        if not is_nonempty_str(minion):
            found.error("config_server:minion", "is required when layline:cluster:nodes is set")
        if not is_nonempty_str(hostname):
            found.error("config_server:hostname", "is required when layline:cluster:nodes is set")
    elif minion:
        found.error(
            "cluster:nodes",
            "is empty while layline:config_server:minion is set: list "
            "the engine nodes (minion, hostname) or remove config_server:minion for the "
            "single-host default",
        )
    if is_nonempty_str(hostname) and not is_valid_hostname(hostname):
        found.error("config_server:hostname", f"{hostname!r} is not a valid DNS name or IP address")
    check_minion_id(found, "config_server:minion", minion)
    check_ip(found, "config_server:address", config_server.get("address"))


def services_by_minion(config):
    """minion id -> [(pillar key of a port, port)] of the services that run on it."""
    ports = section(config, "ports")
    engine_ports = [(f"ports:{key}", ports.get(key)) for key in ("rest", "cluster", "management")]
    if metrics_enabled(config) and not metrics_on_rest_port(config):
        engine_ports.append(("metrics:port", section(config, "metrics").get("port")))
    config_server_port = [("ports:config_server", ports.get("config_server"))]
    database = section(config, "database")
    services = {}
    if is_single_host(config):
        services["<this minion>"] = engine_ports + config_server_port
    else:
        for node in nodes(config):
            if isinstance(node, dict) and node.get("minion"):
                services.setdefault(node["minion"], []).extend(engine_ports)
        config_server_minion = section(config, "config_server").get("minion")
        if config_server_minion:
            services.setdefault(config_server_minion, []).extend(config_server_port)
    if database.get("backend") == "mysql" and database.get("minion") in services:
        services[database["minion"]].append(("database:port", database.get("port")))
    monitoring = section(config, "monitoring")
    if monitoring_minion(config):
        # the monitoring ports come last: a clash names the monitoring key
        if database.get("backend") == "mysql" and database.get("minion"):
            on_database = services.setdefault(database["minion"], [])
            if ("database:port", database.get("port")) not in on_database:
                on_database.append(("database:port", database.get("port")))
            on_database.append(
                ("monitoring:node_exporter_port", monitoring.get("node_exporter_port"))
            )
        services.setdefault(monitoring["minion"], []).append(
            ("monitoring:port", monitoring.get("port"))
        )
    return services


def check_ports(config, found):
    ports = config.get("ports")
    if not isinstance(ports, dict):
        found.error("ports", "must be a mapping with config_server, rest, cluster, management")
        return
    checked = [(f"ports:{key}", ports.get(key)) for key in KNOWN_KEYS["ports"]]
    if section(config, "database").get("backend") == "mysql":
        checked.append(("database:port", section(config, "database").get("port")))
    bad = set()
    for key, port in sorted(checked):
        if not is_int(port) or not 1 <= port <= 65535:
            found.error(key, "must be an integer port between 1 and 65535")
            bad.add(key)
    every = checked + [
        pair for services in services_by_minion(config).values() for pair in services
    ]
    for key, port in every:
        if key not in bad and port in RESERVED_PORTS:
            found.error(
                key,
                f"port {port} is the port of {RESERVED_PORTS[port]}: the firewall table "
                "would hand it to layline; choose another port",
            )
            bad.add(key)
    reported = set()
    for minion, services in services_by_minion(config).items():
        for index, (key, port) in enumerate(services):
            for other_key, other_port in services[index + 1 :]:
                pair = (key, other_key)
                if key in bad or other_key in bad or port != other_port or pair in reported:
                    continue
                reported.add(pair)
                found.error(
                    other_key,
                    f"port {port} clashes with layline:{key} on minion "
                    f"{minion}: services on one host need distinct ports",
                )


def check_extra_config(config, found):
    extra = config.get("extra_config")
    if extra is None:
        return
    if not isinstance(extra, dict):
        found.error("extra_config", "must be a mapping with reactive_engine and config_server")
        return
    for role_key in RENDER_ROLES.values():
        value = extra.get(role_key)
        if value is None:
            continue
        if not isinstance(value, dict):
            found.error(f"extra_config:{role_key}", "must be a mapping of HOCON settings")
            continue
        if nesting_depth(value) > MAX_EXTRA_DEPTH:
            found.error(
                f"extra_config:{role_key}",
                f"is nested deeper than {MAX_EXTRA_DEPTH} levels (mappings, lists and "
                "dotted key segments): flatten it",
            )
            continue
        try:
            expanded = expand_keys(value, f"extra_config:{role_key}")
            check_hocon_values(value, f"extra_config:{role_key}")
        except CommandExecutionError as exc:
            found.errors.append(str(exc))
            continue
        for path in leaf_paths(expanded):
            owner = owned_by_formula(role_key, path)
            if owner:
                owned, instead = owner
                found.error(
                    f"extra_config:{role_key}:{'.'.join(path)}",
                    f"{owned} is set by the formula: set {instead} instead",
                )


def nesting_depth(data):
    """Deepest nesting of mappings and lists in ``data`` (dotted keys count per segment)."""
    deepest = 0
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_EXTRA_DEPTH:
            break  # enough to refuse it; never walk a hostile structure to its end
        if isinstance(value, dict):
            stack.extend((child, depth + str(key).count(".") + 1) for key, child in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((child, depth + 1) for child in value)
    return deepest


def leaf_paths(data, prefix=()):
    """Paths of every non-mapping value (and of empty mappings) in nested ``data``."""
    for key, value in data.items():
        path = prefix + (key,)
        if isinstance(value, dict) and value:
            yield from leaf_paths(value, path)
        else:
            yield path


def owned_by_formula(role_key, path):
    """(owned HOCON path, advice) when ``path`` sets or replaces a formula-owned setting."""
    for (role, owned), instead in OWNED_PATHS.items():
        owned_path = tuple(owned.split("."))
        shorter = min(len(path), len(owned_path))
        if role == role_key and path[:shorter] == owned_path[:shorter]:
            return owned, instead
    return None


def check_rolling(config, found):
    rolling = config.get("rolling")
    if rolling is None:
        return
    if not isinstance(rolling, dict):
        found.error(
            "rolling",
            "must be a mapping with all, max_unavailable, timeout, poll_interval,"
            " join_timeout, on_failure",
        )
        return
    for key, problem in rolling_problems(rolling):
        found.error(f"rolling:{key}", problem)


def check_tls(config, found):
    tls = config.get("tls")
    if tls is None:
        return
    if not isinstance(tls, dict):
        found.error("tls", "must be a mapping with enabled, ca_minion, days, ...")
        return
    if not isinstance(tls.get("enabled", True), bool):
        found.error("tls:enabled", "must be true or false")
    ca_minion = tls.get("ca_minion")
    if (
        ca_minion is not None
        and not is_single_host(config)
        and check_minion_id(found, "tls:ca_minion", ca_minion, required=True)
        and ca_minion not in layline_minions(config)
    ):
        found.error(
            "tls:ca_minion",
            f"{ca_minion!r} has no layline role (database, "
            "config server or engine node): the CA lives on one of them",
        )
    for key, low in (("days", 1), ("renew_days", 1), ("ca_days", 1), ("wait_timeout", 0)):
        value = tls.get(key)
        if value is not None and (not is_int(value) or value < low):
            found.error(f"tls:{key}", f"must be an integer >= {low}")
    days, renew, ca_days = (
        value if is_int(value) and value >= 1 else None
        for value in (tls.get("days"), tls.get("renew_days"), tls.get("ca_days"))
    )
    if is_int(days) and is_int(renew) and renew >= days:
        found.error(
            "tls:renew_days",
            f"{renew} is not less than layline:tls:days ({days}): "
            "every apply would issue a new certificate",
        )
    if is_int(days) and is_int(ca_days) and ca_days <= days:
        found.error(
            "tls:ca_days",
            f"{ca_days} is not more than layline:tls:days ({days}): "
            "node certificates must expire before the CA does",
        )
    key_size = tls.get("key_size")
    if key_size is not None and key_size not in TLS_KEY_SIZES:
        found.error(
            "tls:key_size",
            f"{key_size!r} is not one of "
            f"{', '.join(map(str, TLS_KEY_SIZES))} (RSA bits; Pekko reads no EC keys)",
        )
    policy = tls.get("signing_policy")
    if policy is not None and (
        not isinstance(policy, str) or not CLUSTER_NAME_RE.fullmatch(policy)
    ):
        found.error("tls:signing_policy", "must be a name of letters, digits, '_', '.', '-'")


def layline_minions(config):
    """Minion ids with a layline role in a multi-node model."""
    minions = {node.get("minion") for node in nodes(config) if isinstance(node, dict)}
    minions.add(section(config, "config_server").get("minion"))
    database = section(config, "database")
    if database.get("backend") == "mysql":
        minions.add(database.get("minion"))
    return {minion for minion in minions if is_nonempty_str(minion)}


def check_backup(config, found):
    """The backup timer's settings: they reach a unit file and the backup script's argv."""
    backup = config.get("backup")
    if not isinstance(backup, dict):
        return
    calendar = backup.get("on_calendar")
    if isinstance(calendar, str) and not CALENDAR_RE.fullmatch(calendar):
        found.error(
            "backup:on_calendar",
            "must be a systemd calendar expression such as 'daily' or '*-*-* 02:30:00' (one line)",
        )
    keep = backup.get("keep")
    if is_int(keep) and keep < 1:
        found.error("backup:keep", "must be an integer >= 1 (the number of newest backups kept)")
    check_path(found, "backup:dir", backup.get("dir"), own_directory=True)
    check_path(found, "backup:textfile_dir", backup.get("textfile_dir"), own_directory=True)
    home = config.get("home")
    for key in ("dir", "textfile_dir"):
        value = backup.get(key)
        if is_inside(value, home) or is_inside(home, value):
            found.error(
                f"backup:{key}",
                f"{value!r} overlaps layline:home {home!r}: root "
                "writes there, so it must be outside the service user's home",
            )
    if isinstance(backup.get("dir"), str) and backup.get("dir") == backup.get("textfile_dir"):
        found.error(
            "backup:textfile_dir",
            "must differ from layline:backup:dir (the backups "
            "stay private to root, the exporter reads the textfile directory)",
        )
    restore = section(config, "restore").get("file")
    if isinstance(restore, str) and (not restore.strip() or UNSAFE_PATH_RE.search(restore)):
        found.error(
            "restore:file",
            "must be a backup file name as `layline_db.backups` "
            "lists it, or its absolute path, without whitespace or quotes",
        )


def validate(config, *, installs=True, is_one_machine, host=None):
    """
    Pure validation: returns (errors, warnings) for a merged config dict.

    ``distribution:source``/``source_hash`` are required unless ``installs`` is False (a
    database-only machine installs nothing, the clean SLS files neither).
    ``is_one_machine(config)``: True when every role runs on one minion (the execution
    module's lookup; passed in until the address lookups live in ``_utils``).
    ``host``: the seam to this machine's paths and accounts (``path_owner(path)`` -> owner
    name or None when missing; ``account(name)`` -> dict(system, gecos, home, shell, gid) or
    None; ``group_gid(name)`` -> gid or None), or None for the pure checks only.
    """
    found = Findings()
    if not isinstance(config, dict):
        found.errors.append("layline: the configuration must be a mapping")
        return found.errors, found.warnings
    check_unknown_keys(config, found)
    check_types(config, found)
    check_version_and_distribution(config, found, installs)
    check_paths_and_account(config, found, host)
    check_python(config, found)
    listed = check_nodes(config, found)
    check_cluster_settings(config, found)
    check_config_server(config, found, listed)
    check_database(config, found)
    check_ports(config, found)
    check_extra_config(config, found)
    check_rolling(config, found)
    check_network_and_firewall(config, found, is_one_machine)
    check_tls(config, found)
    check_backup(config, found)
    check_metrics(config, found)
    check_monitoring(config, found)
    return found.errors, found.warnings
