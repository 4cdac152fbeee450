# The HTTP worker against a real server on 127.0.0.1 (test/http_server.py):
# success, 500 then success, 429 with Retry-After, timeout, connection
# refused, oversized response, dead letters after max attempts, 4xx not
# retried, rollback means not sent, per-host limits and no head-of-line
# blocking, callbacks, API keys and signed webhooks, TLS verification,
# SIGHUP, SIGTERM and SIGKILL of the worker, and nothing on a standby.
#
# The worker's idle poll is set to an hour, so every request below is sent
# because its commit woke the worker.
use strict;
use warnings;
use File::Temp qw(tempdir);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EcHttpServer;

my $server = EcHttpServer->new;
my $other = EcHttpServer->new;    # a second host (another port)
my $refused_port = $server->port + 0;
{
	# a port nothing listens on: a server we start and stop again
	my $gone = EcHttpServer->new;
	$refused_port = $gone->port;
	$gone->stop;
}

my $node = PostgreSQL::Test::Cluster->new('http');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'equity_connect'
max_worker_processes = 16
restart_after_crash = on
ec.http_retry_base_ms = 20
ec.http_retry_max_ms = 60000
ec.http_timeout_ms = 5000
ec.http_poll_interval_ms = 3600000
ec.http_max_response_bytes = 65536
ec.instantly_base_url = '@{[ $server->url('/instantly') ]}'
ec.vapi_base_url = '@{[ $server->url('/vapi') ]}'
log_min_messages = info
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION equity_connect CASCADE');

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub enqueue
{
	my ($method, $url, %o) = @_;
	my $headers = $o{headers} ? "'$o{headers}'" : 'NULL';
	my $body = defined $o{body} ? "convert_to('$o{body}', 'UTF8')" : 'NULL';
	my $purpose = $o{purpose} // 'test';
	my $key = $o{key} ? "'$o{key}'" : 'NULL';
	my $max = $o{max_attempts} // 8;
	my $cb = $o{callback} ? "'$o{callback}'" : 'NULL';
	return sql("SELECT ec.http_enqueue('$method', '$url', $headers, $body, '$purpose', $key, $max, now(), $cb)");
}

sub wait_finished
{
	my ($id, $what) = @_;
	$node->poll_query_until('postgres', "SELECT finished_at IS NOT NULL FROM ec.http_requests WHERE id = $id")
	  or die "request $id ($what) did not finish";
}

sub reloads { return sql("SELECT coalesce(max(reloads), -1) FROM ec.http_workers()"); }

# Change settings and wait until the worker has applied them.
sub reconfigure
{
	my (@settings) = @_;
	my $before = reloads();
	sql("ALTER SYSTEM SET $_") for @settings;
	sql('SELECT pg_reload_conf()');
	$node->poll_query_until('postgres', "SELECT coalesce(max(reloads), -1) > $before FROM ec.http_workers()")
	  or die 'the worker did not reload';
}

$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ec.http_workers()")
  or die 'no HTTP worker';
is(sql("SELECT database FROM ec.http_workers()"), 'postgres', 'one worker, serving ec.database_name');

# ---- success: method, headers, body and the Idempotency-Key arrive ----
my $id = enqueue('POST', $server->url('/echo/one'),
	headers => '{"Content-Type": "application/json", "X-Trace": "t-1"}',
	body => '{"hello": "world"}', key => 'success-1');
wait_finished($id, 'success');
is(sql("SELECT state || ' ' || attempts || ' ' || last_status FROM ec.http_requests WHERE id = $id"),
	'succeeded 1 200', 'a request to a healthy server succeeds at once');
