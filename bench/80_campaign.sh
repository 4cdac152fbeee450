# Campaign rows (issue 8): the contactable-leads refresh against the plain
# REFRESH MATERIALIZED VIEW CONCURRENTLY of the same definition (a real
# materialized view built here), with every lead changed and with 1% changed;
# the feeder for every broker x 250 leads (tokens and Instantly requests
# included) against a row-by-row feeder, one request per lead.

# (bench/run.sh --only 80: load the generated leads here)
if [ "$(bench_sql "SELECT count(*) FROM ec.leads")" = 0 ]; then
	bench_sql "COPY ec.leads (id, first_name, last_name, email, phone, property_address, property_unit, property_city,
		property_state, property_zip, county_fips, mak, apn, apn_key, addr_hash, owner_age, owner_occupied,
		estimated_value, estimated_equity, email_verified, phone_verified, campaign_status, lead_score,
		assigned_broker_id) FROM '$BENCH_LEADS_CSV' WITH (FORMAT csv)" >/dev/null
	bench_sql "VACUUM ANALYZE ec.leads" >/dev/null
fi
bench_sql "ANALYZE ec.leads" >/dev/null
# a refresh that leaves the table unlike its definition is a failed row
bench_drift() {
	bench_sql "SELECT (SELECT count(*) FROM (SELECT * FROM ec.contactable_leads_source
		EXCEPT SELECT * FROM ec.mv_contactable_leads) a) + (SELECT count(*) FROM (SELECT * FROM ec.mv_contactable_leads
		EXCEPT SELECT * FROM ec.contactable_leads_source) b)"
}
bench_check() {	# FIGURE -> FIGURE, or a mismatch note
	local d
	d=$(bench_drift)
	if [ "$d" = 0 ]; then echo "$1"; else echo "$1 (MISMATCH: $d rows differ)"; fi
}

# the baseline: a materialized view of the very same definition, with the same indexes
ec_psql "$BENCH_DB" >/dev/null <<'SQL'
CREATE MATERIALIZED VIEW bench.mv_plain AS SELECT * FROM ec.contactable_leads_source;
CREATE UNIQUE INDEX mv_plain_id ON bench.mv_plain (id);
CREATE INDEX mv_plain_feed ON bench.mv_plain (assigned_broker_id, lead_score DESC, id) WHERE campaign_status = 'queued';
SQL
ec_psql "$BENCH_DB" -c "SELECT ec.refresh_contactable_leads()" >/dev/null
rows=$(bench_sql "SELECT count(*) FROM ec.mv_contactable_leads")

# 1. every lead changed since the last refresh (a bulk load): the rebuild path
bench_sql "INSERT INTO ec.contactable_changes SELECT id FROM ec.leads" >/dev/null
full_ms=$(bench_ms "SELECT ec.refresh_contactable_leads()")
full_mode=$(bench_sql "SELECT detail ->> 'mode' FROM ec.job_runs WHERE job = 'refresh' ORDER BY finished_at DESC LIMIT 1")
conc_ms=$(bench_ms "REFRESH MATERIALIZED VIEW CONCURRENTLY bench.mv_plain")
bench_row "contactable-leads refresh, every lead changed ($rows rows, $full_mode)" "$(bench_check "$full_ms ms")" \
	"< 5 s" "< 5 s" "$conc_ms ms (REFRESH MATERIALIZED VIEW CONCURRENTLY)" "$(ratio "$conc_ms" "$full_ms")"

# 2. 1% of the leads changed: rescored, unsubscribed, sent back to new
changed=$(ec_psql "$BENCH_DB" -At <<'SQL' | tail -1
UPDATE ec.leads SET owner_age = owner_age + 1 WHERE id % 200 = 0;
UPDATE ec.leads SET email_opt_out = true, email_opt_out_at = now() WHERE id % 400 = 1;
UPDATE ec.leads SET campaign_status = 'new' WHERE id % 400 = 2 AND campaign_status = 'queued';
SELECT count(DISTINCT lead_id) FROM ec.contactable_changes;
SQL
)
inc_ms=$(bench_ms "SELECT ec.refresh_contactable_leads()")
conc_ms=$(bench_ms "REFRESH MATERIALIZED VIEW CONCURRENTLY bench.mv_plain")
bench_row "contactable-leads refresh, $changed leads changed (1%, incremental)" "$(bench_check "$inc_ms ms")" \
	"< 5 s" "< 1 s" "$conc_ms ms (REFRESH MATERIALIZED VIEW CONCURRENTLY)" "$(ratio "$conc_ms" "$inc_ms")"

