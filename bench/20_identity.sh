# Lead identity rows (issue 4): ec.upsert_lead under 8 concurrent pgbench
# clients (p95 latency, throughput) and ec.upsert_leads in bulk, each against
# a plain PL/pgSQL + pgcrypto-style implementation of the same rules
# (bench/identity_plpgsql.sql) on a copy of the same 1M leads, in this run.
# Workload: half respellings of existing properties, half new properties.
#
#   EC_BENCH_UPSERT_SECONDS   pgbench duration per implementation (default 30)
#   EC_BENCH_BULK             leads per bulk call (default 100000)
#   EC_BENCH_BULK_RUNS        bulk calls, each on a workload of its own; the
#                             median is reported (default 3)

UPSERT_SECONDS=${EC_BENCH_UPSERT_SECONDS:-30}
BULK=${EC_BENCH_BULK:-100000}
BULK_RUNS=${EC_BENCH_BULK_RUNS:-3}
CLIENTS=8
NWL=400000

ec_log "identity: baseline table and workload"
# the leads themselves come from 10_foundation.sh; load them when run alone
if [ "$(bench_sql "SELECT count(*) FROM (SELECT 1 FROM ec.leads LIMIT 1) x")" = 0 ]; then
	bench_sql "COPY ec.leads (id, first_name, last_name, email, phone, property_address, property_unit, property_city,
		property_state, property_zip, county_fips, mak, apn, apn_key, addr_hash, owner_age, owner_occupied,
		estimated_value, estimated_equity, email_verified, phone_verified, campaign_status, lead_score,
		assigned_broker_id) FROM '$BENCH_LEADS_CSV' WITH (FORMAT csv)" >/dev/null
	bench_sql "SELECT setval(pg_get_serial_sequence('ec.leads', 'id'), (SELECT max(id) FROM ec.leads))" >/dev/null
	bench_sql "VACUUM ANALYZE ec.leads" >/dev/null
fi
ec_psql "$BENCH_DB" -f "$EC_SRC/bench/identity_plpgsql.sql" >/dev/null || ec_die "baseline setup failed"
# Workload rows: odd ids respell an existing property (messy spelling, a new
# phone), even ids are new properties (house numbers past the generated ones).
# $1: table, $2: rows, $3: house-number offset of the new properties.
make_workload() {
	ec_psql "$BENCH_DB" >/dev/null <<SQL
CREATE TABLE $1 AS
SELECT j AS id,
	CASE WHEN j % 2 = 1 THEN jsonb_build_object(
			'property_address', p.messy_line1, 'property_city', p.messy_city, 'property_state', p.state,
			'property_zip', p.messy_zip, 'first_name', p.first_name,
			'phone', '(' || (700 + j % 200) || ') 555-' || lpad((j % 10000)::text, 4, '0'))
		ELSE jsonb_build_object(
			'property_address', regexp_replace(p.messy_line1, '^[0-9]+', ((split_part(p.line1, ' ', 1))::int + $3)::text),
			'property_city', p.messy_city, 'property_state', p.state, 'property_zip', p.zip,
			'first_name', p.first_name, 'last_name', p.last_name,
			'email', lower(p.first_name) || '.' || j || '@example.net',
			'email_verified', (j % 4 = 0), 'owner_age', p.owner_age, 'estimated_value', p.estimated_value)
	END AS lead
FROM generate_series(1, $2) j
JOIN bench.props p ON p.i = CASE WHEN j % 2 = 1 THEN (j::bigint * 7919 % $SCALE) + 1 ELSE (j / 2 - 1) % $SCALE + 1 END;
ALTER TABLE $1 ADD PRIMARY KEY (id);
ANALYZE $1;
SQL
}
make_workload bench.wl $NWL 20000
# one bulk workload per call, their new properties apart (house numbers past
# 40000, 60000, ...; the generated ones stay under 10000)
for k in $(seq "$BULK_RUNS"); do
	make_workload "bench.wlb$k" "$BULK" $((20000 + 20000 * k))
	bench_sql "CREATE TABLE bench.wlb${k}_array AS SELECT jsonb_agg(lead ORDER BY id) AS leads FROM bench.wlb$k" >/dev/null
