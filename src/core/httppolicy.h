/*
 * httppolicy.h - the outbound HTTP queue's rules (pure C, no postgres.h)
 *
 * What to do with the outcome of an attempt (succeeded, retry, give up),
 * how long to wait before the next one (exponential backoff with jitter,
 * or the server's Retry-After), the per-host limits setting
 * (ec.http_host_limits) and a sliding-window rate limiter.  The worker
 * (src/http/) turns these decisions into table rows and curl handles.
 *
 * Times are int64 microseconds on any monotonic or wall clock the caller
 * chooses, as long as it is the same clock for one limiter.
 */
#ifndef EC_HTTPPOLICY_H
#define EC_HTTPPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EC_USECS_PER_SEC	INT64_C(1000000)

/* What becomes of a request after one attempt. */
typedef enum EcHttpVerdict
{
	EC_HTTP_SUCCEEDED = 0,		/* 2xx */
	EC_HTTP_RETRY,				/* network error, timeout, 408, 429, 5xx */
	EC_HTTP_GIVE_UP				/* any other status, or a permanent error */
} EcHttpVerdict;

/*
 * Classify one attempt.  status is the HTTP status, or 0 when no response
 * arrived (transport_error says whether that error is worth retrying).
 * attempt counts from 1; after max_attempts a retry becomes a give-up.
 */
extern EcHttpVerdict ec_http_verdict(int status, bool transport_retryable,
									 int attempt, int max_attempts);

/*
 * Backoff before attempt + 1 after attempt failed: base * 2^(attempt-1),
 * capped at max, with "equal jitter" (half fixed, half random from rnd).
 * All in microseconds; never negative, never above max.
 */
extern int64_t ec_http_backoff(int attempt, int64_t base, int64_t max, uint64_t rnd);

/*
 * Retry-After (RFC 9110 10.2.3): delay-seconds, or an IMF-fixdate such as
 * "Sun, 06 Nov 1994 08:49:37 GMT", optional whitespace around.  now_unix
 * is the current time in unix seconds.  On success *delay is the wait in
 * microseconds (0 for a date in the past), capped at max.  Returns false
 * when the value is neither form.
 */
extern bool ec_http_parse_retry_after(const char *s, size_t len, int64_t now_unix,
									  int64_t max, int64_t *delay);

/* Limits of one host (0 = no limit of that kind). */
#define EC_HOST_MAX_LEN		255
#define EC_RATE_MAX			100000	/* largest N of N/s or N/min */

typedef struct EcHostLimit
{
	char		host[EC_HOST_MAX_LEN + 1];	/* lower case, "name" or "name:port" */
	int			per_second;
	int			per_minute;
	int			in_flight;
} EcHostLimit;

/*
 * Parse ec.http_host_limits: entries separated by ';', each
 *     host[:port] = item [, item ...]
 * where an item is "N/s", "N/min" or "in_flight=N" (whitespace allowed
 * around tokens; items may also be separated by whitespace).  Fills up to
 * max entries; *n is how many.  On error returns false and writes a short
 * English reason into err.
 */
extern bool ec_http_parse_host_limits(const char *s, EcHostLimit *out, int max, int *n,
									  char *err, size_t errlen);

/*
 * A sliding-window limiter: at most per_second starts in any window of
 * one second and at most per_minute in any window of one minute.  It
 * remembers the last max(per_second, per_minute) start times in a ring the
 * caller provides (ring_size entries).
 */
typedef struct EcRateWindow
{
	int			per_second;
	int			per_minute;
	int64_t    *ring;			/* start times, oldest at tail */
	int			ring_size;
	int			head;			/* next slot to write */
	int			count;			/* valid entries (<= ring_size) */
} EcRateWindow;

/* Entries the ring needs for these limits. */
extern int	ec_rate_ring_size(int per_second, int per_minute);

extern void ec_rate_init(EcRateWindow *w, int per_second, int per_minute,
						 int64_t *ring, int ring_size);

/* How many starts are allowed at time now (INT32_MAX when unlimited). */
extern int	ec_rate_available(const EcRateWindow *w, int64_t now);

/* Record one start at time now (non-decreasing). */
extern void ec_rate_record(EcRateWindow *w, int64_t now);

/* Earliest time at which one more start is allowed (<= now if allowed). */
extern int64_t ec_rate_next(const EcRateWindow *w, int64_t now);

#endif							/* EC_HTTPPOLICY_H */
