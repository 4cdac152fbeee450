/*
 * test_http_policy.c - unit tests of src/core/httppolicy.c
 *
 * Retry verdicts (2xx, 408/429/5xx retried, other 4xx not, max attempts),
 * backoff bounds and growth, Retry-After in both forms and malformed,
 * the ec.http_host_limits grammar, and the sliding-window limiter at the
 * edges of its windows.
 */
#include "unit.h"

#include "core/httppolicy.h"

#define SEC EC_USECS_PER_SEC

static void
test_verdict(void)
{
	CHECK(ec_http_verdict(200, false, 1, 8) == EC_HTTP_SUCCEEDED);
	CHECK(ec_http_verdict(204, false, 8, 8) == EC_HTTP_SUCCEEDED);
	CHECK(ec_http_verdict(500, false, 1, 8) == EC_HTTP_RETRY);
	CHECK(ec_http_verdict(503, false, 7, 8) == EC_HTTP_RETRY);
	CHECK(ec_http_verdict(503, false, 8, 8) == EC_HTTP_GIVE_UP);
	CHECK(ec_http_verdict(429, false, 1, 8) == EC_HTTP_RETRY);
	CHECK(ec_http_verdict(408, false, 1, 8) == EC_HTTP_RETRY);
	CHECK(ec_http_verdict(400, false, 1, 8) == EC_HTTP_GIVE_UP);
	CHECK(ec_http_verdict(401, false, 1, 8) == EC_HTTP_GIVE_UP);
	CHECK(ec_http_verdict(404, false, 1, 8) == EC_HTTP_GIVE_UP);
	CHECK(ec_http_verdict(409, false, 1, 8) == EC_HTTP_GIVE_UP);
	CHECK(ec_http_verdict(422, false, 1, 8) == EC_HTTP_GIVE_UP);
	CHECK(ec_http_verdict(301, false, 1, 8) == EC_HTTP_GIVE_UP);
	CHECK(ec_http_verdict(0, true, 1, 8) == EC_HTTP_RETRY);
	CHECK(ec_http_verdict(0, true, 1, 1) == EC_HTTP_GIVE_UP);
	CHECK(ec_http_verdict(0, false, 1, 8) == EC_HTTP_GIVE_UP);
	CHECK(ec_http_verdict(600, false, 1, 8) == EC_HTTP_GIVE_UP);
}

static void
test_backoff(void)
{
	int64_t		base = 1000 * 1000;	/* 1 s */
	int64_t		max = 60 * SEC;

	/* attempt 1: between base/2 and base */
	for (uint64_t r = 0; r < 2000; r += 7)
	{
		int64_t		d = ec_http_backoff(1, base, max, r * 2654435761u);

		CHECK(d >= base / 2 && d <= base);
	}
	/* attempt 4: between 4 s and 8 s */
	CHECK(ec_http_backoff(4, base, max, 0) == 4 * SEC);
	CHECK(ec_http_backoff(4, base, max, 4 * SEC) == 8 * SEC);
	/* capped, also for absurd attempt numbers, never overflows */
	CHECK(ec_http_backoff(40, base, max, UINT64_MAX) <= max);
	CHECK(ec_http_backoff(40, base, max, 0) >= max / 2);
	CHECK(ec_http_backoff(1000000, INT64_MAX / 2, INT64_MAX, 12345) > 0);
	CHECK(ec_http_backoff(0, base, max, 0) == base / 2);
	CHECK(ec_http_backoff(3, 0, max, 99) == 0);
}

static void
test_retry_after(void)
{
	int64_t		d = -1;
	int64_t		max = 3600 * SEC;
	int64_t		now = 784111777;	/* Sun, 06 Nov 1994 08:49:37 GMT */

	CHECK(ec_http_parse_retry_after("120", 3, now, max, &d) && d == 120 * SEC);
	CHECK(ec_http_parse_retry_after(" 0 ", 3, now, max, &d) && d == 0);
	CHECK(ec_http_parse_retry_after("1\r\n", 3, now, max, &d) && d == SEC);
	CHECK(ec_http_parse_retry_after("999999999999999999999999", 24, now, max, &d) && d == max);
	CHECK(ec_http_parse_retry_after("7200", 4, now, max, &d) && d == max);
	CHECK(ec_http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 29, now, max, &d) && d == 0);
	CHECK(ec_http_parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", 29, now, max, &d) && d == 30 * SEC);
	CHECK(ec_http_parse_retry_after("Sun, 06 Nov 1994 08:49:07 GMT", 29, now, max, &d) && d == 0);
	CHECK(ec_http_parse_retry_after("Wed, 29 Feb 2012 00:00:00 GMT", 29, 1330473600 - 5, max, &d) && d == 5 * SEC);
	CHECK(!ec_http_parse_retry_after("", 0, now, max, &d));
	CHECK(!ec_http_parse_retry_after("  ", 2, now, max, &d));
	CHECK(!ec_http_parse_retry_after("-5", 2, now, max, &d));
	CHECK(!ec_http_parse_retry_after("1.5", 3, now, max, &d));
	CHECK(!ec_http_parse_retry_after("soon", 4, now, max, &d));
	CHECK(!ec_http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", 29, now, max, &d));
	CHECK(!ec_http_parse_retry_after("Sun, 31 Nov 1994 08:49:37 GMT", 29, now, max, &d));
	CHECK(!ec_http_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 30, now, max, &d));
	CHECK(!ec_http_parse_retry_after(NULL, 0, now, max, &d));
}

