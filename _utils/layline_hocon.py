"""
The application.conf of each layline role as data, and its HOCON text: the builder, the
``extra_config`` merge, the serializer and its read-back through pyhocon.

``extra_config`` keys: a key with dots is a HOCON path (``pekko.loglevel`` is
``pekko { loglevel }``); a key wrapped in double quotes is one literal key.
"""

import copy
import json
import math
import re

from salt.exceptions import CommandExecutionError

from layline_metrics import metrics_on_rest_port
from layline_model import section, url_host
from layline_schema import (
    CONTROL_CHAR_RE,
    DB_BACKENDS,
    HEADER,
    RENDER_ROLES,
    TRUSTSTORE_NAME,
    TRUSTSTORE_PASSWORD,
    UNSAFE_CHAR_RE,
)

SBR_PROVIDER = "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"


SHARED_DB_NAME = {"mysql": "mysql", "h2": "h2file"}


MYSQL_DRIVER = "com.mysql.cj.jdbc.Driver"


# Connector/J settings of layline's Multi-Node Cluster Setup guide (its application.conf);
# test/unit/modules/test_layline_guide.py holds the formula to them.
MYSQL_GUIDE_PARAMS = (
    "cachePrepStmts=true&cacheCallableStmts=true&cacheServerConfiguration=true"
    "&useLocalSessionState=true&elideSetAutoCommits=true&alwaysSendSetIsolation=false"
    "&enableQueryTimeouts=false&connectionAttributes=none"
)


H2_DRIVER = "org.h2.Driver"


# The JDBC truststore only holds the public CA certificate; its password guards nothing but the
# file's checksum (the file is root-owned), so it is a fixed, documented value (Java's default).
POOL = {"numThreads": 5, "maxConnections": 5, "minConnections": 1}


# Artery over mutual TLS: Pekko's PEM-reading engine provider (remote/reference.conf)
ROTATING_KEYS_PROVIDER = "org.apache.pekko.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider"


BARE_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


HOCON_RESERVED = {"include", "true", "false", "null", "yes", "no", "on", "off"}


def config_factory():
    """pyhocon's ConfigFactory, or an error that says how to install it."""
    try:
        from pyhocon import ConfigFactory
    except ImportError:
        raise CommandExecutionError(
            "pyhocon is not installed in Salt's own Python: apply the layline.python state "
            "first (salt '<minion>' state.apply layline.python)"
        ) from None
    return ConfigFactory


def split_key(key, where):
    """A pillar key -> list of HOCON path segments (see module docstring)."""
    if not isinstance(key, str):
        raise CommandExecutionError(f"layline:{where}: key {key!r} must be a string")
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        segments = [key[1:-1]]
    else:
        segments = key.split(".")
    for segment in segments:
        if segment == "" or '"' in segment or "\\" in segment or CONTROL_CHAR_RE.search(segment):
            raise CommandExecutionError(
                f"layline:{where}:{key}: invalid key: path segments must be non-empty and "
                "contain no double quote, backslash or control character"
            )
    return segments


def expand_keys(data, where):
    """Turn dotted keys of a pillar mapping into nested dicts (deep, order kept)."""
    result = {}
    for key, value in data.items():
        segments = split_key(key, where)
        child_where = f"{where}:{key}"
        if isinstance(value, dict):
            value = expand_keys(value, child_where)
        nested = value
        for segment in reversed(segments[1:]):
            nested = {segment: nested}
        deep_merge(result, {segments[0]: nested})
    return result


def deep_merge(base, override):
    """Merge ``override`` into ``base`` in place: mappings recurse, everything else replaces."""
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def check_hocon_values(data, where):
    if isinstance(data, dict):
        for key, value in data.items():
            check_hocon_values(value, f"{where}:{key}")
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            check_hocon_values(value, f"{where}[{index}]")
    elif isinstance(data, str):
        if UNSAFE_CHAR_RE.search(data):
            raise CommandExecutionError(
                f"layline:{where}: contains a control character other than tab/newline, "
                "which cannot be written to application.conf safely"
            )
    elif isinstance(data, float):
        if not math.isfinite(data):
            raise CommandExecutionError(f"layline:{where}: must be a finite number")
    elif data is not None and not isinstance(data, (bool, int)):
        raise CommandExecutionError(
            f"layline:{where}: unsupported value type {type(data).__name__} "
            "(use strings, numbers, booleans, lists or mappings; quote dates)"
        )


def db_tls(config):
    """True when the MySQL connections use verified TLS (backend mysql, tls verify-identity)."""
    database = section(config, "database")
    return database.get("backend") == "mysql" and database.get("tls") == "verify-identity"


def jdbc_tls_params(config):
    """Connector/J (8.0.x) TLS properties: the server certificate is checked against the cluster
    CA in the truststore and must name the host of the URL; no RSA key retrieval."""
    if not db_tls(config):
        return "sslMode=DISABLED"
    return (
        f"sslMode=VERIFY_IDENTITY&trustCertificateKeyStoreUrl=file:{tls_files(config)['truststore']}"
        f"&trustCertificateKeyStoreType=JKS&trustCertificateKeyStorePassword={TRUSTSTORE_PASSWORD}"
    )


