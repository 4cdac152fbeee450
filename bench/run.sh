#!/usr/bin/env bash
# The benchmark command: one throwaway cluster, synthetic data at a chosen
# scale, then every bench/NN_*.sh; prints one table (operation, figure, seed
# target, goal, baseline measured in the same run, ratio) and writes it as
# markdown to bench/results/latest.md.
#
#   bench/run.sh                  1,000,000 leads
#   bench/run.sh --scale 100000   a quicker look
#   bench/run.sh --only 10        only bench/10_*.sh (after generation)
#
# Figures are whole operations timed inside the server (clock_timestamp) or
# by pgbench; the machine is noisy, so compare ratios, not absolute numbers.
set -u
. "$(dirname "$0")/../scripts/lib.sh"

SCALE=1000000
ONLY=""
while [ $# -gt 0 ]; do
	case "$1" in
		--scale) SCALE=$2; shift 2 ;;
		--only) ONLY=$2; shift 2 ;;
		*) ec_die "usage: bench/run.sh [--scale N] [--only NN]" ;;
	esac
done

ec_prepare
BENCH_DIR=$EC_BUILD/bench
CLUSTERS="$BENCH_DIR"
# Huge pages for the server's shared memory, as PostgreSQL's documentation
# advises for shared buffers of gigabytes ("Linux Huge Pages" in its chapter
# on server setup): a backend then maps the 2 GB of buffers in 2 MB pages, and
# a new connection's first touches of them cost a thousand page faults, not
# half a million; every implementation measured runs on the same server. When
# run as root, the pages the server needs are reserved
# (vm.nr_hugepages, from postgres -C shared_memory_size_in_huge_pages) and the
# previous setting is put back at the end; otherwise, or with
# EC_BENCH_HUGE_PAGES=off, the server runs without them. The results' header
# says which.
HUGE_RESTORE=""
bench_huge_pages() {
	local dir=$1 need have
	[ "${EC_BENCH_HUGE_PAGES:-try}" != off ] || { echo "huge_pages = off" | ec_as_user tee -a "$dir/data/postgresql.conf" >/dev/null; return 0; }
	[ -w /proc/sys/vm/nr_hugepages ] || return 0
	need=$(ec_as_user "$EC_PGBIN/postgres" -D "$dir/data" -C shared_memory_size_in_huge_pages 2>/dev/null) || return 0
	have=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$need" -gt "$have" ] 2>/dev/null; then
		HUGE_RESTORE=$have
		echo "$need" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
	fi
}
# "on" when the postmaster's shared memory is in huge pages
bench_huge_status() {
	local pid
	pid=$(head -1 "$BENCH_DIR/data/postmaster.pid" 2>/dev/null) || { echo off; return; }
	if grep -q 'KernelPageSize: *2048 kB' "/proc/$pid/smaps" 2>/dev/null; then echo on; else echo off; fi
}
# at exit (a bench script that sets its own trap calls it too)
bench_cleanup() {
	ec_cluster_stop "$BENCH_DIR"
	if [ -n "$HUGE_RESTORE" ]; then echo "$HUGE_RESTORE" >/proc/sys/vm/nr_hugepages; fi
}
trap bench_cleanup EXIT
EC_CLUSTER_PRESTART=bench_huge_pages
EC_CLUSTER_CONF="shared_buffers = '2GB'
huge_pages = try
maintenance_work_mem = '1GB'
work_mem = '64MB'
max_wal_size = '8GB'
checkpoint_timeout = '30min'
synchronous_commit = off
ec.database_name = 'ec_bench'
${EC_BENCH_CONF:-}"
ec_cluster_start "$BENCH_DIR"
HUGE_PAGES=$(bench_huge_status)
ec_log "huge pages: $HUGE_PAGES"
ec_psql postgres -c "CREATE DATABASE ec_bench" >/dev/null
ec_psql ec_bench -c "CREATE EXTENSION equity_connect CASCADE" >/dev/null
export BENCH_DB=ec_bench SCALE

ROWS=()
# bench_row OPERATION FIGURE SEED_TARGET GOAL BASELINE RATIO
bench_row() {
	ROWS+=("$1|$2|$3|$4|$5|$6")
	printf '   %s: %s (baseline %s, ratio %s)\n' "$1" "$2" "$5" "$6" >&2
}
# bench_sql SQL -> one value (tuples only)
bench_sql() { ec_psql "$BENCH_DB" -At -c "$1"; }
# bench_ms SQL -> milliseconds the statement took inside the server
bench_ms() {
	ec_psql "$BENCH_DB" -At -c "SELECT ec_bench_time(\$q\$$1\$q\$)"
}
# ratio A B [digits] -> A / B
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b == 0) print "n/a"; else printf "%.*f\n", d, a / b }'; }

ec_psql "$BENCH_DB" >/dev/null <<'SQL'
CREATE FUNCTION public.ec_bench_time(q text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE q;
	RETURN round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1000, 3);
END $$;
SQL

ec_log "generating $SCALE properties (bench/generate.sql)"
t0=$(date +%s)
ec_psql "$BENCH_DB" -v scale="$SCALE" -v copyfile="$BENCH_DIR/leads.csv" -f "$EC_SRC/bench/generate.sql" >/dev/null \
	|| ec_die "data generation failed"
ec_log "generated in $(( $(date +%s) - t0 )) s"
export BENCH_LEADS_CSV="$BENCH_DIR/leads.csv"

for f in "$EC_SRC"/bench/[0-9][0-9]_*.sh; do
	[ -n "$ONLY" ] && case "$(basename "$f")" in "$ONLY"_*) ;; *) continue ;; esac
	ec_log "$(basename "$f")"
	# shellcheck disable=SC1090
	. "$f"
done

mkdir -p "$EC_ROOT/bench/results"
{
	echo "# Benchmark results"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), scale $SCALE leads, $(nproc) cores, $("$EC_PGBIN/postgres" --version), huge pages $HUGE_PAGES"
	echo
	echo "| operation | figure | seed target | goal | baseline (same run) | ratio |"
	echo "|---|---|---|---|---|---|"
	for r in "${ROWS[@]}"; do echo "| ${r//|/ | } |"; done
} > "$EC_ROOT/bench/results/latest.md"
echo
column -t -s '|' -N "operation,figure,seed target,goal,baseline,ratio" < <(printf '%s\n' "${ROWS[@]}") 2>/dev/null \
	|| printf '%s\n' "${ROWS[@]}"
echo
echo "written to bench/results/latest.md"