my ($got) = @{ $server->requests('/echo/one') };
is($got->{method}, 'POST', 'the method arrives');
is($got->{headers}{'idempotency-key'}, 'success-1', 'the Idempotency-Key header carries the key');
is($got->{headers}{'x-trace'}, 't-1', 'the caller\'s headers arrive');
is($got->{body}, '{"hello": "world"}', 'the body arrives');
is(sql("SELECT status || ' ' || (body IS NOT NULL) || ' ' || (headers ->> 'content-type') || ' ' || (duration_ms >= 0)
	FROM ec.http_responses WHERE request_id = $id"), '200 true application/json true',
	'the response (status, body, headers, duration) is stored and joinable');

# ---- 500 then success; the same key on both attempts ----
$id = enqueue('GET', $server->url('/fail/1/500/a'), key => 'flaky-1');
wait_finished($id, '500 then 200');
is(sql("SELECT state || ' ' || attempts FROM ec.http_requests WHERE id = $id"), 'succeeded 2',
	'a 500 is retried and the retry succeeds');
is(sql("SELECT string_agg(attempt || ':' || status, ',' ORDER BY attempt) FROM ec.http_responses WHERE request_id = $id"),
	'1:500,2:200', 'both attempts are recorded');
is(join(',', map { $_->{headers}{'idempotency-key'} } @{ $server->requests('/fail/1/500/a') }),
	'flaky-1,flaky-1', 'every attempt carries the same Idempotency-Key');

# ---- 429 with Retry-After: 2 seconds, whatever the backoff says ----
$id = enqueue('GET', $server->url('/retry-after/2/a'));
wait_finished($id, '429');
my @ra = @{ $server->requests('/retry-after/2/a') };
is(scalar(@ra), 2, '429 is retried once');
cmp_ok($ra[1]{t} - $ra[0]{t}, '>=', 1.9, 'the retry waits for Retry-After (backoff alone is 20 ms)');
is(sql("SELECT state FROM ec.http_requests WHERE id = $id"), 'succeeded', 'and succeeds');

# ---- 4xx is final, except 408 and 429 ----
$id = enqueue('GET', $server->url('/status/404/a'));
wait_finished($id, '404');
is(sql("SELECT state || ' ' || attempts || ' ' || last_status FROM ec.http_requests WHERE id = $id"),
	'failed 1 404', 'a 404 is not retried');
$id = enqueue('GET', $server->url('/status/422/a'));
wait_finished($id, '422');
is(sql("SELECT attempts FROM ec.http_requests WHERE id = $id"), '1', 'nor is a 422');
$id = enqueue('GET', $server->url('/status/408/a'), max_attempts => 2);
wait_finished($id, '408');
is(sql("SELECT attempts FROM ec.http_requests WHERE id = $id"), '2', 'a 408 is retried');

# ---- dead letters after max attempts ----
$id = enqueue('POST', $server->url('/status/503/a'), body => 'x', purpose => 'test_dlq', max_attempts => 3);
wait_finished($id, '503');
is(sql("SELECT state || ' ' || attempts || ' ' || last_status FROM ec.http_requests WHERE id = $id"),
	'failed 3 503', 'a request that keeps failing gives up after max_attempts');
is(sql("SELECT count(*) FROM ec.http_responses WHERE request_id = $id"), '3', 'each attempt is recorded');
is(sql("SELECT source || ' ' || kind || ' ' || last_status || ' ' || attempts || ' ' || (payload ->> 'request_id')
	FROM ec.pipeline_dlq WHERE ref_id = $id"), "http test_dlq 503 3 $id", 'and it is in pipeline_dlq');

# ---- a dead letter sent again ----
$id = enqueue('GET', $server->url('/fail/2/503/retried'), max_attempts => 2, purpose => 'test_retry');
wait_finished($id, 'before retry');
is(sql("SELECT state FROM ec.http_requests WHERE id = $id"), 'failed', 'two 503s: a dead letter');
is(sql("SELECT ec.http_retry($id)"), 't', 'ec.http_retry puts it back');
wait_finished($id, 'after retry');
is(sql("SELECT state || ' ' || attempts || ' ' || last_status FROM ec.http_requests WHERE id = $id"),
	'succeeded 3 200', 'the third attempt succeeds (retry wakes the worker)');
is(sql("SELECT resolution FROM ec.pipeline_dlq WHERE ref_id = $id"), 'retried', 'and its dead letter is resolved');

# ---- timeout ----
reconfigure("ec.http_timeout_ms = 300");
$id = enqueue('GET', $server->url('/sleep/3000/a'), max_attempts => 2);
wait_finished($id, 'timeout');
is(sql("SELECT state || ' ' || attempts || ' ' || (last_status IS NULL) FROM ec.http_requests WHERE id = $id"),
	'failed 2 true', 'a request that times out is retried, then given up');
like(sql("SELECT last_error FROM ec.http_requests WHERE id = $id"), qr/timed out/i, 'the error says it timed out');
is(sql("SELECT count(*) FROM ec.http_responses WHERE request_id = $id AND status IS NULL AND error ~* 'timed out'"),
	'2', 'both timed-out attempts are recorded');
reconfigure("ec.http_timeout_ms = 5000");

# ---- connection refused ----
$id = enqueue('GET', "http://127.0.0.1:$refused_port/nobody", max_attempts => 2, purpose => 'test_refused');
wait_finished($id, 'refused');
is(sql("SELECT state || ' ' || attempts FROM ec.http_requests WHERE id = $id"), 'failed 2',
	'connection refused is retried, then given up');
like(sql("SELECT last_error FROM ec.http_requests WHERE id = $id"), qr/connect/i, 'the error says so');
is(sql("SELECT count(*) FROM ec.pipeline_dlq WHERE ref_id = $id AND kind = 'test_refused'"), '1', 'dead letter');

# ---- oversized response: kept up to the cap, marked ----
$id = enqueue('GET', $server->url('/big/1000000'));
wait_finished($id, 'big');
is(sql("SELECT state FROM ec.http_requests WHERE id = $id"), 'succeeded', 'an oversized 200 still succeeds');
is(sql("SELECT length(body) || ' ' || body_truncated FROM ec.http_responses WHERE request_id = $id"),
	'65536 true', 'its body is cut at ec.http_max_response_bytes and marked truncated');

# ---- rollback means not sent ----
sql("BEGIN; SELECT ec.http_enqueue('GET', '" . $server->url('/ok/rolled-back') . "', NULL, NULL, 'test'); ROLLBACK;");
$id = enqueue('GET', $server->url('/ok/after-rollback'));
wait_finished($id, 'marker');
is(scalar(@{ $server->requests('/ok/rolled-back') }), 0, 'a rolled-back enqueue is never sent');

# ---- per-host limits (SIGHUP), and no head-of-line blocking ----
my $host2 = '127.0.0.1:' . $other->port;
reconfigure("ec.http_host_limits = '$host2=in_flight=3,10/s'");
sql("SELECT ec.http_enqueue('GET', '" . $other->url('/sleep/200/') . "' || g, NULL, NULL, 'test_limited')
	FROM generate_series(1, 30) g");
$node->poll_query_until('postgres',
	"SELECT count(*) >= 3 FROM ec.http_requests WHERE purpose = 'test_limited' AND attempts > 0")
  or die 'limited requests did not start';
$id = enqueue('GET', $server->url('/ok/other-host'));
wait_finished($id, 'other host');
is(sql("SELECT count(*) < 30 FROM ec.http_requests WHERE purpose = 'test_limited' AND finished_at IS NOT NULL"), 't',
	'a request to another host finishes while the limited host is still draining');
$node->poll_query_until('postgres',
	"SELECT count(*) = 30 FROM ec.http_requests WHERE purpose = 'test_limited' AND state = 'succeeded'")
  or die 'limited requests did not finish';
my @lim = @{ $other->requests('/sleep/200/') };
is(scalar(@lim), 30, 'all 30 limited requests arrived once');
my $max_conc = 0;
$max_conc = $_->{in_progress} > $max_conc ? $_->{in_progress} : $max_conc for @lim;
cmp_ok($max_conc, '<=', 3, "never more than 3 in flight to the limited host (saw $max_conc)");
my $max_rate = 0;
for my $a (@lim)
{
	my $n = grep { $_->{t} >= $a->{t} && $_->{t} < $a->{t} + 0.95 } @lim;
	$max_rate = $n if $n > $max_rate;
}
cmp_ok($max_rate, '<=', 10, "never more than 10 starts in a second (saw $max_rate)");
reconfigure("ec.http_host_limits = ''");

# ---- callbacks: once, in their own transaction, as the enqueuing role ----
sql(q{
CREATE TABLE public.cb_log (request_id bigint, run_as name, state text, status int);
CREATE FUNCTION public.on_done(id bigint) RETURNS void LANGUAGE sql AS $$
	INSERT INTO public.cb_log SELECT r.id, current_user, r.state::text, r.last_status FROM ec.http_requests r WHERE r.id = on_done.id
$$;
CREATE FUNCTION public.on_done_fails(id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'callback says no'; END $$;
CREATE ROLE cb_role LOGIN;
GRANT ec_service TO cb_role;
GRANT USAGE ON SCHEMA ec TO cb_role;
GRANT EXECUTE ON FUNCTION ec.http_enqueue(text, text, jsonb, bytea, text, text, integer, timestamptz, regproc) TO cb_role;
GRANT INSERT ON public.cb_log TO cb_role;
GRANT SELECT ON ec.http_requests TO cb_role;
});
$id = $node->safe_psql('postgres', "SELECT ec.http_enqueue('GET', '" . $server->url('/fail/1/503/cb') .
	"', NULL, NULL, 'test_cb', callback => 'public.on_done')", extra_params => [ '-U', 'cb_role' ]);
$node->poll_query_until('postgres', "SELECT NOT callback_pending AND finished_at IS NOT NULL FROM ec.http_requests WHERE id = $id")
  or die 'callback did not run';
is(sql("SELECT string_agg(request_id || ' ' || run_as || ' ' || state || ' ' || status, ',') FROM public.cb_log"),
	"$id cb_role succeeded 200", 'the callback ran once, after the last attempt, as the role that enqueued');
$id = enqueue('GET', $server->url('/ok/cb-fails'), callback => 'public.on_done_fails');
$node->poll_query_until('postgres', "SELECT callback_error IS NOT NULL FROM ec.http_requests WHERE id = $id")
  or die 'failing callback not recorded';
is(sql("SELECT state || ' ' || callback_pending || ' ' || callback_error FROM ec.http_requests WHERE id = $id"),
	'succeeded false callback says no', 'a failing callback is recorded and does not change the request');

# ---- a request queued while a callback waits for a lock is claimed next ----
# The commit sets the worker's latch while the callback waits for the lock,
# and that wait consumes it; the poll is an hour away, and no alarm (the
# deadlock check's, the callback's timeout) sets the latch again.  By the
# time the worker waits in its loop again, it has claimed the request.
reconfigure("deadlock_timeout = '1h'", "ec.http_callback_timeout_ms = 0");
sql(q{CREATE FUNCTION public.on_done_waits(id bigint) RETURNS void LANGUAGE sql AS $$ SELECT pg_advisory_xact_lock(4242) $$});
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('SELECT pg_advisory_lock(4242)');
$id = enqueue('GET', $server->url('/ok/cb-waits'), callback => 'public.on_done_waits');
$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'equity_connect http worker' AND wait_event = 'advisory'")
  or die 'the callback did not wait for the lock';
my $queued = enqueue('GET', $server->url('/ok/while-cb-waits'));
$blocker->query_safe('SELECT pg_advisory_unlock(4242)');
$blocker->quit;
$node->poll_query_until('postgres', "SELECT NOT callback_pending FROM ec.http_requests WHERE id = $id
	AND EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'equity_connect http worker' AND wait_event = 'Extension')")
  or die 'the callback did not end';
is(sql("SELECT state <> 'pending' FROM ec.http_requests WHERE id = $queued"), 't',
	'a request queued while a callback waited for a lock is claimed once the callback ends');
wait_finished($queued, 'queued during a callback');
is(sql("SELECT state || ' ' || (callback_error IS NULL) FROM ec.http_requests WHERE id = $id"), 'succeeded true',
	'and the callback completed');
reconfigure("deadlock_timeout = DEFAULT", "ec.http_callback_timeout_ms = DEFAULT");

# ---- API keys: attached when sent, never stored or logged ----
my $secret = 'sk_test_0123456789abcdefXYZ';
# as README.md says, a key is never part of a logged statement
sql("SET log_statement = 'none'; SELECT ec.add_key('api', 'instantly', convert_to('$secret', 'UTF8'))");
my $ids = sql(q{SELECT array_to_string(ec.instantly_add_leads('01964a2e-7b3c-7d41-a8f0-2c9e5d1b4a63',
	(SELECT jsonb_agg(jsonb_build_object('email', 'lead' || g || '@example.com', 'first_name', 'Lead ' || g,
		'lead_id', g, 'consent_link', 'https://c.example.com/' || g)) FROM generate_series(1, 1500) g)), ',')});
my @batch = split /,/, $ids;
is(scalar(@batch), 2, '1,500 leads make two add-leads requests');
wait_finished($_, 'instantly') for @batch;
my @inst = @{ $server->requests('/instantly/api/v2/leads/add') };
is(join(',', map { $_->{headers}{authorization} } @inst), "Bearer $secret,Bearer $secret",
	'Instantly gets the key from ec.keys as a bearer token, on every request');
like($inst[0]{body}, qr/"campaign_id": "01964a2e-7b3c-7d41-a8f0-2c9e5d1b4a63"/, 'and the add-leads body');
is(join(',', sort map { scalar(@{ JSON::PP::decode_json($_->{body})->{leads} }) } @inst), '1000,500',
	'at most 1,000 leads per request');
$id = sql(q{SELECT ec.vapi_create_call(7, 'asst', 'phone', '+19415553817')});
wait_finished($id, 'vapi without key');
like(sql("SELECT last_error FROM ec.http_requests WHERE id = $id"), qr/API key "vapi" is not in the key store/,
	'a missing key is an error of the request, retried and then given up');
is(scalar(@{ $server->requests('/vapi') }), 0, 'and nothing went out without it');
my $everything = sql("SELECT concat_ws(' ', (SELECT string_agg(r::text, ' ') FROM ec.http_requests r),
	(SELECT string_agg(s::text, ' ') FROM ec.http_responses s), (SELECT string_agg(d::text, ' ') FROM ec.pipeline_dlq d))");
unlike($everything, qr/\Q$secret\E/, 'the key is in no request, response or dead letter');
unlike(slurp_file($node->logfile), qr/\Q$secret\E/, 'nor in the server log');

# ---- a key in the body (Melissa's CustomerID), in place of its placeholder ----
my $mkey = 'mel-LICENSE-0123456789';
sql("SET log_statement = 'none'; SELECT ec.add_key('api', 'melissa', convert_to('$mkey', 'UTF8'))");
sql("SET log_statement = 'none'; SELECT ec.add_key('api', 'melbad', convert_to('quote\"in-0123456789abcdef', 'UTF8'))");
reconfigure("ec.http_api_key_urls = 'melissa=@{[ $server->url('/ok/melissa') ]}; melbad=@{[ $server->url('/ok/melbad') ]}'");
$id = enqueue('POST', $server->url('/ok/melissa/v3'),
	headers => '{"Content-Type": "application/json", "CustomerID": {"api_key": "melissa", "in_body": "{{key}}"}}',
	body => '{"CustomerID": "{{key}}", "Records": [{"RecordID": "1"}]}');
wait_finished($id, 'melissa');
my @mel = @{ $server->requests('/ok/melissa') };
is(scalar(@mel), 1, 'the request with a key in its body is sent');
is(JSON::PP::decode_json($mel[0]{body})->{CustomerID}, $mkey, 'with the key in place of the placeholder');
is($mel[0]{headers}{customerid}, undef, 'and not as a header');
like(sql("SELECT convert_from(body, 'UTF8') FROM ec.http_requests WHERE id = $id"), qr/"CustomerID": "\{\{key\}\}"/,
	'the stored body keeps the placeholder');
$id = enqueue('POST', $server->url('/ok/melbad/v3'),
	headers => '{"CustomerID": {"api_key": "melbad", "in_body": "{{key}}"}}', body => '{"CustomerID": "{{key}}"}');
wait_finished($id, 'melbad');
is(sql("SELECT state || ' ' || attempts || ' ' || last_error FROM ec.http_requests WHERE id = $id"),
	'failed 1 API key "melbad" cannot be put in a JSON body', 'a key that cannot stand in JSON is refused, not retried');
is(scalar(@{ $server->requests('/ok/melbad') }), 0, 'and nothing went out');
$everything = sql("SELECT concat_ws(' ', (SELECT string_agg(r::text, ' ') FROM ec.http_requests r),
	(SELECT string_agg(s::text, ' ') FROM ec.http_responses s), (SELECT string_agg(d::text, ' ') FROM ec.pipeline_dlq d))");
unlike($everything, qr/\Q$mkey\E/, 'the body key is in no request, response or dead letter');
unlike(slurp_file($node->logfile), qr/\Q$mkey\E/, 'nor in the server log');

# ---- broker webhook: signed as uploads are, verifiable with ec.check_request_signature ----
sql("SET log_statement = 'none'; SELECT ec.add_key('webhook_out', 'w1', convert_to('whsec_0123456789abcdef0123', 'UTF8'))");
sql("SET log_statement = 'none'; SELECT ec.add_key('request', 'r1', convert_to('whsec_0123456789abcdef0123', 'UTF8'))");
sql("INSERT INTO ec.brokers (id, name, webhook_url) VALUES (77, 'Hooked', '" . $server->url('/hook/77') . "')");
$id = sql(q{SELECT ec.notify_broker(77, 'lead.assigned', '{"lead_id": 5}')});
wait_finished($id, 'webhook');
my ($hook) = @{ $server->requests('/hook/77') };
like($hook->{headers}{'x-signature'}, qr/^v1=[0-9a-f]{64}$/, 'the webhook carries X-Signature v1');
my $hdrs = JSON::PP->new->canonical->encode({
	'X-Timestamp' => $hook->{headers}{'x-timestamp'},
	'X-Content-SHA256' => $hook->{headers}{'x-content-sha256'},
	'X-Signature' => $hook->{headers}{'x-signature'} });
(my $body_sql = $hook->{body}) =~ s/'/''/g;
is(sql("SELECT ec.check_request_signature(convert_to('$body_sql', 'UTF8'), '$hdrs') ->> 'status'"), '200',
	'and the signing scheme of uploads verifies it');

# ---- TLS: verified; a self-signed server fails until its CA is configured ----
my $tlsdir = tempdir(CLEANUP => 1);
system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', "$tlsdir/key.pem",
	'-out', "$tlsdir/cert.pem", '-days', '1', '-subj', '/CN=127.0.0.1',
	'-addext', 'subjectAltName=IP:127.0.0.1') == 0 or die 'openssl failed';
chmod 0644, "$tlsdir/cert.pem", "$tlsdir/key.pem";
my $tls = EcHttpServer->new(tls_cert => "$tlsdir/cert.pem", tls_key => "$tlsdir/key.pem");
$id = enqueue('GET', $tls->url('/ok/tls'), max_attempts => 1);
wait_finished($id, 'tls untrusted');
like(sql("SELECT state || ' ' || last_error FROM ec.http_requests WHERE id = $id"), qr/^failed .*certificate/i,
	'a server whose certificate does not verify is refused');
reconfigure("ec.http_ca_file = '$tlsdir/cert.pem'");
$id = enqueue('GET', $tls->url('/ok/tls'));
wait_finished($id, 'tls trusted');
is(sql("SELECT state FROM ec.http_requests WHERE id = $id"), 'succeeded', 'and accepted once its CA is trusted');
$tls->stop;

# ---- SIGTERM: in-flight requests go back to the queue, the worker returns ----
my $pid = sql("SELECT pid FROM ec.http_workers()");
sql("SELECT ec.http_enqueue('GET', '" . $server->url('/sleep/1500/term-') . "' || g, NULL, NULL, 'test_term')
	FROM generate_series(1, 5) g");
for (my $i = 0; $i < 1000 && @{ $server->requests('/sleep/1500/term-') } < 5; $i++)
{
	select(undef, undef, undef, 0.01);
}
is(scalar(@{ $server->requests('/sleep/1500/term-') }), 5, 'five slow requests are in flight');
sql("SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ec.http_workers() WHERE pid <> $pid")
  or die 'the worker did not come back';
$node->poll_query_until('postgres',
	"SELECT count(*) = 5 FROM ec.http_requests WHERE purpose = 'test_term' AND state = 'succeeded'")
  or die 'requeued requests did not finish';
like(slurp_file($node->logfile), qr/5 requests in flight were returned to the queue/,
	'SIGTERM returned the in-flight requests to the queue');
my %seen;
$seen{ $_->{key} }++ for @{ $server->requests('/sleep/1500/term-') };
is(scalar(grep { $_ == 2 } values %seen), 5, 'each was sent again, with the same key, after the restart');
is(sql("SELECT max(attempts) FROM ec.http_requests WHERE purpose = 'test_term'"), '1',
	'the interrupted attempt does not count');

# ---- SIGKILL: the postmaster restarts everything; nothing is lost ----
$pid = sql("SELECT pid FROM ec.http_workers()");
sql("SELECT ec.http_enqueue('GET', '" . $server->url('/sleep/1000/kill-') . "' || g, NULL, NULL, 'test_kill')
	FROM generate_series(1, 3) g");
for (my $i = 0; $i < 1000 && @{ $server->requests('/sleep/1000/kill-') } < 3; $i++)
{
	select(undef, undef, undef, 0.01);
}
# The worker commits its claims asynchronously: a checkpoint puts this one
# on disk, so that the crash cannot take it back and the rows are in flight
# when the worker starts again (not pending again, as after most crashes).
sql('CHECKPOINT');
kill 'KILL', $pid;
$node->poll_query_until('postgres',
	"SELECT count(*) = 3 FROM ec.http_requests WHERE purpose = 'test_kill' AND state = 'succeeded'")
  or die 'requests in flight at SIGKILL did not finish';
pass('after SIGKILL of the worker its in-flight requests are sent again and succeed');
like(slurp_file($node->logfile), qr/requeued 3 requests that were in flight/, 'the new worker requeued them');

# ---- requests left in flight are sent by the worker that requeues them ----
# What a crash leaves (rows in_flight, their attempt counted), requeued by
# the next worker with nothing else to wake it: the commits that queued the
# rows are long past, and a wait at its start (here for a lock; after a
# crash, as often for a buffer another process is reading) consumes the set
# latch every new process begins with.  Its first claim round must see what
# it requeued: the poll is an hour away, and so is the deadlock check's
# alarm, which would otherwise set the latch again a second later.
$pid = sql("SELECT pid FROM ec.http_workers()");
sql("ALTER DATABASE postgres SET deadlock_timeout = '1h'");
sql("SELECT ec.http_enqueue('GET', '" . $server->url('/ok/recover-') . "' || g, NULL, NULL, 'test_recover',
	not_before => now() + interval '1 day') FROM generate_series(1, 3) g");
sql("UPDATE ec.http_requests SET state = 'in_flight', attempts = 1, not_before = now() WHERE purpose = 'test_recover'");
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE ec.http_requests IN SHARE MODE');
sql("SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'equity_connect http worker' AND pid <> $pid AND wait_event_type = 'Lock'")
  or die 'the new worker did not wait for the lock';
$holder->query_safe('COMMIT');
$holder->quit;
sql("ALTER DATABASE postgres RESET deadlock_timeout");
my $recovered = 0;
for (my $i = 0; $i < 300 && !$recovered; $i++)
{
	$recovered = sql("SELECT count(*) = 3 FROM ec.http_requests WHERE purpose = 'test_recover' AND state = 'succeeded'") eq 't';
	select(undef, undef, undef, 0.1) unless $recovered;
}
ok($recovered, 'requests a crash left in flight are sent at once by the worker that requeues them');
is(scalar(@{ $server->requests('/ok/recover-') }), 3, 'each once');

# ---- nothing on a standby; the worker starts when it is promoted ----
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
sql("SELECT ec.http_enqueue('GET', '" . $server->url('/ok/standby') . "', NULL, NULL, 'test_standby',
	not_before => now() + interval '5 seconds')");
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT count(*) FROM ec.http_workers()"), '0', 'no HTTP worker on a standby');
is($standby->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'equity_connect http worker'"), '0',
	'nor any process of it');
$node->stop;
$standby->promote;
$standby->poll_query_until('postgres', "SELECT count(*) = 1 FROM ec.http_workers()")
  or die 'no worker after promotion';
$standby->poll_query_until('postgres',
	"SELECT state = 'succeeded' FROM ec.http_requests WHERE purpose = 'test_standby'")
  or die 'the promoted standby did not send';
is(scalar(@{ $server->requests('/ok/standby') }), 1, 'the promoted standby sends what was queued, once');
$standby->stop;

$server->stop;
$other->stop;
done_testing();
