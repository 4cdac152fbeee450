/*
 * sigheader.c - parse and check the request-signing headers
 *
 * See sigheader.h for the scheme.  Every parser takes a buffer and a
 * length (the values need not be NUL-terminated), reads nothing outside
 * it, and returns a status code.
 */
#include "core/sigheader.h"

#include <string.h>

#define EC_SIG_SCHEME_V1	"v1"

/* Optional whitespace of HTTP (RFC 9110 OWS): space and horizontal tab. */
static inline bool
ec_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Narrow [*s, *s + *len) by the whitespace at both ends. */
static inline void
ec_trim(const char **s, size_t *len)
{
	while (*len > 0 && ec_is_ows((*s)[0]))
	{
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ec_is_ows((*s)[*len - 1]))
		(*len)--;
}

EcSigStatus
ec_sig_parse_timestamp(const char *s, size_t len, int64_t *ts,
					   const char **tok, size_t *toklen)
{
	int64_t		v = 0;
	size_t		i;

	if (s == NULL)
		return EC_SIG_EMPTY;
	ec_trim(&s, &len);
	if (len == 0)
		return EC_SIG_EMPTY;
	if (len > EC_SIG_MAX_TS_DIGITS)
		return EC_SIG_MALFORMED;
	if (s[0] == '0' && len > 1)
		return EC_SIG_MALFORMED;
	for (i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return EC_SIG_MALFORMED;
		v = v * 10 + (s[i] - '0');
	}
	*ts = v;
	*tok = s;
	*toklen = len;
	return EC_SIG_OK;
}

EcSigStatus
ec_sig_parse_sha256(const char *s, size_t len,
					unsigned char digest[EC_SHA256_LEN], const char **tok)
{
	size_t		i;

	if (s == NULL)
		return EC_SIG_EMPTY;
	ec_trim(&s, &len);
	if (len == 0)
		return EC_SIG_EMPTY;
	if (len != EC_SHA256_HEX_LEN)
		return EC_SIG_MALFORMED;
	/* lower-case only: the digits are signed as sent, so one spelling */
	for (i = 0; i < len; i++)
	{
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return EC_SIG_MALFORMED;
	}
	if (!ec_hex_decode(s, len, digest, EC_SHA256_LEN))
		return EC_SIG_MALFORMED;
	*tok = s;
	return EC_SIG_OK;
}

/* A scheme name: a lower-case letter, then lower-case letters or digits. */
static bool
ec_sig_valid_scheme(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || len > EC_SIG_MAX_SCHEME || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (i = 1; i < len; i++)
	{
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	}
	return true;
}

/* A value of an unknown scheme: printable ASCII other than ',' and OWS. */
static bool
ec_sig_valid_other_value(const char *s, size_t len)
{
	size_t		i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
	{
		if (s[i] <= ' ' || s[i] > '~' || s[i] == ',')
			return false;
	}
	return true;
}

EcSigStatus
ec_sig_parse_signatures(const char *s, size_t len, EcSigSet *set)
{
	size_t		pos = 0;
	int			elements = 0;

	set->count = 0;
	if (s == NULL)
		return EC_SIG_EMPTY;
	ec_trim(&s, &len);
	if (len == 0)
		return EC_SIG_EMPTY;

	for (;;)
	{
		const char *elem = s + pos;
		size_t		elen = 0;
		const char *eq;
		const char *name;
		size_t		namelen;
		const char *val;
		size_t		vallen;

		/* one element runs up to the next comma or the end */
		while (pos + elen < len && s[pos + elen] != ',')
			elen++;

		if (++elements > EC_SIG_MAX_ELEMENTS)
			return EC_SIG_TOO_MANY;

		eq = memchr(elem, '=', elen);
		if (eq == NULL)
			return EC_SIG_MALFORMED;
		name = elem;
		namelen = (size_t) (eq - elem);
		val = eq + 1;
		vallen = elen - namelen - 1;
		ec_trim(&name, &namelen);
		ec_trim(&val, &vallen);
		if (!ec_sig_valid_scheme(name, namelen))
			return EC_SIG_MALFORMED;

		if (namelen == strlen(EC_SIG_SCHEME_V1) &&
			memcmp(name, EC_SIG_SCHEME_V1, namelen) == 0)
		{
			if (!ec_hex_decode(val, vallen, set->mac[set->count], EC_SHA256_LEN))
				return EC_SIG_MALFORMED;
			set->count++;
		}
		else if (!ec_sig_valid_other_value(val, vallen))
			return EC_SIG_MALFORMED;

		pos += elen;
		if (pos == len)
			break;
		pos++;					/* the comma: an element (with "=") must follow */
	}

	return set->count > 0 ? EC_SIG_OK : EC_SIG_NO_V1;
}

EcSigStatus
ec_sig_compute(const unsigned char *key, size_t keylen,
			   const char *ts, size_t tslen,
			   const char *sha_hex, size_t sha_hexlen,
			   unsigned char mac[EC_SHA256_LEN])
{
	const void *parts[4];
	size_t		lens[4];

	parts[0] = "v1:";
	lens[0] = 3;
	parts[1] = ts;
	lens[1] = tslen;
	parts[2] = ":";
	lens[2] = 1;
	parts[3] = sha_hex;
	lens[3] = sha_hexlen;
	if (ec_hmac_sha256(key, keylen, 4, parts, lens, mac) != 0)
		return EC_SIG_INTERNAL;
	return EC_SIG_OK;
}

bool
ec_sig_match(const EcSigSet *set, const unsigned char mac[EC_SHA256_LEN])
{
	int			matched = 0;
	int			i;

	for (i = 0; i < set->count; i++)
		matched |= ec_ct_equal(set->mac[i], mac, EC_SHA256_LEN);
	return matched != 0;
}

const char *
ec_sig_status_name(EcSigStatus status)
{
	switch (status)
	{
		case EC_SIG_OK:
			return "ok";
		case EC_SIG_EMPTY:
			return "empty";
		case EC_SIG_MALFORMED:
			return "malformed";
		case EC_SIG_TOO_MANY:
			return "too many signatures";
		case EC_SIG_NO_V1:
			return "no v1 signature";
		case EC_SIG_INTERNAL:
			return "internal error";
	}
	return "unknown";
}
