# HTTP queue rows (issue 6), against a local nginx (two ports: one answers
# 200 at once, one after 3 s), each next to a baseline measured in the same
# run:
#   - drain rate of a 20,000-request backlog, against the same 20,000
#     requests sent by curl's own multi interface (curl --parallel), no
#     database; failures counted (none may fail for lack of sockets);
#   - commit-to-send latency on an idle queue (p50, p95), against the same
#     queue when only its 1 s poll finds the request (a row inserted without
#     the commit wake-up: what a polling queue pays);
#   - head-of-line: 2,000 fast requests alone, then with 50 that take 3 s
#     queued before them; the fast ones must finish within 1.2x.
# Each timing is the median of three runs.

HTTP_DIR=$BENCH_DIR/nginx
HTTP_FAST=$(ec_free_port 18080)
HTTP_SLOW=$(ec_free_port $((HTTP_FAST + 1)))
bench_http_stop() {
	[ -f "$HTTP_DIR/nginx.pid" ] && kill "$(cat "$HTTP_DIR/nginx.pid")" 2>/dev/null
	rm -f "$HTTP_DIR/nginx.pid"
}
trap 'bench_http_stop; bench_cleanup' EXIT

ec_as_user mkdir -p "$HTTP_DIR"
ec_as_user tee "$HTTP_DIR/nginx.conf" >/dev/null <<NGINX
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 1;
worker_rlimit_nofile 8192;
pid $HTTP_DIR/nginx.pid;
error_log $HTTP_DIR/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	keepalive_timeout 60s;
	client_body_temp_path $HTTP_DIR/body;
	proxy_temp_path $HTTP_DIR/proxy;
	fastcgi_temp_path $HTTP_DIR/fastcgi;
	uwsgi_temp_path $HTTP_DIR/uwsgi;
	scgi_temp_path $HTTP_DIR/scgi;
	server { listen 127.0.0.1:$HTTP_FAST backlog=4096; location / { return 200 '{"ok":true}'; } }
	server { listen 127.0.0.1:$HTTP_SLOW backlog=4096; location / { echo_sleep 3; echo '{"slow":true}'; } }
}
NGINX
ec_as_user /usr/sbin/nginx -q -c "$HTTP_DIR/nginx.conf" -p "$HTTP_DIR" || ec_die "nginx did not start"
FAST=http://127.0.0.1:$HTTP_FAST
SLOW=http://127.0.0.1:$HTTP_SLOW

# wait until the worker has applied a reload
http_reload() {
	local before
	before=$(bench_sql "SELECT coalesce(max(reloads), -1) FROM ec.http_workers()")
	bench_sql "SELECT pg_reload_conf()" >/dev/null
	for _ in $(seq 1 500); do
		[ "$(bench_sql "SELECT coalesce(max(reloads), -1) > $before FROM ec.http_workers()")" = t ] && return 0
		sleep 0.01
	done
	ec_die "the HTTP worker did not reload"
}
# wait until no request of a purpose is open
http_wait() {
	for _ in $(seq 1 12000); do
		[ "$(bench_sql "SELECT count(*) FROM ec.http_requests WHERE purpose = '$1' AND finished_at IS NULL")" = 0 ] && return 0
		sleep 0.02
	done
	ec_die "HTTP requests of $1 did not finish"
}
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

bench_sql "TRUNCATE ec.http_requests, ec.http_responses" >/dev/null
bench_sql "ALTER SYSTEM SET ec.http_host_max_in_flight = 256" >/dev/null
http_reload
# warm up: connections to both hosts, the worker's plans
bench_sql "SELECT ec.http_enqueue('GET', '$FAST/warm/' || g, NULL, NULL, 'bench_warm') FROM generate_series(1, 512) g" >/dev/null
http_wait bench_warm

# ---- drain rate: 20,000 queued in one transaction, timed from just before its commit ----
N=20000
http_drain() {
	local t0
	bench_sql "TRUNCATE ec.http_requests, ec.http_responses" >/dev/null
	t0=$(ec_psql "$BENCH_DB" -At <<SQL
BEGIN;
SELECT count(ec.http_enqueue('GET', '$FAST/ok/' || g, NULL, NULL, 'bench_drain')) FROM generate_series(1, $N) g \g /dev/null
SELECT clock_timestamp();
COMMIT;
SQL
)
	http_wait bench_drain
	bench_sql "SELECT round($N / extract(epoch FROM max(finished_at) - '$t0'::timestamptz))
		|| ' ' || count(*) FILTER (WHERE state <> 'succeeded')
		|| ' ' || coalesce(sum(attempts - 1), 0) FROM ec.http_requests WHERE purpose = 'bench_drain'"
}
R1=($(http_drain)); R2=($(http_drain)); R3=($(http_drain))
DRAIN=$(median3 "${R1[0]}" "${R2[0]}" "${R3[0]}")
FAILS=$(( R1[1] + R2[1] + R3[1] ))
RETRIES=$(( R1[2] + R2[2] + R3[2] ))
EMFILE=$(grep -c -i "too many open files\|EMFILE" "$BENCH_DIR/server.log" 2>/dev/null || true)

