# Foundation rows: loading into ec.leads (every index, constraint and trigger)
# against plain COPY of the same file into an unindexed table of the same
# shape; the feeder's query on the contactable-leads view.

bench_sql "CREATE TABLE bench.plain_leads (LIKE ec.leads INCLUDING DEFAULTS)" >/dev/null
COLS="id, first_name, last_name, email, phone, property_address, property_unit, property_city, property_state,
	property_zip, county_fips, mak, apn, apn_key, addr_hash, owner_age, owner_occupied, estimated_value,
	estimated_equity, email_verified, phone_verified, campaign_status, lead_score, assigned_broker_id"
plain_ms=$(bench_ms "COPY bench.plain_leads ($COLS) FROM '$BENCH_LEADS_CSV' WITH (FORMAT csv)")
leads_ms=$(bench_ms "COPY ec.leads ($COLS) FROM '$BENCH_LEADS_CSV' WITH (FORMAT csv)")
bench_sql "SELECT setval(pg_get_serial_sequence('ec.leads', 'id'), (SELECT max(id) FROM ec.leads))" >/dev/null
bench_sql "DROP TABLE bench.plain_leads" >/dev/null
leads_rate=$(ratio "$SCALE" "$(ratio "$leads_ms" 1000 6)" 0)
plain_rate=$(ratio "$SCALE" "$(ratio "$plain_ms" 1000 6)" 0)
bench_row "load $SCALE leads into ec.leads (COPY, all indexes)" "$leads_rate rows/s" \
	"1000 leads/min" "n/a (foundation)" "$plain_rate rows/s (COPY, no index)" "$(ratio "$leads_rate" "$plain_rate")"
bench_sql "VACUUM ANALYZE ec.leads" >/dev/null

# The first refresh after the load fills the contactable leads (every lead is
# new); bench/80_campaign.sh compares the refresh with the plain REFRESH.
refresh_ms=$(bench_ms "SELECT ec.refresh_contactable_leads()")
bench_row "first contactable-leads refresh after the load" "$refresh_ms ms" "< 5 s" "< 5 s (issue 8)" "-" "-"

# The feeder's question for every broker: top 250 queued leads by score, from
# the view, against the same question asked of the live table.
mv_ms=$(bench_ms "DO \$\$ DECLARE b int; BEGIN FOR b IN 1..100 LOOP PERFORM id FROM ec.mv_contactable_leads
	WHERE assigned_broker_id = b AND campaign_status = 'queued' ORDER BY lead_score DESC, id LIMIT 250; END LOOP; END \$\$")
live_ms=$(bench_ms "DO \$\$ DECLARE b int; BEGIN FOR b IN 1..100 LOOP PERFORM id FROM ec.leads
	WHERE assigned_broker_id = b AND campaign_status = 'queued' AND (email_verified OR phone_verified)
	AND NOT email_opt_out ORDER BY lead_score DESC, id LIMIT 250; END LOOP; END \$\$")
per_mv=$(ratio "$mv_ms" 100 3)
per_live=$(ratio "$live_ms" 100 3)
bench_row "feeder query, top 250 of one broker (view)" "$per_mv ms" "< 100 ms" "< 100 ms" \
	"$per_live ms (live table)" "$(ratio "$per_live" "$per_mv")"
plan_ms=$(bench_sql "EXPLAIN (ANALYZE, FORMAT json) SELECT id FROM ec.mv_contactable_leads WHERE assigned_broker_id = 42
	AND campaign_status = 'queued' ORDER BY lead_score DESC, id LIMIT 250" | sed -n 's/.*"Execution Time": \([0-9.]*\).*/\1/p')
bench_row "feeder query, EXPLAIN ANALYZE execution time" "$plan_ms ms" "< 100 ms" "< 100 ms" "-" "-"