done
bench_sql "CHECKPOINT" >/dev/null

# pgbench: per-transaction latencies from its log, throughput from its summary
run_pgbench() {
	local script=$1 prefix=$2 out
	rm -f "$prefix".*
	out=$(ec_as_user "$EC_PGBIN/pgbench" -n -h "$EC_PGHOST" -p "$EC_PGPORT" -U postgres -c "$CLIENTS" -j 2 \
		-T "$UPSERT_SECONDS" -M prepared -D k=0 -D clients="$CLIENTS" -D nwl="$NWL" -f "$script" \
		--log --log-prefix="$prefix" "$BENCH_DB" 2>&1) || { echo "$out" >&2; ec_die "pgbench failed"; }
	TPS=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
	P95=$(cat "$prefix".* | awk '{print $3}' | sort -n | awk '{a[NR] = $1} END { i = int(NR * 0.95); if (i < 1) i = 1; printf "%.3f\n", a[i] / 1000 }')
}
mkdir -p "$BENCH_DIR/pgbench"
chown "$EC_OS_USER" "$BENCH_DIR/pgbench" 2>/dev/null || true
ec_log "identity: ec.upsert_lead, $CLIENTS clients, ${UPSERT_SECONDS}s"
run_pgbench "$EC_SRC/bench/identity_upsert_c.pgbench" "$BENCH_DIR/pgbench/c"
c_tps=$TPS c_p95=$P95
ec_log "identity: PL/pgSQL baseline, $CLIENTS clients, ${UPSERT_SECONDS}s"
run_pgbench "$EC_SRC/bench/identity_upsert_plpgsql.pgbench" "$BENCH_DIR/pgbench/pl"
pl_tps=$TPS pl_p95=$P95

bench_row "upsert_lead p95, $CLIENTS clients (pgbench)" "$c_p95 ms" "-" "< 1 ms" \
	"$pl_p95 ms (PL/pgSQL)" "$(ratio "$pl_p95" "$c_p95")"
bench_row "upsert_lead throughput, $CLIENTS clients" "$(printf '%.0f' "$c_tps") upserts/s" "-" ">= 3x baseline" \
	"$(printf '%.0f' "$pl_tps") upserts/s (PL/pgSQL)" "$(ratio "$c_tps" "$pl_tps")"

# Each call on a workload of its own (ours first, then the baseline on the
# same leads, which by then finds ours' new properties stored), the median
# call reported with the range: one call's time moves by a quarter between
# runs of the same code on this machine.
ec_log "identity: bulk, $BULK leads per call, $BULK_RUNS calls"
c_rates=() pl_rates=()
for k in $(seq "$BULK_RUNS"); do
	c_ms=$(bench_ms "SELECT ec.upsert_leads(leads, 'bench') FROM bench.wlb${k}_array")
	pl_ms=$(bench_ms "SELECT bench.pl_upsert_leads(leads, 'bench') FROM bench.wlb${k}_array")
	ec_log "identity: bulk call $k: ours $c_ms ms, PL/pgSQL $pl_ms ms"
	c_rates+=("$(ratio "$BULK" "$(ratio "$c_ms" 1000 6)" 0)")
	pl_rates+=("$(ratio "$BULK" "$(ratio "$pl_ms" 1000 6)" 0)")
done
# median, min and max of numbers
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s %s %s\n", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
read -r c_rate c_min c_max <<<"$(stats "${c_rates[@]}")"
read -r pl_rate pl_min pl_max <<<"$(stats "${pl_rates[@]}")"
bench_row "upsert_leads bulk ($BULK leads, one call; median of $BULK_RUNS)" "$c_rate leads/s ($c_min-$c_max)" "-" \
	"> 50000 leads/s, >= 7x baseline" "$pl_rate leads/s (PL/pgSQL; $pl_min-$pl_max)" "$(ratio "$c_rate" "$pl_rate")"
