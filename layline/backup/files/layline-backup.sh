#!/bin/bash
# Managed by Salt (layline formula): local changes are overwritten.
# One consistent, compressed dump of the layline database, run by
# layline-backup.service (layline.backup):
#   layline-backup OPTION_FILE DATABASE DIR KEEP TEXTFILE_DIR
# Credentials come from OPTION_FILE (--defaults-extra-file), never from argv.
# The dump is written to a temporary file and renamed when complete: a failed
# run leaves no partial file and exits non-zero. Then the newest KEEP files
# stay, node-exporter's TEXTFILE_DIR/layline_backup.prom is replaced and one
# line goes to the journal: file, size, duration.
set -euo pipefail
umask 077

if [ "$#" -ne 5 ]; then
    echo "usage: layline-backup OPTION_FILE DATABASE DIR KEEP TEXTFILE_DIR" >&2
    exit 2
fi
options=$1 database=$2 dir=$3 keep=$4 textfile_dir=$5
case $keep in '' | *[!0-9]* | 0) echo "layline-backup: KEEP must be >= 1, got '$keep'" >&2; exit 2 ;; esac
for path in "$dir" "$textfile_dir"; do
    # root writes there: a real directory, not a link someone else could point elsewhere
    if [ -L "$path" ] || [ ! -d "$path" ]; then
        echo "layline-backup: $path is not a directory" >&2
        exit 1
    fi
done

dump=$(command -v mariadb-dump || command -v mysqldump) || {
    echo "layline-backup: neither mariadb-dump nor mysqldump is installed" >&2
    exit 1
}
started=$(date +%s.%N)
final="$dir/layline-$(date -u +%Y%m%dT%H%M%SZ).sql.gz"
tmp=$(mktemp "$dir/.layline-backup.XXXXXX")
prom=""
trap 'rm -f -- "$tmp" ${prom:+"$prom"}' EXIT

"$dump" --defaults-extra-file="$options" --single-transaction --routines --triggers \
    --hex-blob --quick "$database" | gzip -6 >"$tmp"
if [ -e "$final" ]; then
    echo "layline-backup: $final exists already (two runs in one second?)" >&2
    exit 1
fi
mv -- "$tmp" "$final"
size=$(stat -c %s -- "$final")
finished=$(date +%s.%N)

# retention: the names sort by time; everything after the newest KEEP goes
find "$dir" -maxdepth 1 -type f -name 'layline-*.sql.gz' -printf '%f\n' | sort -r |
    tail -n "+$((keep + 1))" | while IFS= read -r old; do rm -f -- "${dir:?}/$old"; done

prom=$(mktemp "$textfile_dir/.layline_backup.prom.XXXXXX")
cat >"$prom" <<PROM
# HELP layline_backup_last_success_timestamp_seconds Unix time of the last successful layline database backup.
# TYPE layline_backup_last_success_timestamp_seconds gauge
layline_backup_last_success_timestamp_seconds ${finished}
# HELP layline_backup_last_size_bytes Size of the last successful layline database backup file.
# TYPE layline_backup_last_size_bytes gauge
layline_backup_last_size_bytes ${size}
# HELP layline_backup_last_duration_seconds Duration of the last successful layline database backup.
# TYPE layline_backup_last_duration_seconds gauge
layline_backup_last_duration_seconds $(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.3f", b - a }')
PROM
chmod 0644 -- "$prom"
mv -- "$prom" "$textfile_dir/layline_backup.prom"
prom=""
printf 'layline-backup: wrote %s (%s bytes) in %s s\n' "$final" "$size" \
    "$(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.1f", b - a }')"
