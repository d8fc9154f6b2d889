"""
Constants of the layline formula shared by its execution, state and runner modules.

One place for names that more than one module needs: systemd unit names, the restart
marker directory, Pekko's timing facts. Pure Python: the Salt loader puts the synced
``_utils`` directory on ``sys.path`` while it loads modules, so they ``import layline_schema``.
"""

# The interface version of the utils: the execution module refuses to load (so
# layline/synced.jinja says "not synced") when the synced copy is older than it expects.
API_VERSION = 4

# Pekko's actor system name: member addresses are pekko://layline@host:port
SYSTEM_NAME = "layline"
LOOPBACK = "127.0.0.1"
ANY_ADDRESS = "0.0.0.0"

# what a secret looks like in a return, a message or a log line
MASK = "******"
# the __context__ key of the cached model (execution and state modules of one run share it)
CONTEXT_KEY = "layline.model"

# the roles a minion can have, in the order layline.roles lists them
ROLE_ORDER = ("database", "config-server", "engine", "monitoring")

ENGINE_UNIT = "layline-reactive-engine"
CONFIG_SERVER_UNIT = "layline-config-server"
# role -> systemd unit of that role
UNITS = {"engine": ENGINE_UNIT, "config-server": CONFIG_SERVER_UNIT}

# the first seed node's start gate (layline/service/files/seed-gate.sh): an engine that ended
# in failure (downed, killed) does not form a cluster of its own while no other seed answers;
# the marker is relative to the service user's home
SEED_GATE = "/usr/local/lib/layline-formula/seed-gate"
SEED_GATE_MARKER = ".layline/reactive-engine/ended-in-failure"

# restart markers: written by the state layline.restart_pending, cleared by the rolling
# restart once the node passed its health gate (root-owned, outside every service path)
PENDING_DIR = "/var/lib/layline-formula/pending"

# The JDBC truststore only holds the public CA certificate; its password guards nothing but the
# file's checksum (the file is root-owned), so it is a fixed, documented value (Java's default).
TRUSTSTORE_NAME = "truststore.jks"
TRUSTSTORE_PASSWORD = "changeit"  # noqa: S105 - public by design, see README (TLS)

# Worst case of a graceful leave with Pekko's default coordinated-shutdown phase timeouts
# (most phases 5 s, three 10 s): a unit's stop timeout must be above it.
GRACEFUL_LEAVE_WORST_CASE = 75

# the reason the rolling runner gives when only a full-cluster restart is safe
FULL_RESTART = "full cluster restart needed"
