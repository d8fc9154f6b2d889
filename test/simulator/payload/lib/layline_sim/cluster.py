"""Pekko-like cluster membership over the Artery port.

Protocol: one newline-terminated JSON request per short TCP connection, answered by one
JSON line. Messages: ``init_join`` (is anybody a member? carries the joiner's
compatibility settings and seed list), ``join`` (add me as Joining) and ``gossip`` (merge
membership views; doubles as heartbeat). Every member gossips to every other member each
``GOSSIP_INTERVAL``; a member not heard from for the acceptable heartbeat pause is
unreachable.

With ``transport = tls-tcp`` every connection is mutual TLS with the node's PEM files
(Pekko's RotatingKeysSSLEngineProvider): both sides present a certificate that must chain
to the configured CA, and, as Pekko's PeerSubjectVerifier does, share a subject name (CN
or DNS SAN) with the own certificate. A peer that fails is refused and logged.

Membership rules follow Pekko: only the first seed node may join itself (after the
seed-node-timeout), members stay Joining until ``min-nr-of-members`` are present, the
leader (first reachable Up/Leaving member by address) moves Joining -> Up, Leaving ->
Exiting -> Removed and Down -> Removed, and the split-brain resolver (only with the SBR
downing provider) downs a side once unreachability has been stable for ``stable-after``.

A downed (or removed) member runs coordinated shutdown (``downing``), one removed after a
Leave somebody else asked for runs it too (``leaving``); what the process then does is the
engine's business (``coordinated-shutdown.exit-jvm``).

Fault injection for tests: ``LAYLINE_SIM_BLOCKED`` names a file of cluster addresses or
hostnames, one a line; while it lists a peer, this node neither sends to it nor answers it
(a network partition as both sides see it). The file is read again on every message.
"""

import contextlib
import json
import logging
import os
import random
import socket
import socketserver
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

log = logging.getLogger("Cluster")
GOSSIP_INTERVAL = 0.5
CONNECT_TIMEOUT = 1.0
STATUS_RANK = {
    "Joining": 0,
    "WeaklyUp": 1,
    "Up": 2,
    "Leaving": 3,
    "Exiting": 4,
    "Down": 5,
    "Removed": 6,
}
GONE = ("Down", "Removed")


def address_key(address):
    """Pekko's address ordering: host, then port."""
    rest = address.split("@", 1)[-1]
    host, _, port = rest.rpartition(":")
    return (host, int(port) if port.isdigit() else 0)


def host_port(address):
    """``pekko://layline@h:p`` -> (h, p)."""
    return address_key(address)


@dataclass
class Member:
    """One incarnation of a node in the membership view."""

    address: str
    uid: int
    incarnation: int
    status: str
    up_number: int = 0

    def rank(self):
        """Merge order: a newer incarnation wins, then the later status."""
        return (self.incarnation, STATUS_RANK[self.status], self.up_number)

    @classmethod
    def from_dict(cls, data):
        """Inverse of ``asdict``."""
        return cls(
            str(data["address"]),
            int(data["uid"]),
            int(data["incarnation"]),
            str(data["status"]),
            int(data.get("up_number", 0)),
        )


def merge_members(mine, theirs):
    """Merge two views (address -> Member); return the merged dict."""
    merged = dict(mine)
    for address, member in theirs.items():
        current = merged.get(address)
        if current is None or member.rank() > current.rank():
            merged[address] = member
    return merged


def live(members):
    """Members that still count (not Down or Removed)."""
    return [m for m in members if m.status not in GONE]


def leader_of(members, unreachable):
    """Pekko's leader: first reachable Up/Leaving member by address, else first reachable."""
    reachable = [m for m in members if m.status != "Removed" and m.address not in unreachable]
    if not reachable:
        return None
    preferred = sorted(
        (m for m in reachable if m.status in ("Up", "Leaving")),
        key=lambda m: address_key(m.address),
    )
    if preferred:
        return preferred[0].address
    return min(
        reachable, key=lambda m: (m.status in ("Down", "Exiting"), address_key(m.address))
    ).address


def oldest_of(members):
    """The member that has been Up longest (lowest up number, then address)."""
    candidates = [m for m in members if m.status in ("Up", "Leaving", "Exiting")]
    if not candidates:
        return None
    return min(candidates, key=lambda m: (m.up_number, address_key(m.address))).address


