"""
Canonical addresses of the layline formula's machine entries, and where their listeners bind.

A machine entry (``cluster:nodes[i]``, ``config_server``, ``database``, ``monitoring``) is
reached at its ``address`` (an IP literal) when the pillar gives one, else at the first
address its ``hostname`` resolves to on the asking minion (IPv4 preferred). Loopback is
refused unless every role runs on one machine. Pure apart from the resolver: every function
takes the merged ``config`` and the asking ``minion_id``; :py:func:`getaddrinfo` is the one
seam to the outside (the unit tests replace it). Errors are CommandExecutionError naming the
pillar key and what to set.
"""

import ipaddress
import socket

from salt.exceptions import CommandExecutionError

import layline_model
from layline_schema import ANY_ADDRESS, LOOPBACK


def getaddrinfo(host):
    """The resolver (the seam of the unit tests): getaddrinfo's answers for ``host``."""
    return socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)


def preferred(addresses):
    """IPv4 first (getaddrinfo's order otherwise), so a name with both families is stable."""
    v4 = [a for a in addresses if ipaddress.ip_address(a).version == 4]
    return (v4 or addresses)[0]


def resolve_entry(config, key, entry, minion_id):
    """The canonical address of one machine entry ``key``: its ``address``, else its
    ``hostname`` resolved on ``minion_id``; loopback is refused unless every role runs on
    one machine."""
    where = f"layline:{key}"
    literal = entry.get("address")
    if literal not in (None, ""):
        try:
            address = str(ipaddress.ip_address(literal))
        except ValueError:
            raise CommandExecutionError(
                f"{where}:address: {literal!r} is not an IP address"
            ) from None
        source = f"{where}:address {address}"
    else:
        hostname = entry.get("hostname")
        if not isinstance(hostname, str) or not hostname.strip():
            raise CommandExecutionError(f"{where}:hostname is required (or set {where}:address)")
        try:
            found = [info[4][0].split("%")[0] for info in getaddrinfo(hostname)]
        except (OSError, UnicodeError) as exc:
            raise CommandExecutionError(
                f"{where}:hostname: {hostname!r} does not resolve on minion {minion_id}: {exc}; "
                f"fix DNS or /etc/hosts, or set {where}:address to the node's IP address"
            ) from None
        if not found:
            raise CommandExecutionError(
                f"{where}:hostname: {hostname!r} has no address on minion {minion_id}"
            )
        address = preferred(found)
        source = f"{where}:hostname {hostname!r} resolves to {address} on minion {minion_id}"
    if ipaddress.ip_address(address).is_loopback and not layline_model.is_one_machine(config):
        raise CommandExecutionError(
            f"{source}, a loopback address: the other machines of the cluster cannot reach a "
            f"listener there; set {where}:address to the machine's own IP address "
            "(or fix /etc/hosts, e.g. Debian's '127.0.1.1 <hostname>' line)"
        )
    if ipaddress.ip_address(address).is_unspecified:
        raise CommandExecutionError(f"{source}: 0.0.0.0/:: is not a machine's address")
    return address


def entry_for(config, key):
    """The machine entry ``key``; an error listing the known keys otherwise."""
    entries = layline_model.node_entries(config)
    for entry_key, entry in entries:
        if entry_key == key:
            return entry
    known = ", ".join(k for k, _e in entries) or "none"
    raise CommandExecutionError(f"layline:{key} is not a node entry (known: {known})")


def address(config, key, minion_id):
    """Canonical address of the entry ``key`` (None: the first entry of ``minion_id``),
    resolved on ``minion_id``; 127.0.0.1 for a minion without an entry in the single-host
    default."""
    if key is None:
        key = layline_model.own_key(config, minion_id)
        if key is None:
            if layline_model.is_single_host(config):
                return LOOPBACK
            raise CommandExecutionError(
                f"minion {minion_id!r} has no entry in layline:cluster:nodes, config_server, "
                "database or monitoring"
            )
    return resolve_entry(config, key, entry_for(config, key), minion_id)


def engine_addresses(config, minion_id):
    """Canonical addresses of every engine (none in the single-host default: it is local)."""
    if layline_model.is_single_host(config):
        return []
    return [
        resolve_entry(config, f"cluster:nodes[{index}]", node, minion_id)
        for index, node in enumerate(layline_model.nodes(config))
        if isinstance(node, dict)
    ]


def config_server_addresses(config, minion_id):
    """The config server's canonical address as a list (none in the single-host default)."""
    if layline_model.is_single_host(config):
        return []
    return [address(config, "config_server", minion_id)]


def bind_for(config, key, minion_id):
    """Where the listeners of entry ``key`` bind: 0.0.0.0 when layline:network:bind_any,
    127.0.0.1 in the single-host default (but the database), else the entry's canonical
    address."""
    if layline_model.bind_any(config):
        return ANY_ADDRESS
    if layline_model.is_single_host(config) and key != "database":
        return LOOPBACK
    if key is None:
        raise CommandExecutionError(
            f"minion {minion_id!r} has no entry in layline:cluster:nodes, config_server or "
            "database: nothing of layline listens there"
        )
    return resolve_entry(config, key, entry_for(config, key), minion_id)


def address_errors(config, minion_id):
    """Resolution problems of every machine entry, as validation messages (run on the
    minion, before anything changes)."""
    errors = []
    for key, entry in layline_model.node_entries(config):
        try:
            resolve_entry(config, key, entry, minion_id)
        except CommandExecutionError as exc:
            errors.append(str(exc))
    return errors