static void
test_host_limits(void)
{
	EcHostLimit lim[4];
	int			n = -1;
	char		err[128];

	CHECK(ec_http_parse_host_limits("", lim, 4, &n, err, sizeof(err)) && n == 0);
	CHECK(ec_http_parse_host_limits(" ; ;", lim, 4, &n, err, sizeof(err)) && n == 0);
	CHECK(ec_http_parse_host_limits("API.Instantly.ai = 100/s, 6000/min", lim, 4, &n, err, sizeof(err)) && n == 1);
	CHECK_STR(lim[0].host, "api.instantly.ai");
	CHECK(lim[0].per_second == 100 && lim[0].per_minute == 6000 && lim[0].in_flight == 0);
	CHECK(ec_http_parse_host_limits("127.0.0.1:8080=in_flight=2 10/s; hooks.example.com=in_flight=4;",
									lim, 4, &n, err, sizeof(err)) && n == 2);
	CHECK_STR(lim[0].host, "127.0.0.1:8080");
	CHECK(lim[0].in_flight == 2 && lim[0].per_second == 10 && lim[0].per_minute == 0);
	CHECK_STR(lim[1].host, "hooks.example.com");
	CHECK(lim[1].in_flight == 4);
	CHECK(ec_http_parse_host_limits("[::1]:9000=5/s", lim, 4, &n, err, sizeof(err)) && n == 1);
	CHECK_STR(lim[0].host, "[::1]:9000");

	CHECK(!ec_http_parse_host_limits("api.instantly.ai", lim, 4, &n, err, sizeof(err)));
	CHECK_STR(err, "expected \"=\" after the host name");
	CHECK(!ec_http_parse_host_limits("a=", lim, 4, &n, err, sizeof(err)));
	CHECK_STR(err, "a host needs at least one limit");
	CHECK(!ec_http_parse_host_limits("a=100", lim, 4, &n, err, sizeof(err)));
	CHECK_STR(err, "a rate must end in \"/s\" or \"/min\"");
	CHECK(!ec_http_parse_host_limits("a=100/h", lim, 4, &n, err, sizeof(err)));
	CHECK(!ec_http_parse_host_limits("a=0/s", lim, 4, &n, err, sizeof(err)));
	CHECK(!ec_http_parse_host_limits("a=100001/s", lim, 4, &n, err, sizeof(err)));
	CHECK(!ec_http_parse_host_limits("a=in_flight=", lim, 4, &n, err, sizeof(err)));
	CHECK(!ec_http_parse_host_limits("a=in_flight=x", lim, 4, &n, err, sizeof(err)));
	CHECK(!ec_http_parse_host_limits("a=10/sec", lim, 4, &n, err, sizeof(err)));
	CHECK_STR(err, "unexpected character after a limit");
	CHECK(!ec_http_parse_host_limits("=10/s", lim, 4, &n, err, sizeof(err)));
	CHECK_STR(err, "expected a host name");
	CHECK(!ec_http_parse_host_limits("a/b=10/s", lim, 4, &n, err, sizeof(err)));
	CHECK(!ec_http_parse_host_limits("a=1/s;A=2/s", lim, 4, &n, err, sizeof(err)));
	CHECK_STR(err, "a host is listed twice");
	CHECK(!ec_http_parse_host_limits("a=1/s;b=1/s;c=1/s;d=1/s;e=1/s", lim, 4, &n, err, sizeof(err)));
	CHECK_STR(err, "too many hosts");
}

static void
test_rate_window(void)
{
	EcRateWindow w;
	int64_t		ring[16];
	int64_t		t = 1000 * SEC;

	/* 3/s, 5/min */
	CHECK(ec_rate_ring_size(3, 5) == 5);
	CHECK(ec_rate_ring_size(0, 0) == 0);
	ec_rate_init(&w, 3, 5, ring, 5);
	CHECK(ec_rate_available(&w, t) == 3);
	CHECK(ec_rate_next(&w, t) == t);
	ec_rate_record(&w, t);
	ec_rate_record(&w, t + 10);
	CHECK(ec_rate_available(&w, t + 20) == 1);
	ec_rate_record(&w, t + 20);
	CHECK(ec_rate_available(&w, t + 30) == 0);
	/* the first start leaves the one-second window exactly 1 s later */
	CHECK(ec_rate_next(&w, t + 30) == t + SEC);
	CHECK(ec_rate_available(&w, t + SEC - 1) == 0);
	CHECK(ec_rate_available(&w, t + SEC) == 1);
	ec_rate_record(&w, t + SEC);
	ec_rate_record(&w, t + SEC + 20);
	/* five starts in the minute: the minute limit now binds */
	CHECK(ec_rate_available(&w, t + 3 * SEC) == 0);
	CHECK(ec_rate_next(&w, t + 3 * SEC) == t + 60 * SEC);
	CHECK(ec_rate_available(&w, t + 60 * SEC) == 1);
	CHECK(ec_rate_available(&w, t + 62 * SEC) == 3);

	/* unlimited */
	ec_rate_init(&w, 0, 0, NULL, 0);
	ec_rate_record(&w, t);
	CHECK(ec_rate_available(&w, t) == INT32_MAX);
	CHECK(ec_rate_next(&w, t) == t);

	/* per second only, many starts wrap the ring */
	ec_rate_init(&w, 4, 0, ring, 4);
	for (int i = 0; i < 40; i++)
	{
		int64_t		now = t + i * (SEC / 4);

		CHECK(ec_rate_available(&w, now) >= 1);
		ec_rate_record(&w, now);
	}
	CHECK(ec_rate_available(&w, t + 39 * (SEC / 4)) == 0);
}

int
main(void)
{
	test_verdict();
	test_backoff();
	test_retry_after();
	test_host_limits();
	test_rate_window();
	UNIT_DONE();
}
