/*
 * fuzz_http_policy.c - libFuzzer harness for src/core/httppolicy.c
 *
 * The input is read three ways: as an ec.http_host_limits value (a C
 * string), as a Retry-After value (with its length), and as a sequence of
 * rate-limiter steps.  Beyond "no crash, no out-of-bounds access" it
 * checks the parsers' contracts: host names are lower case and non-empty,
 * every limit is in range, a delay is never negative nor above the cap,
 * and the limiter never allows more starts than its limits in a window.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/httppolicy.h"

#define MAX_HOSTS 8

static void
check_limits(const char *s)
{
	EcHostLimit lim[MAX_HOSTS];
	int			n = 0;
	char		err[128];

	if (!ec_http_parse_host_limits(s, lim, MAX_HOSTS, &n, err, sizeof(err)))
	{
		if (err[0] == '\0')
			abort();
		return;
	}
	if (n < 0 || n > MAX_HOSTS)
		abort();
	for (int i = 0; i < n; i++)
	{
		if (lim[i].host[0] == '\0')
			abort();
		for (const char *c = lim[i].host; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
		if (lim[i].per_second < 0 || lim[i].per_second > EC_RATE_MAX ||
			lim[i].per_minute < 0 || lim[i].per_minute > EC_RATE_MAX ||
			lim[i].in_flight < 0 || lim[i].in_flight > EC_RATE_MAX)
			abort();
		if (lim[i].per_second == 0 && lim[i].per_minute == 0 && lim[i].in_flight == 0)
			abort();
	}
}

static void
check_retry_after(const char *s, size_t len)
{
	int64_t		max = 3600 * EC_USECS_PER_SEC;
	int64_t		d = -1;

	if (ec_http_parse_retry_after(s, len, 1700000000, max, &d) && (d < 0 || d > max))
		abort();
}

/* Each byte: low 6 bits = microseconds/16384 to advance, bit 7 = try a start. */
static void
check_rate(const uint8_t *data, size_t size)
{
	int64_t		ring[6];
	int64_t		starts[4096];
	int			nstarts = 0;
	EcRateWindow w;
	int64_t		now = 0;

	ec_rate_init(&w, 3, 6, ring, ec_rate_ring_size(3, 6));
	for (size_t i = 0; i < size && nstarts < 4096; i++)
	{
		now += (int64_t) (data[i] & 0x3f) * 16384;
		if (data[i] & 0x80)
		{
			int			a = ec_rate_available(&w, now);
			int			in1 = 0,
						in60 = 0;

			if (ec_rate_next(&w, now) > now && a > 0)
				abort();
			if (a <= 0)
				continue;
			ec_rate_record(&w, now);
			starts[nstarts++] = now;
			for (int k = 0; k < nstarts; k++)
			{
				if (starts[k] > now - EC_USECS_PER_SEC)
					in1++;
				if (starts[k] > now - 60 * EC_USECS_PER_SEC)
					in60++;
			}
			if (in1 > 3 || in60 > 6)
				abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_limits(s);
	check_retry_after(s, size);
	check_rate(data, size);
	free(s);
	return 0;
}
