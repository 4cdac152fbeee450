/*
 * httppolicy.c - retry verdicts, backoff, Retry-After, per-host limits
 *
 * Pure C (see httppolicy.h): no allocation, no postgres.h.
 */
#include "core/httppolicy.h"

#include <limits.h>
#include <string.h>

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

EcHttpVerdict
ec_http_verdict(int status, bool transport_retryable, int attempt, int max_attempts)
{
	bool		retry;

	if (status >= 200 && status <= 299)
		return EC_HTTP_SUCCEEDED;
	if (status == 0)
		retry = transport_retryable;
	else
		retry = status == 408 || status == 429 || (status >= 500 && status <= 599);
	if (!retry || attempt >= max_attempts)
		return EC_HTTP_GIVE_UP;
	return EC_HTTP_RETRY;
}

int64_t
ec_http_backoff(int attempt, int64_t base, int64_t max, uint64_t rnd)
{
	int64_t		delay = base;
	int64_t		half;

	if (base <= 0 || max <= 0)
		return 0;
	if (attempt < 1)
		attempt = 1;
	for (int i = 1; i < attempt && delay < max; i++)
		delay = (delay > max / 2) ? max : delay * 2;
	if (delay > max)
		delay = max;
	half = delay / 2;
	return delay - half + (int64_t) (rnd % (uint64_t) (half + 1));
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n digits at s into *v; false unless all are digits. */
static bool
digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++)
	{
		if (!is_digit(s[i]))
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* IMF-fixdate, exactly 29 characters: "Sun, 06 Nov 1994 08:49:37 GMT". */
static bool
parse_imf_fixdate(const char *s, size_t len, int64_t *unix_secs)
{
	static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			day,
				mon = -1,
				year,
				hh,
				mm,
				ss;
	bool		known_day = false;

	if (len != 29)
		return false;
	for (int i = 0; i < 7; i++)
		if (memcmp(s, days[i], 3) == 0)
			known_day = true;
	if (!known_day || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' ||
		memcmp(s + 26, "GMT", 3) != 0)
		return false;
	for (int i = 0; i < 12; i++)
		if (memcmp(s + 8, months[i], 3) == 0)
			mon = i;
	if (mon < 0 ||
		!digits(s + 5, 2, &day) || !digits(s + 12, 4, &year) ||
		!digits(s + 17, 2, &hh) || !digits(s + 20, 2, &mm) || !digits(s + 23, 2, &ss))
		return false;
	if (day < 1 || day > mdays[mon] || hh > 23 || mm > 59 || ss > 60)
		return false;
	*unix_secs = days_from_civil(year, mon + 1, day) * 86400 + hh * 3600 + mm * 60 + ss;
	return true;
}

bool
ec_http_parse_retry_after(const char *s, size_t len, int64_t now_unix,
						  int64_t max, int64_t *delay)
{
	size_t		b = 0,
				e = len;
	int64_t		secs = 0;
	int64_t		at;
	bool		all_digits = true;

	if (s == NULL)
		return false;
	while (b < e && is_space(s[b]))
		b++;
	while (e > b && (is_space(s[e - 1]) || s[e - 1] == '\r' || s[e - 1] == '\n'))
		e--;
	if (b == e)
		return false;
	for (size_t i = b; i < e; i++)
		if (!is_digit(s[i]))
			all_digits = false;
	if (all_digits)
	{
		for (size_t i = b; i < e; i++)
		{
			secs = secs * 10 + (s[i] - '0');
			if (secs > INT64_MAX / EC_USECS_PER_SEC / 10)
			{
				*delay = max;
				return true;
			}
		}
	}
	else
	{
		if (!parse_imf_fixdate(s + b, e - b, &at))
			return false;
		secs = at > now_unix ? at - now_unix : 0;
		if (secs > INT64_MAX / EC_USECS_PER_SEC / 10)
		{
			*delay = max;
			return true;
		}
	}
	*delay = secs * EC_USECS_PER_SEC;
	if (*delay > max)
		*delay = max;
	return true;
}

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
	{
		strncpy(err, msg, errlen - 1);
		err[errlen - 1] = '\0';
	}
}

/* A positive decimal number up to EC_RATE_MAX at *p; advances *p. */
static bool
parse_count(const char **p, const char *end, int *v)
{
	const char *q = *p;
	long		n = 0;

	if (q >= end || !is_digit(*q))
		return false;
	while (q < end && is_digit(*q))
	{
		n = n * 10 + (*q - '0');
		if (n > EC_RATE_MAX)
			return false;
		q++;
	}
	if (n == 0)
		return false;
	*v = (int) n;
	*p = q;
	return true;
}

static bool
host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
		c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
}