# 3. what the change log costs a writer: one 10,000-lead UPDATE of a contactable column
on_ms=$(bench_ms "UPDATE ec.leads SET phone_verified = NOT phone_verified WHERE id % 100 = 3")
bench_sql "ALTER TABLE ec.leads DISABLE TRIGGER leads_contactable_update" >/dev/null
off_ms=$(bench_ms "UPDATE ec.leads SET phone_verified = NOT phone_verified WHERE id % 100 = 3")
bench_sql "ALTER TABLE ec.leads ENABLE TRIGGER leads_contactable_update" >/dev/null
bench_row "UPDATE of 10,000 leads with the change log (writer's cost)" "$on_ms ms" "-" "-" \
	"$off_ms ms (change-log trigger disabled)" "$(ratio "$on_ms" "$off_ms")"
bench_sql "INSERT INTO ec.contactable_changes SELECT id FROM ec.leads WHERE id % 100 = 3" >/dev/null
ec_psql "$BENCH_DB" -c "SELECT ec.refresh_contactable_leads()" >/dev/null

# 4. the feeder: every broker x 250 leads, consent tokens and Instantly requests included
ec_psql "$BENCH_DB" >/dev/null <<'SQL'
UPDATE ec.brokers SET instantly_campaign_id = 'bench-' || id, daily_lead_cap = 250, status = 'active';
DO $$ BEGIN
	IF NOT EXISTS (SELECT FROM ec.key_status WHERE key_id = 'bench-consent') THEN
		PERFORM ec.add_key('consent', 'bench-consent', decode(repeat('3c', 32), 'hex'));
	END IF;
END $$;
ALTER DATABASE ec_bench SET ec.consent_form_url = 'https://consent.example.com/c/{token}';
ALTER DATABASE ec_bench SET ec.instantly_base_url = 'http://127.0.0.1:9/instantly';
-- the row-by-row feeder a workflow would run: one lead at a time, one request per lead
CREATE FUNCTION bench.naive_feed(d date) RETURNS integer LANGUAGE plpgsql AS $f$
DECLARE b record; l record; n integer := 0; tok text;
BEGIN
	FOR b IN SELECT id, instantly_campaign_id FROM ec.brokers WHERE status = 'active' ORDER BY id LOOP
		FOR l IN SELECT m.id FROM ec.mv_contactable_leads m WHERE m.assigned_broker_id = b.id
				 AND m.campaign_status = 'queued' ORDER BY m.lead_score DESC, m.id LIMIT 250 LOOP
			UPDATE ec.leads SET campaign_status = 'active' WHERE id = l.id AND campaign_status = 'queued';
			tok := ec.mint_consent_token(l.id);
			PERFORM ec.instantly_add_leads(b.instantly_campaign_id, jsonb_build_array(ec.instantly_lead_for(l.id,
				'https://consent.example.com/c/' || tok)), jsonb_build_object('idempotency_key', 'naive-' || l.id || '-' || d));
			n := n + 1;
		END LOOP;
	END LOOP;
	RETURN n;
END $f$;
SQL
brokers=$(bench_sql "SELECT count(*) FROM ec.feeder_brokers()")
# Each feed starts from vacuumed tables, as a daily feed does after
# autovacuum: the baseline's rolled-back feed of the same leads leaves dead
# row versions that the measured feed would otherwise clean up. The whole
# database is vacuumed and analyzed, so that autovacuum has nothing left to
# do during either feed (it used to vacuum and analyze the bench's own
# scratch tables, bench.props and bench.mv_plain, while one feed or the
# other ran, on a 2-core machine).
feed_vacuum() {
	bench_sql "ANALYZE" >/dev/null
	bench_sql "VACUUM" >/dev/null	# (after ANALYZE: its own dead statistics rows too)
}
feed_vacuum
naive_ms=$(bench_ms "DO \$\$ BEGIN PERFORM bench.naive_feed('2026-03-10'); RAISE EXCEPTION 'undo';
	EXCEPTION WHEN raise_exception THEN NULL; END \$\$")
feed_vacuum
feed_ms=$(bench_ms "SELECT ec.run_feeder('2026-03-09')")
feed=$(bench_sql "SELECT (detail ->> 'fed') || ' leads, ' || (detail ->> 'requests') || ' requests, '
	|| (SELECT count(*) FROM ec.consent_tokens) || ' tokens' FROM ec.job_runs
	WHERE job = 'feeder' AND local_date = '2026-03-09' AND broker_id IS NULL AND ok")
bench_row "feeder, $brokers brokers x 250 ($feed)" "$feed_ms ms" "< 2 min per 250" "< 2 s" \
	"$naive_ms ms (row by row, a request per lead)" "$(ratio "$naive_ms" "$feed_ms")"
bench_sql "DELETE FROM ec.http_requests WHERE idempotency_key LIKE 'feeder-%'" >/dev/null