def persistence_data(config, role):
    """pekko.persistence, jdbc-* and pekko-persistence-jdbc settings for one role."""
    database = section(config, "database")
    backend = database.get("backend")
    if backend not in DB_BACKENDS:
        raise CommandExecutionError(
            f"layline:database:backend: {backend!r} is not one of {', '.join(DB_BACKENDS)}"
        )
    shared_db = SHARED_DB_NAME[backend]
    if backend == "mysql":
        url = (
            f"jdbc:mysql://{url_host(database.get('hostname'))}:{database.get('port')}/"
            f"{database.get('name')}?{jdbc_tls_params(config)}&serverTimezone=UTC&useUnicode=true"
            f"&characterEncoding=UTF-8&rewriteBatchedStatements=true&{MYSQL_GUIDE_PARAMS}"
        )
        profile, driver = "slick.jdbc.MySQLProfile$", MYSQL_DRIVER
    else:
        role_dir = "reactive-engine" if role == "reactive-engine" else "config-server"
        home = str(config.get("home", "")).rstrip("/")
        url = f"jdbc:h2:file:{home}/.layline/{role_dir}/database/h2/journal;DATABASE_TO_UPPER=false"
        profile, driver = "slick.jdbc.H2Profile$", H2_DRIVER
    db = {
        "url": url,
        "user": database.get("user"),
        "password": database.get("password") or "",
        "driver": driver,
        **POOL,
    }
    return {
        "pekko": {
            "persistence": {
                "journal": {"plugin": "jdbc-journal"},
                "snapshot-store": {"plugin": "jdbc-snapshot-store"},
            }
        },
        "jdbc-journal": {"use-shared-db": shared_db},
        "jdbc-read-journal": {"use-shared-db": shared_db},
        "jdbc-snapshot-store": {"use-shared-db": shared_db},
        "pekko-persistence-jdbc": {"shared-databases": {shared_db: {"profile": profile, "db": db}}},
    }


def split_brain_resolver_data(config):
    sbr = section(section(config, "cluster"), "split_brain_resolver")
    strategy = sbr.get("strategy")
    data = {"active-strategy": strategy, "stable-after": sbr.get("stable_after")}
    if strategy == "static-quorum":
        data["static-quorum"] = {"quorum-size": sbr.get("quorum_size")}
    return data


def tls_paths(config):
    """The TLS directory, the cluster CA and this node's certificate and key."""
    tls_dir = f"{str(config.get('config_dir', '')).rstrip('/')}/tls"
    return {
        "dir": tls_dir,
        "ca_cert": f"{tls_dir}/ca.crt",
        "cert": f"{tls_dir}/node.crt",
        "key": f"{tls_dir}/node.key",
    }


def tls_files(config):
    """:py:func:`tls_paths` with the CA also as ``ca`` and the JDBC truststore."""
    paths = tls_paths(config)
    return {**paths, "ca": paths["ca_cert"], "truststore": f"{paths['dir']}/{TRUSTSTORE_NAME}"}


def tls_enabled(config):
    return section(config, "tls").get("enabled", True) is not False


def artery_tls_data(config):
    """The remote transport: mutual TLS with the node's PEM files, else plain tcp."""
    if not tls_enabled(config):
        return {"transport": "tcp"}
    paths = tls_paths(config)
    return {
        "transport": "tls-tcp",
        "ssl": {
            "ssl-engine-provider": ROTATING_KEYS_PROVIDER,
            "rotating-keys-engine": {
                "key-file": paths["key"],
                "cert-file": paths["cert"],
                "ca-cert-file": paths["ca_cert"],
            },
        },
    }