# baseline: the same URLs through curl --parallel (libcurl multi, 256 at once), no database
ec_as_user bash -c "for g in \$(seq 1 $N); do printf 'url = \"%s/ok/%s\"\noutput = \"/dev/null\"\n' '$FAST' \$g; done > '$HTTP_DIR/curl.cfg'"
curl_rate() {
	local t0 t1
	t0=$(date +%s.%N)
	ec_as_user curl -s --no-progress-meter --parallel --parallel-max 256 -K "$HTTP_DIR/curl.cfg" || ec_die "curl baseline failed"
	t1=$(date +%s.%N)
	awk -v n=$N -v a="$t0" -v b="$t1" 'BEGIN { printf "%d\n", n / (b - a) }'
}
C=$(median3 "$(curl_rate)" "$(curl_rate)" "$(curl_rate)")
bench_row "HTTP queue: drain 20,000 queued requests to local nginx" \
	"$DRAIN req/s ($FAILS failed, $RETRIES retried, $EMFILE fd errors; median of 3)" \
	"pg_net ~2,600 req/s tuned, ~200 default" ">= 6,000 req/s, none failing" \
	"$C req/s (curl --parallel, no database)" "$(ratio "$DRAIN" "$C")"

# ---- commit-to-send latency on an idle queue ----
bench_sql "TRUNCATE ec.http_requests, ec.http_responses; DROP TABLE IF EXISTS bench_http_lat;
	CREATE TABLE bench_http_lat (id bigint, committed_at timestamptz, woken boolean)" >/dev/null
{
	for i in $(seq 1 200); do
		echo "INSERT INTO bench_http_lat SELECT ec.http_enqueue('GET', '$FAST/lat/$i', NULL, NULL, 'bench_lat'), clock_timestamp(), true;"
		echo "SELECT pg_sleep(0.01);"
	done
} | ec_psql "$BENCH_DB" >/dev/null
http_wait bench_lat
# baseline: rows inserted directly (no commit wake-up): found by the worker's 1 s poll
{
	for i in $(seq 1 20); do
		echo "INSERT INTO ec.http_requests (method, url, host, purpose, idempotency_key)
			VALUES ('GET', '$FAST/poll/$i', ec.http_host('$FAST/'), 'bench_poll', 'bench-poll-$i');"
		echo "INSERT INTO bench_http_lat SELECT id, clock_timestamp(), false FROM ec.http_requests WHERE idempotency_key = 'bench-poll-$i';"
		echo "SELECT pg_sleep(0.3 + random() * 0.5);"
	done
} | ec_psql "$BENCH_DB" >/dev/null
http_wait bench_poll
LAT=($(bench_sql "SELECT string_agg(round(p::numeric, 2)::text, ' ' ORDER BY woken DESC, q) FROM (
	SELECT l.woken, q, percentile_cont(q) WITHIN GROUP (ORDER BY extract(epoch FROM s.started_at - l.committed_at) * 1000) AS p
	FROM bench_http_lat l JOIN ec.http_responses s ON s.request_id = l.id AND s.attempt = 1, unnest(ARRAY[0.5, 0.95]) q
	GROUP BY l.woken, q) x"))
bench_row "HTTP queue: commit-to-send latency, idle queue (p50 / p95)" \
	"${LAT[0]} / ${LAT[1]} ms (200 requests)" \
	"pg_net: up to its 1 s poll" "milliseconds" \
	"${LAT[2]} / ${LAT[3]} ms (same queue, found by its 1 s poll)" "$(ratio "${LAT[0]}" "${LAT[2]}" 4)"

# ---- head-of-line: 2,000 fast alone, then with 50 slow (3 s) queued first ----
http_fast_time() {
	local t0 slow=$1
	bench_sql "TRUNCATE ec.http_requests, ec.http_responses" >/dev/null
	t0=$(ec_psql "$BENCH_DB" -At <<SQL
BEGIN;
SELECT count(ec.http_enqueue('GET', '$SLOW/slow/' || g, NULL, NULL, 'bench_slow')) FROM generate_series(1, $slow) g \g /dev/null
SELECT count(ec.http_enqueue('GET', '$FAST/fast/' || g, NULL, NULL, 'bench_fast')) FROM generate_series(1, 2000) g \g /dev/null
SELECT clock_timestamp();
COMMIT;
SQL
)
	http_wait bench_fast
	bench_sql "SELECT round(extract(epoch FROM max(finished_at) - '$t0'::timestamptz) * 1000)
		FROM ec.http_requests WHERE purpose = 'bench_fast' AND state = 'succeeded' HAVING count(*) = 2000"
	http_wait bench_slow
}
bench_sql "ALTER SYSTEM RESET ec.http_host_max_in_flight" >/dev/null
http_reload
A1=$(http_fast_time 0); M1=$(http_fast_time 50)
A2=$(http_fast_time 0); M2=$(http_fast_time 50)
A3=$(http_fast_time 0); M3=$(http_fast_time 50)
ALONE=$(median3 "$A1" "$A2" "$A3")
MIXED=$(median3 "$M1" "$M2" "$M3")
bench_row "HTTP queue: 2,000 fast requests with 50 slow (3 s) queued first" \
	"$MIXED ms (median of 3)" "pg_net: a slow endpoint holds up its whole batch" "<= 1.2x the 2,000 alone" \
	"$ALONE ms (the 2,000 alone)" "$(ratio "$MIXED" "$ALONE")"

bench_sql "TRUNCATE ec.http_requests, ec.http_responses; DROP TABLE bench_http_lat" >/dev/null
bench_http_stop
trap bench_cleanup EXIT