/* One "host = items" entry in [p, end). */
static bool
parse_entry(const char *p, const char *end, EcHostLimit *lim, char *err, size_t errlen)
{
	size_t		hl = 0;
	int			items = 0;

	memset(lim, 0, sizeof(*lim));
	while (p < end && is_space(*p))
		p++;
	while (p < end && host_char(*p))
	{
		if (hl >= EC_HOST_MAX_LEN)
		{
			set_err(err, errlen, "host name too long");
			return false;
		}
		lim->host[hl++] = lower(*p++);
	}
	lim->host[hl] = '\0';
	if (hl == 0)
	{
		set_err(err, errlen, "expected a host name");
		return false;
	}
	while (p < end && is_space(*p))
		p++;
	if (p >= end || *p != '=')
	{
		set_err(err, errlen, "expected \"=\" after the host name");
		return false;
	}
	p++;
	for (;;)
	{
		int			v;

		while (p < end && (is_space(*p) || *p == ','))
			p++;
		if (p >= end)
			break;
		if ((size_t) (end - p) >= 10 && memcmp(p, "in_flight=", 10) == 0)
		{
			p += 10;
			if (!parse_count(&p, end, &v))
			{
				set_err(err, errlen, "in_flight needs a number from 1 to 100000");
				return false;
			}
			lim->in_flight = v;
		}
		else if (parse_count(&p, end, &v))
		{
			if ((size_t) (end - p) >= 4 && memcmp(p, "/min", 4) == 0)
			{
				p += 4;
				lim->per_minute = v;
			}
			else if ((size_t) (end - p) >= 2 && memcmp(p, "/s", 2) == 0)
			{
				p += 2;
				lim->per_second = v;
			}
			else
			{
				set_err(err, errlen, "a rate must end in \"/s\" or \"/min\"");
				return false;
			}
		}
		else
		{
			set_err(err, errlen, "expected \"N/s\", \"N/min\" or \"in_flight=N\" (N from 1 to 100000)");
			return false;
		}
		if (p < end && !is_space(*p) && *p != ',')
		{
			set_err(err, errlen, "unexpected character after a limit");
			return false;
		}
		items++;
	}
	if (items == 0)
	{
		set_err(err, errlen, "a host needs at least one limit");
		return false;
	}
	return true;
}

bool
ec_http_parse_host_limits(const char *s, EcHostLimit *out, int max, int *n,
						  char *err, size_t errlen)
{
	const char *p = s;

	*n = 0;
	if (s == NULL)
		return true;
	while (*p != '\0')
	{
		const char *e = strchr(p, ';');
		const char *q;
		bool		blank = true;

		if (e == NULL)
			e = p + strlen(p);
		for (q = p; q < e; q++)
			if (!is_space(*q))
				blank = false;
		if (!blank)
		{
			if (*n >= max)
			{
				set_err(err, errlen, "too many hosts");
				return false;
			}
			if (!parse_entry(p, e, &out[*n], err, errlen))
				return false;
			for (int i = 0; i < *n; i++)
				if (strcmp(out[i].host, out[*n].host) == 0)
				{
					set_err(err, errlen, "a host is listed twice");
					return false;
				}
			(*n)++;
		}
		p = (*e == ';') ? e + 1 : e;
	}
	return true;
}

int
ec_rate_ring_size(int per_second, int per_minute)
{
	int			n = per_second > per_minute ? per_second : per_minute;

	return n > 0 ? n : 0;
}

void
ec_rate_init(EcRateWindow *w, int per_second, int per_minute, int64_t *ring, int ring_size)
{
	w->per_second = per_second > 0 ? per_second : 0;
	w->per_minute = per_minute > 0 ? per_minute : 0;
	w->ring = ring;
	w->ring_size = ring_size;
	w->head = 0;
	w->count = 0;
}

/* The i-th most recent start (0 = newest); i < count. */
static int64_t
recent(const EcRateWindow *w, int i)
{
	int			k = w->head - 1 - i;

	while (k < 0)
		k += w->ring_size;
	return w->ring[k];
}

/* Starts among the newest `limit` that are later than since. */
static int
count_since(const EcRateWindow *w, int limit, int64_t since)
{
	int			lo = 0,
				hi = limit < w->count ? limit : w->count;

	/* recent(i) decreases with i: find the first i with recent(i) <= since */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (recent(w, mid) > since)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
ec_rate_available(const EcRateWindow *w, int64_t now)
{
	int			avail = INT32_MAX;

	if (w->per_second > 0)
	{
		int			a = w->per_second - count_since(w, w->per_second, now - EC_USECS_PER_SEC);

		if (a < avail)
			avail = a;
	}
	if (w->per_minute > 0)
	{
		int			a = w->per_minute - count_since(w, w->per_minute, now - 60 * EC_USECS_PER_SEC);

		if (a < avail)
			avail = a;
	}
	return avail < 0 ? 0 : avail;
}

void
ec_rate_record(EcRateWindow *w, int64_t now)
{
	if (w->ring_size <= 0)
		return;
	w->ring[w->head] = now;
	w->head = (w->head + 1) % w->ring_size;
	if (w->count < w->ring_size)
		w->count++;
}

int64_t
ec_rate_next(const EcRateWindow *w, int64_t now)
{
	int64_t		t = now;

	if (w->per_second > 0 && w->count >= w->per_second)
	{
		int64_t		free_at = recent(w, w->per_second - 1) + EC_USECS_PER_SEC;

		if (free_at > t)
			t = free_at;
	}
	if (w->per_minute > 0 && w->count >= w->per_minute)
	{
		int64_t		free_at = recent(w, w->per_minute - 1) + 60 * EC_USECS_PER_SEC;

		if (free_at > t)
			t = free_at;
	}
	return t;
}