def engine_data(config, hostname, bind, seed_nodes):
    """
    The reactive engine's settings: ``hostname`` its canonical host name (its entry of
    layline:cluster:nodes), ``bind`` where its listeners bind, ``seed_nodes`` the Pekko
    addresses of the seed nodes in order.
    """
    ports = section(config, "ports")
    cluster = section(config, "cluster")
    data = {
        "layline": {
            "reactive-engine": {
                "rest-server": {
                    "canonical": {"hostname": hostname},
                    "bind": {"hostname": bind, "port": ports.get("rest")},
                }
            }
        },
        "pekko": {
            "actor": {"provider": "cluster"},
            "remote": {
                "artery": {
                    "enabled": True,
                    **artery_tls_data(config),
                    "canonical": {"hostname": hostname, "port": ports.get("cluster")},
                    "bind": {"hostname": bind, "port": ports.get("cluster")},
                }
            },
            "cluster": {
                "seed-nodes": list(seed_nodes),
                "min-nr-of-members": cluster.get("min_nr_of_members", 1),
                "downing-provider-class": SBR_PROVIDER,
                "split-brain-resolver": split_brain_resolver_data(config),
                # downed (split-brain resolver): run coordinated shutdown ...
                "run-coordinated-shutdown-when-down": True,
            },
            # ... and exit the JVM (Pekko's exit code -1 = 255 on downing, 143 on SIGTERM):
            # a downed member that keeps running is no member and never rejoins; the unit
            # (Restart=on-failure) starts a new incarnation that rejoins through the seeds
            "coordinated-shutdown": {"exit-jvm": True},
            "management": {
                "http": {
                    "hostname": hostname,
                    "port": ports.get("management"),
                    "bind-hostname": bind,
                    "bind-port": ports.get("management"),
                    "route-providers-read-only": True,
                }
            },
        },
    }
    metrics = section(config, "metrics")
    if metrics.get("enabled") is True and not metrics_on_rest_port(config):
        # the block of layline's Multi-Node Cluster Setup guide (production notes)
        data["layline"]["reactive-engine"]["metrics"] = {
            "enabled": True,
            "port": metrics.get("port"),
        }
    return deep_merge(data, persistence_data(config, "reactive-engine"))


def config_server_data(config, hostname, bind):
    """The config server's settings: ``hostname`` its canonical host name, ``bind`` where its
    listener binds."""
    data = {
        "layline": {
            "config-server": {
                "rest-server": {
                    "canonical": {"hostname": hostname},
                    "bind": {
                        "hostname": bind,
                        "port": section(config, "ports").get("config_server"),
                    },
                }
            }
        }
    }
    return deep_merge(data, persistence_data(config, "config-server"))


def check_role(role):
    """The layline:extra_config key of render ``role``; CommandExecutionError for another."""
    if role not in RENDER_ROLES:
        raise CommandExecutionError(
            f"unknown role {role!r}: use one of {', '.join(sorted(RENDER_ROLES))}"
        )
    return RENDER_ROLES[role]


def with_extra_config(role, config, data):
    """``data`` (the formula's settings of ``role``) with layline:extra_config merged in."""
    check_role(role)
    extra = section(config, "extra_config").get(RENDER_ROLES[role]) or {}
    if not isinstance(extra, dict):
        raise CommandExecutionError(f"layline:extra_config:{RENDER_ROLES[role]}: must be a mapping")
    where = f"extra_config:{RENDER_ROLES[role]}"
    deep_merge(data, expand_keys(extra, where))
    check_hocon_values(data, where)
    return data


def hocon_key(key):
    if BARE_KEY_RE.fullmatch(key) and key.lower() not in HOCON_RESERVED:
        return key
    return json.dumps(key, ensure_ascii=False)


def hocon_scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def hocon_lines(data, indent):
    pad = "  " * indent
    lines = []
    for key, value in data.items():
        name = hocon_key(key)
        if isinstance(value, dict):
            if not value:
                lines.append(f"{pad}{name} {{}}")
                continue
            lines.append(f"{pad}{name} {{")
            lines.extend(hocon_lines(value, indent + 1))
            lines.append(f"{pad}}}")
        else:
            lines.append(f"{pad}{name} = {hocon_value(value, indent)}")
    return lines


def hocon_value(value, indent):
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = hocon_lines(value, indent + 1)
        return "{\n" + "\n".join(inner) + "\n" + "  " * indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        pad = "  " * (indent + 1)
        items = [pad + hocon_value(item, indent + 1) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return hocon_scalar(value)


def to_hocon(data):
    """Serialize nested dicts/lists/scalars to HOCON text (strings always JSON-quoted)."""
    return HEADER + "\n".join(hocon_lines(data, 0)) + "\n"


def plain(value):
    """pyhocon result -> plain dicts and lists."""
    if hasattr(value, "as_plain_ordered_dict"):  # a pyhocon ConfigTree
        # as_plain_ordered_dict strips the quotes pyhocon keeps around keys with dots
        value = value.as_plain_ordered_dict()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if type(value).__name__ == "NoneValue":
        return None
    return value


def same(left, right):
    """Structural equality that does not confuse True with 1 or 1 with 1.0."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(map(same, left, right))
    return type(left) is type(right) and left == right


def verified_hocon(data):
    """HOCON text of ``data``, parsed back with pyhocon and compared with ``data``."""
    text = to_hocon(data)
    try:
        parsed = plain(config_factory().parse_string(text, resolve=False))
    except CommandExecutionError:
        raise
    except Exception as exc:  # pyhocon raises pyparsing and its own exception types
        raise CommandExecutionError(
            f"rendered application.conf does not parse as HOCON ({type(exc).__name__}); "
            "check layline:extra_config for unusual keys"
        ) from None
    if not same(parsed, data):
        raise CommandExecutionError(
            "rendered application.conf does not read back as the intended settings; check "
            "layline:extra_config for keys that clash with each other or unusual characters"
        )
    return text
