/*
 * jws.c - strict base64url and JWS compact HS256
 *
 * See jws.h.  Decoding is strict so that a token has one spelling: the
 * signature covers the base64url text, and a lenient decoder would let
 * two different texts carry the same claims.
 */
#include "core/jws.h"

#include <string.h>

static const char ec_b64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of each byte as a base64url character, or -1. */
static const signed char ec_b64url_table[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
};

/* Value of one base64url character, or -1. */
static inline int
ec_b64url_val(unsigned char c)
{
	return ec_b64url_table[c];
}

size_t
ec_b64url_encoded_len(size_t n)
{
	return (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t
ec_b64url_decoded_max(size_t n)
{
	return (n / 4) * 3 + (n % 4 <= 1 ? 0 : n % 4 - 1);
}

EcJwsStatus
ec_b64url_encode(const unsigned char *in, size_t len,
				 char *out, size_t cap, size_t *outlen)
{
	size_t		need = ec_b64url_encoded_len(len);
	size_t		i = 0;
	size_t		o = 0;

	if (need > cap)
		return EC_JWS_TOO_LONG;
	for (; i + 3 <= len; i += 3)
	{
		unsigned int v = ((unsigned int) in[i] << 16) |
		((unsigned int) in[i + 1] << 8) | in[i + 2];

		out[o++] = ec_b64url_alphabet[(v >> 18) & 63];
		out[o++] = ec_b64url_alphabet[(v >> 12) & 63];
		out[o++] = ec_b64url_alphabet[(v >> 6) & 63];
		out[o++] = ec_b64url_alphabet[v & 63];
	}
	if (len - i == 1)
	{
		unsigned int v = (unsigned int) in[i] << 16;

		out[o++] = ec_b64url_alphabet[(v >> 18) & 63];
		out[o++] = ec_b64url_alphabet[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		unsigned int v = ((unsigned int) in[i] << 16) | ((unsigned int) in[i + 1] << 8);

		out[o++] = ec_b64url_alphabet[(v >> 18) & 63];
		out[o++] = ec_b64url_alphabet[(v >> 12) & 63];
		out[o++] = ec_b64url_alphabet[(v >> 6) & 63];
	}
	*outlen = o;
	return EC_JWS_OK;
}

EcJwsStatus
ec_b64url_decode(const char *in, size_t len,
				 unsigned char *out, size_t cap, size_t *outlen)
{
	size_t		i = 0;
	size_t		o = 0;
	size_t		rest = len % 4;

	if (rest == 1)
		return EC_JWS_BAD_BASE64;
	if (ec_b64url_decoded_max(len) > cap)
		return EC_JWS_TOO_LONG;

	for (; i + 4 <= len; i += 4)
	{
		int			a = ec_b64url_val((unsigned char) in[i]);
		int			b = ec_b64url_val((unsigned char) in[i + 1]);
		int			c = ec_b64url_val((unsigned char) in[i + 2]);
		int			d = ec_b64url_val((unsigned char) in[i + 3]);
		unsigned int v;

		if ((a | b | c | d) < 0)
			return EC_JWS_BAD_BASE64;
		v = ((unsigned int) a << 18) | ((unsigned int) b << 12) |
			((unsigned int) c << 6) | (unsigned int) d;
		out[o++] = (unsigned char) (v >> 16);
		out[o++] = (unsigned char) (v >> 8);
		out[o++] = (unsigned char) v;
	}
	if (rest >= 2)
	{
		int			a = ec_b64url_val((unsigned char) in[i]);
		int			b = ec_b64url_val((unsigned char) in[i + 1]);
		int			c = rest == 3 ? ec_b64url_val((unsigned char) in[i + 2]) : 0;

		if ((a | b | c) < 0)
			return EC_JWS_BAD_BASE64;
		/* the bits past the last whole byte must be zero (canonical form) */
		if (rest == 2 && (b & 0x0f) != 0)
			return EC_JWS_BAD_BASE64;
		if (rest == 3 && (c & 0x03) != 0)
			return EC_JWS_BAD_BASE64;
		out[o++] = (unsigned char) ((a << 2) | (b >> 4));
		if (rest == 3)
			out[o++] = (unsigned char) (((b & 0x0f) << 4) | (c >> 2));
	}
	*outlen = o;
	return EC_JWS_OK;
}

/* True when every character of the segment is in the base64url alphabet. */
static bool
ec_b64url_segment_ok(const char *s, size_t len)
{
	size_t		i;

	if (len % 4 == 1)
		return false;
	for (i = 0; i < len; i++)
	{
		if (ec_b64url_val((unsigned char) s[i]) < 0)
			return false;
	}
	/* canonical trailing bits, as ec_b64url_decode demands */
	if (len % 4 == 2 && (ec_b64url_val((unsigned char) s[len - 1]) & 0x0f) != 0)
		return false;
	if (len % 4 == 3 && (ec_b64url_val((unsigned char) s[len - 1]) & 0x03) != 0)
		return false;
	return true;
}

EcJwsStatus
ec_jws_split(const char *token, size_t len, EcJwsParts *parts)
{
	const char *dot1;
	const char *dot2;
	const char *end;

	memset(parts, 0, sizeof(*parts));
	if (token == NULL || len == 0)
		return EC_JWS_MALFORMED;
	if (len > EC_JWS_MAX_TOKEN)
		return EC_JWS_TOO_LONG;
	end = token + len;

	dot1 = memchr(token, '.', len);
	if (dot1 == NULL)
		return EC_JWS_MALFORMED;
	dot2 = memchr(dot1 + 1, '.', (size_t) (end - dot1 - 1));
	if (dot2 == NULL)
		return EC_JWS_MALFORMED;
	if (memchr(dot2 + 1, '.', (size_t) (end - dot2 - 1)) != NULL)
		return EC_JWS_MALFORMED;	/* JWE (five segments) or junk */

	parts->header = token;
	parts->header_len = (size_t) (dot1 - token);
	parts->payload = dot1 + 1;
	parts->payload_len = (size_t) (dot2 - dot1 - 1);
	parts->signature = dot2 + 1;
	parts->signature_len = (size_t) (end - dot2 - 1);
	parts->signing_input_len = (size_t) (dot2 - token);

	if (parts->header_len == 0 || parts->payload_len == 0)
		return EC_JWS_MALFORMED;
	if (!ec_b64url_segment_ok(parts->header, parts->header_len) ||
		!ec_b64url_segment_ok(parts->payload, parts->payload_len) ||
		!ec_b64url_segment_ok(parts->signature, parts->signature_len))
		return EC_JWS_BAD_BASE64;
	return EC_JWS_OK;
}

EcJwsStatus
ec_jws_hs256_sign(const unsigned char *key, size_t keylen,
				  const char *signing_input, size_t len,
				  char sig_b64[EC_JWS_HS256_SIG_B64_LEN])
{
	unsigned char mac[EC_SHA256_LEN];
	const void *parts[1];
	size_t		lens[1];
	size_t		outlen;

	parts[0] = signing_input;
	lens[0] = len;
	if (ec_hmac_sha256(key, keylen, 1, parts, lens, mac) != 0)
		return EC_JWS_INTERNAL;
	return ec_b64url_encode(mac, sizeof(mac), sig_b64, EC_JWS_HS256_SIG_B64_LEN, &outlen);
}

EcJwsStatus
ec_jws_hs256_verify(const unsigned char *key, size_t keylen, const EcJwsParts *parts)
{
	unsigned char mac[EC_SHA256_LEN];
	unsigned char given[EC_SHA256_LEN];
	const void *in[1];
	size_t		lens[1];
	size_t		givenlen = 0;

	/* the length of a signature is public; only its bytes need hiding */
	if (parts->signature_len != EC_JWS_HS256_SIG_B64_LEN)
		return EC_JWS_BAD_SIGNATURE;
	if (ec_b64url_decode(parts->signature, parts->signature_len,
						 given, sizeof(given), &givenlen) != EC_JWS_OK ||
		givenlen != EC_SHA256_LEN)
		return EC_JWS_BAD_SIGNATURE;

	in[0] = parts->header;
	lens[0] = parts->signing_input_len;
	if (ec_hmac_sha256(key, keylen, 1, in, lens, mac) != 0)
		return EC_JWS_INTERNAL;
	return ec_ct_equal(mac, given, EC_SHA256_LEN) ? EC_JWS_OK : EC_JWS_BAD_SIGNATURE;
}

EcJwsStatus
ec_jws_hs256_encode(const unsigned char *key, size_t keylen,
					const char *header_json, size_t header_len,
					const char *payload_json, size_t payload_len,
					char *out, size_t cap, size_t *outlen)
{
	size_t		hlen;
	size_t		plen;
	size_t		need;
	EcJwsStatus st;

	need = ec_b64url_encoded_len(header_len) + 1 +
		ec_b64url_encoded_len(payload_len) + 1 + EC_JWS_HS256_SIG_B64_LEN;
	if (header_len > EC_JWS_MAX_TOKEN || payload_len > EC_JWS_MAX_TOKEN ||
		need > cap || need > EC_JWS_MAX_TOKEN)
		return EC_JWS_TOO_LONG;

	st = ec_b64url_encode((const unsigned char *) header_json, header_len, out, cap, &hlen);
	if (st != EC_JWS_OK)
		return st;
	out[hlen] = '.';
	st = ec_b64url_encode((const unsigned char *) payload_json, payload_len,
						  out + hlen + 1, cap - hlen - 1, &plen);
	if (st != EC_JWS_OK)
		return st;
	out[hlen + 1 + plen] = '.';
	st = ec_jws_hs256_sign(key, keylen, out, hlen + 1 + plen, out + hlen + 1 + plen + 1);
	if (st != EC_JWS_OK)
		return st;
	*outlen = need;
	return EC_JWS_OK;
}

const char *
ec_jws_status_name(EcJwsStatus status)
{
	switch (status)
	{
		case EC_JWS_OK:
			return "ok";
		case EC_JWS_MALFORMED:
			return "malformed";
		case EC_JWS_BAD_BASE64:
			return "bad base64url";
		case EC_JWS_TOO_LONG:
			return "too long";
		case EC_JWS_BAD_SIGNATURE:
			return "bad signature";
		case EC_JWS_INTERNAL:
			return "internal error";
	}
	return "unknown";
}
