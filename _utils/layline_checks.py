"""
The primitives of validation: the findings collector and the predicates and checks that
more than one concern uses (paths, words, IP literals, host names). Pure Python.
"""

import difflib
import ipaddress
import os.path
import re

from layline_model import is_single_host, nodes
from layline_schema import (
    DNS_LABEL_RE,
    HASH_URL_RE,
    HEX_DIGEST_LENGTHS,
    MINION_ID_RE,
    ON_FAILURE,
    SYSTEM_DIRS,
    UNSAFE_PATH_RE,
)


class Findings:
    """Errors and warnings by pillar key; one error per key (the first problem found)."""

    def __init__(self):
        self.errors = []
        self.warnings = []
        self.failed = set()

    def error(self, key, message):
        if key in self.failed:
            return
        self.failed.add(key)
        self.errors.append(f"layline:{key}: {message}")

    def warn(self, key, message):
        self.warnings.append(f"layline:{key}: {message}")


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_nonempty_str(value):
    return isinstance(value, str) and value.strip() != ""


def is_valid_hostname(value):
    if not isinstance(value, str) or not value:
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    labels = value.split(".")
    if len(value) > 253 or labels[-1].isdigit():
        # an all-numeric last label is an IPv4 address gone wrong (e.g. 10.0.0.300)
        return False
    return all(DNS_LABEL_RE.fullmatch(label) for label in value.split("."))


def is_valid_source_hash(value):
    if not is_nonempty_str(value):
        return False
    if HASH_URL_RE.fullmatch(value):
        return True
    if "://" in value:
        return False
    algorithm, sep, digest = value.partition("=")
    if sep:
        expected = HEX_DIGEST_LENGTHS.get(algorithm.lower())
        return expected is not None and len(digest) == expected and is_hex(digest)
    return len(value) in HEX_DIGEST_LENGTHS.values() and is_hex(value)


def is_hex(value):
    return bool(re.fullmatch(r"[0-9a-fA-F]+", value))


def unknown_key_message(key, known):
    close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"
    return f"unknown key: {hint}"


def type_ok(value, types):
    if value is None:
        return None in types
    if isinstance(value, bool):
        return bool in types
    return any(isinstance(value, kind) for kind in types if kind is not None)


def check_path(found, key, value, own_directory=False):
    """A path that reaches a file, a command or a unit: absolute, normalised, one word."""
    if not isinstance(value, str):
        return
    if UNSAFE_PATH_RE.search(value):
        found.error(key, "must not contain whitespace, quotes, backslashes or control characters")
    elif not value.startswith("/"):
        found.error(key, f"{value!r} must be an absolute path")
    elif os.path.normpath(value) != value or value.startswith("//"):
        found.error(
            key, f"{value!r} must be a normalised path (no '..', '.', '//' or trailing '/')"
        )
    elif own_directory and value in SYSTEM_DIRS:
        found.error(
            key,
            f"{value!r} is a system directory; use a directory of its own, "
            "e.g. /opt/layline, /var/lib/layline or /var/cache/layline",
        )


def check_minion_id(found, key, value, required=False):
    """
    A minion id as Salt targets it: no ',', glob, bracket, brace or whitespace. Returns
    whether ``value`` is one; None and '' pass unless ``required`` (presence is checked
    where the key is required).
    """
    if value in (None, "") and not required:
        return False
    if not isinstance(value, str) or not MINION_ID_RE.fullmatch(value):
        found.error(
            key,
            f"{value!r} is not a minion id: letters, digits, '.', '_', '-', '@' only (a ',', "
            "'*', '?', '[', '{' or whitespace would make it a target of other minions)",
        )
        return False
    return True


def is_inside(path, directory):
    return (
        isinstance(path, str)
        and isinstance(directory, str)
        and (path == directory or path.startswith(directory.rstrip("/") + "/"))
    )


def check_words(found, key, values, pattern, what):
    """Each string of ``values`` (a string or a list) must match ``pattern``."""
    if isinstance(values, str):
        if not pattern.fullmatch(values):
            found.error(key, f"{values!r} is not {what}")
        return
    for index, value in enumerate(values if isinstance(values, list) else []):
        if not isinstance(value, str) or not pattern.fullmatch(value):
            found.error(f"{key}[{index}]", f"{value!r} is not {what}")


def dig(config, path):
    data = config
    for part in path.split(":"):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def check_ip(found, key, value):
    """An ``address`` of a node entry: an IP literal of a machine (or null)."""
    if value in (None, ""):
        return
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        found.error(
            key, f"{value!r} is not an IP address (leave it out to use the hostname's address)"
        )
        return
    if address.is_unspecified or address.is_multicast:
        found.error(key, f"{value!r} is not the address of one machine")


def is_ip_or_network(value):
    try:
        ipaddress.ip_network(value, strict=False)
        return True
    except ValueError:
        return False


def engine_count(config):
    return len(nodes(config)) if not is_single_host(config) else 1


def rolling_problems(rolling):
    """
    ``[(key, problem)]`` of a ``layline:rolling`` mapping: the one rule of these keys, for
    ``layline.validate`` on the minions and for the runner's settings on the master.
    """
    problems = []
    if not isinstance(rolling.get("all", False), bool):
        problems.append(("all", "must be true or false"))
    for key, low in (("max_unavailable", 1), ("timeout", 1), ("join_timeout", 0)):
        value = rolling.get(key)
        if value is not None and (not is_int(value) or value < low):
            problems.append((key, f"must be an integer >= {low}"))
    if rolling.get("on_failure") not in (None, *ON_FAILURE):
        problems.append(("on_failure", "must be rollback or stop"))
    interval = rolling.get("poll_interval")
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not 0.1 <= interval <= 60
    ):
        problems.append(("poll_interval", "must be a number of seconds between 0.1 and 60"))
    return problems
