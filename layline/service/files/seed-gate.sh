#!/bin/bash
# Managed by Salt (layline formula): local changes are overwritten.
# Start gate of the FIRST seed node's reactive engine (run as the service user).
#
# Pekko lets the first seed node join itself when no other seed node answers within
# seed-node-timeout. After the split-brain resolver downed it in a partition (exit 255)
# and systemd restarted it while it is still cut off, that would form a second cluster (an
# island) that never merges back. So:
#   seed-gate record MARKER          ExecStopPost: an end in failure ($SERVICE_RESULT not
#                                    "success": downed, killed) creates MARKER; a clean
#                                    stop (exit 143, 0) removes it
#   seed-gate check MARKER HOST:PORT...
#                                    ExecStartPre: without MARKER start at once (a cold start
#                                    bootstraps as Pekko does); with MARKER start only once
#                                    another seed node accepts a connection on its cluster
#                                    port, else fail - Restart= tries again after RestartSec.
set -u
usage() { echo "usage: seed-gate record MARKER | check MARKER HOST:PORT..." >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1 marker=$2
shift 2

answers() {  # answers HOST PORT: a TCP connection within 3 s
    # shellcheck disable=SC2016  # $0/$1 expand in the inner bash, from the arguments
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

case $action in
record)
    if [ "${SERVICE_RESULT:-success}" = success ]; then
        rm -f -- "$marker"
    else
        mkdir -p -- "$(dirname -- "$marker")" && : >"$marker"
        echo "seed-gate: the engine ended in failure (${SERVICE_RESULT}," \
             "${EXIT_CODE:-?} ${EXIT_STATUS:-?}); its restart waits for another seed node"
    fi
    ;;
check)
    [ -e "$marker" ] || exit 0
    [ $# -ge 1 ] || usage
    for seed in "$@"; do
        host=${seed%:*} port=${seed##*:}
        host=${host#[} host=${host%]}
        if answers "$host" "$port"; then
            echo "seed-gate: seed node $seed answers: starting (the engine joins through it)"
            rm -f -- "$marker"
            exit 0
        fi
    done
    echo "seed-gate: this first seed node ended in failure and no other seed node answers" \
         "($*): not starting, it would form a cluster of its own that never merges back;" \
         "retrying after RestartSec. To start a new cluster from this node alone:" \
         "rm $marker" >&2
    exit 1
    ;;
*)
    usage
    ;;
esac