def sbr_decide(strategy, members, unreachable, quorum_size=0, down_if_alone=True):
    """Split-brain resolver decision, seen from the reachable side.

    ``members`` are the live members (any status but Down/Removed) and ``unreachable`` the
    addresses this side cannot reach. Returns the set of addresses to down: either the
    unreachable side or this (reachable) side, or everybody for down-all. Joining and
    WeaklyUp members do not count, but are downed with their side.
    """
    members = [m for m in members if m.status not in GONE]
    side_u = {m.address for m in members if m.address in unreachable}
    side_r = {m.address for m in members if m.address not in unreachable}
    if not side_u:
        return set()
    counted = [m for m in members if m.status not in ("Joining", "WeaklyUp")]
    count_r = sum(1 for m in counted if m.address in side_r)
    count_u = sum(1 for m in counted if m.address in side_u)
    if strategy == "down-all":
        return side_r | side_u
    if strategy == "static-quorum":
        return side_u if count_r >= quorum_size else side_r
    if strategy == "keep-oldest":
        oldest = oldest_of(counted)
        if oldest is None:
            return side_u
        if oldest in side_r:
            if down_if_alone and count_r == 1 and count_u > 1:
                return side_r
            return side_u
        if down_if_alone and count_u == 1 and count_r > 1:
            return side_u
        return side_r
    # keep-majority (and lease-majority without a lease): the bigger side survives; on an
    # equal split the side with the lowest address survives.
    if count_r != count_u:
        return side_u if count_r > count_u else side_r
    pool = counted or members
    lowest = min(pool, key=lambda m: address_key(m.address)).address
    return side_u if lowest in side_r else side_r


