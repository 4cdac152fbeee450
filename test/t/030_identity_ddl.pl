# ec.upsert_lead's writers keep a statement's setup for the session (the
# result relations of ec.leads and ec.pipeline_events, their index
# descriptions, CHECK states and trigger functions).  Here four sessions
# upsert the same properties while DDL on ec.leads comes and goes (an index,
# a CHECK, a trigger, a default): no call fails, no reference leaks, and
# every property is one lead.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('identity_ddl');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'equity_connect'\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION equity_connect CASCADE;
	CREATE FUNCTION stress_trg() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		NEW.extra := NEW.extra || '{"stress_trigger": true}';
		RETURN NEW;
	END $$;
	-- 500 properties, each named by 8 rows: inserted once, merged after
	CREATE TABLE wl AS
	SELECT i, jsonb_build_object('property_address', (i % 500 + 1) || ' Stress St', 'property_city', 'Austin',
		'property_state', 'TX', 'property_zip', '78701',
		'phone', '512-555-' || lpad((i % 10000)::text, 4, '0'), 'owner_age', 60 + i % 30,
		'email', 'stress' || i || '@example.com', 'email_verified', i % 3 = 0) AS lead
	FROM generate_series(1, 4000) i;
});

$node->pgbench(
	'--no-vacuum --client=4 --jobs=2 --time=6',
	0,
	[ qr{processed: [1-9]}, qr{number of failed transactions: 0 } ],
	[ qr{^$} ],
	'upserts and DDL on ec.leads at the same time: no call fails',
	{
		'030_upsert@30' => q{
\set i random(1, 4000)
SELECT ec.upsert_lead(lead, 'stress') ->> 'action' FROM wl WHERE i = :i;
},
		'030_ddl@1' => q{
SET client_min_messages = warning;
BEGIN;
SELECT pg_advisory_xact_lock(3030);
CREATE INDEX IF NOT EXISTS stress_idx ON ec.leads (owner_age) WHERE owner_age > 80;
ALTER TABLE ec.leads DROP CONSTRAINT IF EXISTS stress_chk;
ALTER TABLE ec.leads ADD CONSTRAINT stress_chk CHECK (owner_age IS NULL OR owner_age < 200);
CREATE OR REPLACE TRIGGER stress_trg BEFORE INSERT OR UPDATE ON ec.leads FOR EACH ROW EXECUTE FUNCTION stress_trg();
ALTER TABLE ec.leads ALTER COLUMN call_attempt_count SET DEFAULT 0;
COMMIT;
SELECT pg_sleep(0.05);
BEGIN;
SELECT pg_advisory_xact_lock(3030);
DROP TRIGGER IF EXISTS stress_trg ON ec.leads;
ALTER TABLE ec.leads DROP CONSTRAINT IF EXISTS stress_chk;
DROP INDEX IF EXISTS ec.stress_idx;
COMMIT;
}
	});

is( $node->safe_psql('postgres',
		q{SELECT count(*), count(DISTINCT property_address) FROM ec.leads WHERE sources @> '{stress}'}),
	'500|500',
	'every property named is one lead');
is( $node->safe_psql('postgres',
		q{SELECT count(*) > 0 FROM ec.leads WHERE sources @> '{stress}' AND extra ? 'stress_trigger'}),
	't',
	'the trigger made between calls was fired by them');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM ec.pipeline_events WHERE detail ->> 'source' = 'stress' AND event_type = 'dedupe_success'})
	  > 0 ? 'events' : 'none',
	'events',
	'the calls logged their events');

my $log = slurp_file($node->logfile);
unlike($log, qr/leak|still referenced/, 'no reference leaked');
unlike($log, qr/ERROR/, 'no statement failed on the server');

$node->stop;
done_testing();
