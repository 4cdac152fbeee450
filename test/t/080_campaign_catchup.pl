# The campaign jobs across restarts: pg_cron's @reboot line catches up a run
# missed while the server was down (the same local day only), the job worker
# runs the refresh and the feeder, and a terminated job worker is not
# restarted (the next trigger runs the job again, idempotently).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('campaign');
$node->init;
$node->append_conf('postgresql.conf', <<'CONF');
shared_preload_libraries = 'equity_connect,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
ec.database_name = 'postgres'
ec.instantly_base_url = 'http://127.0.0.1:9/instantly'
max_worker_processes = 16
CONF
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION equity_connect CASCADE;
	CREATE EXTENSION pg_cron;
	SELECT ec.add_key('consent', 'tap-consent', decode(repeat('4d', 32), 'hex'));
	INSERT INTO ec.brokers (id, name, daily_lead_cap, instantly_campaign_id) VALUES (1, 'TAP Broker', 3, 'camp-tap');
	INSERT INTO ec.leads (email, email_verified, campaign_status, assigned_broker_id, owner_age)
	SELECT 'tap' || i || '@example.com', true, 'queued', 1, 62 + i FROM generate_series(1, 10) i;
	SELECT ec.schedule_jobs();
});
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job WHERE jobname = 'equity_connect:catch-up' AND schedule = '\@reboot'"),
	'1', 'the schedule has a catch-up line run at start');

# The server was down at 05:30 and 06:00 on Monday 2026-03-09 and comes back at 09:00.
$node->append_conf('postgresql.conf', "ec.test_now = '2026-03-09 09:00 America/Los_Angeles'\n");
$node->restart;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM ec.job_runs WHERE local_date = '2026-03-09' AND broker_id IS NULL AND ok"),
	'after the restart the missed refresh and feeder ran for Monday');
is($node->safe_psql('postgres', "SELECT count(*) FROM ec.leads WHERE campaign_status = 'active'"),
	'3', 'the feeder fed the broker its cap');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM ec.http_requests WHERE idempotency_key = 'feeder-1-2026-03-09-0'"),
	'1', 'and queued its Instantly request');

# Back again at 09:30 the same day: nothing runs twice.
$node->append_conf('postgresql.conf', "ec.test_now = '2026-03-09 09:30 America/Los_Angeles'\n");
$node->restart;
ok($node->poll_query_until('postgres',
	"SELECT count(*) >= 2 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
	 WHERE j.jobname = 'equity_connect:catch-up' AND d.status = 'succeeded'"),
	'the catch-up ran again at the second start');
is($node->safe_psql('postgres', "SELECT ec.run_scheduled() ->> 'reason'"), 'nothing_due', 'nothing is due');
is($node->safe_psql('postgres', "SELECT count(*) FROM ec.leads WHERE campaign_status = 'active'"),
	'3', 'nothing was fed twice');

# Down all of Tuesday until 04:00 Wednesday: Tuesday's runs are not caught up the next day.
$node->append_conf('postgresql.conf', "ec.test_now = '2026-03-11 04:00 America/Los_Angeles'\n");
$node->restart;
ok($node->poll_query_until('postgres',
	"SELECT count(*) >= 3 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
	 WHERE j.jobname = 'equity_connect:catch-up' AND d.status = 'succeeded'"),
	'the catch-up ran at the third start');
is($node->safe_psql('postgres', "SELECT count(*) FROM ec.job_runs WHERE local_date > '2026-03-09'"),
	'0', 'a run missed on an earlier day is not caught up');
is($node->safe_psql('postgres', "SELECT string_agg(alert, ',') FROM ec.job_alerts"), '',
	'and nothing is due yet on Wednesday');

# Wednesday 06:10: a job worker killed in its run is not restarted; the next trigger runs the job.
$node->append_conf('postgresql.conf', "ec.test_now = '2026-03-11 06:10 America/Los_Angeles'\n");
$node->reload;
my $pid = $node->safe_psql('postgres', "SELECT ec.launch_jobs('{feeder}', '2026-03-11') ->> 'pid'");
like($pid, qr/^\d+$/, 'a job worker started');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'equity_connect campaign job'"),
	'the job worker is gone and not restarted');
$node->safe_psql('postgres', "SELECT ec.run_scheduled()");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM ec.job_runs WHERE local_date = '2026-03-11' AND broker_id IS NULL AND ok"),
	'the next trigger ran Wednesday\'s refresh and feeder');
is($node->safe_psql('postgres', "SELECT count(*) FROM ec.leads WHERE campaign_status = 'active'"),
	'6', 'Wednesday fed three more leads, each once');

$node->stop;
done_testing();