def _subject_names(cert):
    """CN and DNS SANs of a decoded certificate (``getpeercert()`` form)."""
    names = {value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"}
    names.update(value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS")
    return names


class ArteryTlsContext:
    """Mutual TLS of Artery's tls-tcp transport from the node's PEM files."""

    def __init__(self, tls):
        self.server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # Pekko's rotating-keys engine verifies the chain and the shared subject name,
        # not the hostname
        self.client.check_hostname = False
        for context in (self.server, self.client):
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_cert_chain(tls.cert_file, tls.key_file)
            context.load_verify_locations(cafile=tls.ca_cert_file)
        self.own_names = _subject_names(ssl._ssl._test_decode_cert(tls.cert_file))

    def verify_peer(self, sock):
        """Pekko's PeerSubjectVerifier: refuse a peer sharing no subject name with us."""
        peer = _subject_names(sock.getpeercert() or {})
        if not peer & self.own_names:
            raise ssl.SSLError(
                f"None of the peer subject names {sorted(peer)} were in local "
                f"subject names {sorted(self.own_names)}"
            )


_last_client_error = {}


def blocked(address):
    """True when ``LAYLINE_SIM_BLOCKED`` cuts this node off from ``address`` (tests only)."""
    path = os.environ.get("LAYLINE_SIM_BLOCKED")
    if not path or not address:
        return False
    try:
        with open(path, encoding="utf-8") as listing:
            cut = {line.strip() for line in listing if line.strip()}
    except OSError:
        return False
    return address in cut or host_port(address)[0] in cut


def send(address, message, timeout=CONNECT_TIMEOUT, tls=None):
    """Send ``message`` to the Artery port of ``address``; return the reply dict or None."""
    if blocked(address):
        return None
    host, port = host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            raw.settimeout(timeout * 2)
            sock = raw
            if tls is not None:
                sock = tls.client.wrap_socket(raw, server_hostname=host)
                tls.verify_peer(sock)
            sock.sendall(json.dumps(message).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        _last_client_error.pop(address, None)
        return json.loads(data) if data else None
    except ssl.SSLError as exc:
        text = f"TLS connection to [{address}] failed: {exc}"
        if _last_client_error.get(address) != text:
            _last_client_error[address] = text
            log.warning(text)
        return None
    except (OSError, ValueError):
        return None


class _ArteryHandler(socketserver.StreamRequestHandler):
    def setup(self):
        self.refused = False
        tls = self.server.node.tls
        if tls is not None:
            # handshake in the handler's thread: a slow or silent peer blocks nobody else
            self.request.settimeout(CONNECT_TIMEOUT * 4)
            try:
                self.request = tls.server.wrap_socket(self.request, server_side=True)
                tls.verify_peer(self.request)
            except (ssl.SSLError, OSError) as exc:
                self.refused = True
                # once per peer host and reason: a refused joiner retries every second
                seen = self.server.node.refused_peers
                if (self.client_address[0], str(exc)) not in seen:
                    seen.add((self.client_address[0], str(exc)))
                    log.warning(
                        "refused Artery connection from [%s]: TLS handshake failed "
                        "(no valid certificate of the cluster CA): %s",
                        self.client_address[0],
                        exc,
                    )
                with contextlib.suppress(OSError):
                    self.request.close()
                return
        super().setup()

    def finish(self):
        if not self.refused:
            super().finish()

    def handle(self):
        if self.refused:
            return
        try:
            line = self.rfile.readline(1 << 20)
            message = json.loads(line)
            sender = message.get("from") or (message.get("member") or {}).get("address")
            if blocked(sender):
                return  # partitioned: the message is lost, the sender hears nothing
            reply = self.server.node.handle(message)
        except (ValueError, KeyError, TypeError) as exc:
            reply = {"type": "error", "error": str(exc)}
        self.wfile.write(json.dumps(reply).encode() + b"\n")


class _ArteryServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ClusterNode:
    """This engine's membership state machine."""

    def __init__(self, settings, on_status=None, on_shutdown=None):
        self.s = settings
        self.address = settings.address
        self.uid = random.getrandbits(62)
        self.incarnation = time.time_ns()
        self.on_status = on_status or (lambda status: None)
        self.on_shutdown = on_shutdown or (lambda reason, kind: None)
        self.lock = threading.RLock()
        self.members = {}
        self.joined = False
        self.last_seen = {}
        self.observations = {}
        self.own_unreachable = set()
        self.unreachable_state = (frozenset(), time.monotonic())
        self.status_since = {}
        self.leaving_requested = False
        self.stopping = threading.Event()
        self.reported_status = None
        self.refusal = None
        self.was_leaving = False
        self.warned = set()
        self.server = None
        self.tls = ArteryTlsContext(settings.tls) if settings.tls else None
        self.refused_peers = set()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gossip")

    # ------------------------------------------------------------------ views
    @property
    def self_member(self):
        """This node's entry (None before joining)."""
        with self.lock:
            member = self.members.get(self.address)
            if member is not None and member.incarnation == self.incarnation:
                return member
            return None

    @property
    def status(self):
        """This node's member status, or ``Starting`` before it joined."""
        member = self.self_member
        return member.status if member else "Starting"

    def unreachable(self):
        """address -> set of observers, over own and gossiped observations."""
        with self.lock:
            result = {a: {self.address} for a in self.own_unreachable}
            for observer, seen in self.observations.items():
                if observer in self.own_unreachable or observer not in self.members:
                    continue
                if self.members[observer].status in GONE:
                    continue
                for address in seen:
                    if address != self.address:
                        result.setdefault(address, set()).add(observer)
            return {
                a: o
                for a, o in result.items()
                if a in self.members and self.members[a].status != "Removed"
            }

    def snapshot(self):
        """Pekko management ``/cluster/members`` document."""
        with self.lock:
            members = sorted(
                (m for m in self.members.values() if m.status != "Removed"),
                key=lambda m: address_key(m.address),
            )
            unreachable = self.unreachable()
            doc = {
                "selfNode": self.address,
                "members": [
                    {
                        "node": m.address,
                        "nodeUid": str(m.uid),
                        "status": m.status,
                        "roles": ["dc-default"],
                    }
                    for m in members
                ],
                "unreachable": [
                    {"node": a, "observedBy": sorted(o)} for a, o in sorted(unreachable.items())
                ],
            }
            leader = leader_of(members, unreachable) if self.joined else None
            oldest = oldest_of(members)
            if leader:
                doc["leader"] = leader
            if oldest:
                doc["oldest"] = oldest
                doc["oldestPerRole"] = {"dc-default": oldest}
            else:
                doc["oldestPerRole"] = {}
            return doc

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        """Bind the Artery port and start joining and gossiping."""
        self.server = _ArteryServer((self.s.bind_hostname, self.s.bind_port), _ArteryHandler)
        self.server.node = self
        threading.Thread(target=self.server.serve_forever, name="artery", daemon=True).start()
        log.info(
            "Remoting started with transport [Artery %s]; listening on address [%s] with UID [%s]",
            self.s.transport,
            self.address,
            self.uid,
        )
        threading.Thread(target=self._join_loop, name="join", daemon=True).start()
        threading.Thread(target=self._tick_loop, name="gossip-tick", daemon=True).start()

    def stop(self):
        """Stop all activity (no leaving)."""
        self.stopping.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def leave(self, timeout=15.0):
        """Graceful leave: Leaving -> Exiting, gossiped; returns when done or timed out."""
        with self.lock:
            self.leaving_requested = True
            me = self.self_member
            if me is None or me.status in ("Exiting", "Down", "Removed"):
                return
            if me.status != "Leaving":
                self._set_status(me.address, "Leaving")
        log.info("Marked address [%s] as [Leaving]", self.address)
        self._after_change()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._gossip_round()
            self._tick_local()
            if self.status in ("Exiting", "Removed", "Down"):
                break
            time.sleep(GOSSIP_INTERVAL / 2)
        else:
            log.warning("leaving did not complete within %.0f s", timeout)
            return
        # tell the others we are Exiting before the process goes away
        self._gossip_round()
        log.info("Exiting completed; member removed from the cluster")

    def _send(self, address, message):
        return send(address, message, tls=self.tls)

    # ------------------------------------------------------------------ joining
    def _compat_problem(self, theirs):
        mine = self.s.compat()
        for key, value in mine.items():
            if str(theirs.get(key, "")) != str(value):
                return (
                    f"{key} is [{theirs.get(key, '')}] on the joining node but "
                    f"[{value}] in the cluster"
                )
        return None

    def _join_loop(self):
        log.info("[LAY-11000] trying to connect to the cluster")
        seeds = self.s.seed_nodes
        others = [s for s in seeds if s != self.address]
        if self.address not in seeds:
            log.info(
                "this node [%s] is not a seed node; joining via seed nodes %s", self.address, seeds
            )
        started = time.monotonic()
        attempts = 0
        first_seed = seeds[0] == self.address
        while not self.stopping.is_set() and not self.joined:
            if first_seed and not others:
                self._join_self()
                return
            attempts += 1
            acked = False
            for seed in others:
                reply = self._send(
                    seed,
                    {
                        "type": "init_join",
                        "from": self.address,
                        "compat": self.s.compat(),
                        "seeds": seeds,
                    },
                )
                if not reply or reply.get("type") != "init_join_ack":
                    continue
                acked = True
                if reply.get("incompatible"):
                    self._refused(seed, reply["incompatible"])
                    continue
                if self._join_via(seed):
                    return
            if first_seed and not acked and time.monotonic() - started >= self.s.seed_node_timeout:
                self._join_self()
                return
            if attempts % 10 == 0:
                log.warning(
                    "Couldn't join seed nodes after [%d] attempts, will try again. seed-nodes=[%s]",
                    attempts,
                    ", ".join(others),
                )
            self.stopping.wait(1.0)

    def _refused(self, seed, problem):
        message = (
            f"Couldn't join seed node [{seed}] because of incompatible cluster "
            f"configuration: {problem}. Changing it needs a full cluster shutdown."
        )
        if message != self.refusal:
            log.error(message)
            self.refusal = message

    def _join_self(self):
        with self.lock:
            self.members[self.address] = Member(self.address, self.uid, self.incarnation, "Joining")
            self.status_since[self.address] = time.monotonic()
            self.joined = True
        log.info(
            "Node [%s] is JOINING itself (with roles [dc-default]) and forming new cluster",
            self.address,
        )
        self._after_change()

    def _join_via(self, seed):
        me = Member(self.address, self.uid, self.incarnation, "Joining")
        reply = self._send(
            seed,
            {
                "type": "join",
                "member": asdict(me),
                "compat": self.s.compat(),
                "seeds": self.s.seed_nodes,
            },
        )
        if not reply:
            return False
        if reply.get("type") == "refused":
            self._refused(seed, reply.get("reason", "refused"))
            return False
        if reply.get("type") != "welcome":
            return False
        with self.lock:
            self.joined = True
            self._merge(reply)
        log.info("Welcome from [%s]", seed)
        self._after_change()
        return True

    # ------------------------------------------------------------------ messages
    def handle(self, message):
        """Answer one Artery message."""
        kind = message.get("type")
        if kind == "init_join":
            return self._on_init_join(message)
        if kind == "join":
            return self._on_join(message)
        if kind == "gossip":
            return self._on_gossip(message)
        return {"type": "error", "error": f"unknown message type {kind!r}"}

    def _gossip_message(self):
        with self.lock:
            return {
                "type": "gossip",
                "from": self.address,
                "uid": self.uid,
                "members": [asdict(m) for m in self.members.values()],
                "unreachable": sorted(self.own_unreachable),
            }

    def _on_init_join(self, message):
        with self.lock:
            me = self.self_member
            if not self.joined or me is None or me.status in GONE + ("Exiting",):
                return {"type": "init_join_nack", "address": self.address}
        joiner = message.get("from")
        if message.get("seeds", []) != self.s.seed_nodes and ("seeds", joiner) not in self.warned:
            self.warned.add(("seeds", joiner))
            log.warning(
                "node [%s] uses different seed-nodes %s than this node %s; every "
                "node needs the same list",
                message.get("from"),
                message.get("seeds"),
                self.s.seed_nodes,
            )
        problem = self._compat_problem(message.get("compat", {}))
        if problem and ("compat", joiner, problem) not in self.warned:
            self.warned.add(("compat", joiner, problem))
            log.warning("refusing join of [%s]: incompatible configuration: %s", joiner, problem)
        return {"type": "init_join_ack", "address": self.address, "incompatible": problem}

    def _on_join(self, message):
        joiner = Member.from_dict(message["member"])
        problem = self._compat_problem(message.get("compat", {}))
        if problem:
            return {"type": "refused", "reason": problem}
        with self.lock:
            if not self.joined:
                return {"type": "init_join_nack", "address": self.address}
            current = self.members.get(joiner.address)
            if current is None or joiner.incarnation > current.incarnation:
                if current is not None:
                    log.info(
                        "New incarnation of existing member [%s] is trying to join. "
                        "Existing will be removed from the cluster and then new member "
                        "will be allowed to join.",
                        joiner.address,
                    )
                joiner.status = "Joining"
                joiner.up_number = 0
                self.members[joiner.address] = joiner
                self.last_seen[joiner.address] = time.monotonic()
                self.status_since[joiner.address] = time.monotonic()
                self.observations.pop(joiner.address, None)
                self.own_unreachable.discard(joiner.address)
                log.info("Node [%s] is JOINING, roles [dc-default]", joiner.address)
            elif current.incarnation == joiner.incarnation and current.status in GONE:
                return {
                    "type": "refused",
                    "reason": "this incarnation was downed/removed; restart the node",
                }
            reply = self._gossip_message()
        reply["type"] = "welcome"
        return reply

    def _on_gossip(self, message):
        with self.lock:
            if not self.joined:
                return {"type": "not_member", "address": self.address}
            self._merge(message)
            reply = self._gossip_message()
        self._after_change()
        return reply

    def _merge(self, message):
        """Merge a gossip/welcome message (caller holds the lock)."""
        theirs = {m["address"]: Member.from_dict(m) for m in message.get("members", [])}
        before = {a: m.status for a, m in self.members.items()}
        self.members = merge_members(self.members, theirs)
        now = time.monotonic()
        for address, member in self.members.items():
            if before.get(address) != member.status:
                self.status_since[address] = now
                self.last_seen.setdefault(address, now)
        sender, uid = message.get("from"), message.get("uid")
        sender_member = self.members.get(sender)
        if sender_member is not None and sender_member.uid == uid:
            self.last_seen[sender] = now
            self.observations[sender] = set(message.get("unreachable", []))

    # ------------------------------------------------------------------ ticking
    def _tick_loop(self):
        while not self.stopping.wait(GOSSIP_INTERVAL):
            if not self.joined:
                continue
            try:
                self._gossip_round()
                self._tick_local()
            except Exception:
                log.exception("cluster tick failed")

    def _gossip_round(self):
        with self.lock:
            targets = [
                m
                for m in self.members.values()
                if m.address != self.address and m.status not in GONE
            ]
            message = self._gossip_message()
        futures = [(m, self.pool.submit(self._send, m.address, message)) for m in targets]
        for _member, future in futures:
            try:
                reply = future.result(timeout=CONNECT_TIMEOUT * 4)
            except Exception:
                reply = None
            if reply and reply.get("type") == "gossip":
                with self.lock:
                    self._merge(reply)

    def _tick_local(self):
        """Failure detection, leader actions, split-brain resolver, own status changes."""
        now = time.monotonic()
        pause = self.s.heartbeat_pause + 1.0
        with self.lock:
            unreachable = set()
            for member in self.members.values():
                if member.address == self.address or member.status in GONE:
                    continue
                seen = self.last_seen.setdefault(member.address, now)
                if now - seen > pause:
                    unreachable.add(member.address)
            for address in unreachable - self.own_unreachable:
                log.warning("Marking node as UNREACHABLE [%s]", address)
            for address in self.own_unreachable - unreachable:
                if address in self.members and self.members[address].status not in GONE:
                    log.info("Marking node as REACHABLE [%s]", address)
            self.own_unreachable = unreachable
            all_unreachable = set(self.unreachable())
            key = (
                frozenset(all_unreachable),
                frozenset(
                    (a, m.status)
                    for a, m in self.members.items()
                    if m.status in ("Up", "Leaving", "Exiting")
                ),
            )
            if key != self.unreachable_state[0]:
                self.unreachable_state = (key, now)
            members = list(self.members.values())
            leader = leader_of(members, all_unreachable)
            if leader == self.address:
                self._leader_actions(all_unreachable, now)
                if (
                    self.s.sbr_enabled
                    and all_unreachable
                    and now - self.unreachable_state[1] >= self.s.stable_after
                ):
                    self._split_brain(all_unreachable)
        self._after_change()

    def _set_status(self, address, status, up_number=None):
        member = self.members[address]
        new = Member(
            member.address,
            member.uid,
            member.incarnation,
            status,
            member.up_number if up_number is None else up_number,
        )
        self.members[address] = new
        self.status_since[address] = time.monotonic()

    def _leader_actions(self, unreachable, now):
        members = list(self.members.values())
        for m in members:
            age = now - self.status_since.get(m.address, now)
            if m.status == "Exiting" and (
                age >= 1.0 or m.address in unreachable or m.address == self.address
            ):
                if m.address != self.address:
                    log.info("Leader is removing exiting node [%s]", m.address)
                    self._set_status(m.address, "Removed")
            elif m.status == "Down" and (age >= 1.0 or m.address in unreachable):
                log.info("Leader is removing downed node [%s]", m.address)
                self._set_status(m.address, "Removed")
            elif m.status == "Leaving":
                log.info("Leader is moving node [%s] to [Exiting]", m.address)
                self._set_status(m.address, "Exiting")
        blocking = [a for a in unreachable if self.members[a].status not in GONE + ("Exiting",)]
        if blocking:
            return
        live_members = live(self.members.values())
        if len(live_members) < self.s.min_nr_of_members:
            return
        next_up = max((m.up_number for m in self.members.values()), default=0) + 1
        for m in sorted(live_members, key=lambda m: address_key(m.address)):
            if m.status in ("Joining", "WeaklyUp"):
                log.info("Leader is moving node [%s] to [Up]", m.address)
                self._set_status(m.address, "Up", up_number=next_up)
                next_up += 1

    def _split_brain(self, unreachable):
        members = live(self.members.values())
        victims = sbr_decide(
            self.s.active_strategy, members, unreachable, self.s.quorum_size, self.s.down_if_alone
        )
        if not victims:
            return
        side = "this side" if self.address in victims else "the unreachable side"
        log.warning(
            "SBR took decision %s and is downing [%s] (%s), based on unreachable %s",
            self.s.active_strategy,
            ", ".join(sorted(victims)),
            side,
            sorted(unreachable),
        )
        for address in victims:
            if self.members[address].status not in GONE:
                self._set_status(address, "Down")
        self.unreachable_state = (None, time.monotonic())

    def _after_change(self):
        """React to this node's own status changes (logs, journal, shutdown)."""
        with self.lock:
            mine = self.members.get(self.address)
            if mine is not None and mine.incarnation != self.incarnation:
                status = "Removed"  # a newer incarnation replaced us
            elif mine is None:
                return
            else:
                status = mine.status
            if status == self.reported_status:
                return
            self.reported_status = status
        log.info("Member status of [%s] changed to [%s]", self.address, status)
        self.on_status(status)
        if status == "Leaving":
            self.was_leaving = True
        if status == "Up":
            log.info("[LAY-11001] cluster successfully joined, member status is up")
        if status == "Down":
            log.error(
                "this node [%s] has been downed; running coordinated shutdown "
                "(reason ClusterDowningReason)",
                self.address,
            )
            self.on_shutdown("downed", "downing")
        elif status in ("Exiting", "Removed") and not self.leaving_requested:
            reason = "leaving" if self.was_leaving else "downing"
            log.warning(
                "this node [%s] was removed from the cluster; running coordinated "
                "shutdown (reason %s)",
                self.address,
                "ClusterLeavingReason" if self.was_leaving else "ClusterDowningReason",
            )
            self.on_shutdown("removed from the cluster", reason)

    def farewell(self):
        """One last gossip round so the others learn our final status."""
        with contextlib.suppress(Exception):  # best effort on the way out
            self._gossip_round()
