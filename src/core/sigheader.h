/*
 * sigheader.h - the request-signing scheme's headers (pure C, no postgres.h)
 *
 * A signed request carries three headers (../shared/API.md):
 *
 *   X-Timestamp:      unix seconds, decimal digits
 *   X-Content-SHA256: lower-case hex SHA-256 of the raw body (64 chars)
 *   X-Signature:      v1=<hex>[,v1=<hex>...]
 *
 * where each <hex> is HMAC-SHA256(secret, "v1:" || X-Timestamp || ":" ||
 * X-Content-SHA256), over the header values as sent once optional
 * whitespace (spaces, tabs) around them is removed.
 *
 * X-Signature tolerates optional whitespace around elements and around "=",
 * and accepts signature hex in either case.  Elements of another scheme
 * ("v0=...", "v2=...") are skipped so a sender can add a future scheme
 * beside v1; at most EC_SIG_MAX_ELEMENTS elements are read, and a value
 * with more is malformed rather than truncated.
 */
#ifndef EC_SIGHEADER_H
#define EC_SIGHEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hmacsha256.h"

#define EC_SIG_MAX_ELEMENTS		8
#define EC_SIG_MAX_TS_DIGITS	18	/* fits int64 without overflow */
#define EC_SIG_MAX_SCHEME		16

typedef enum EcSigStatus
{
	EC_SIG_OK = 0,
	EC_SIG_EMPTY,				/* value empty or only whitespace */
	EC_SIG_MALFORMED,			/* syntax error */
	EC_SIG_TOO_MANY,			/* more than EC_SIG_MAX_ELEMENTS elements */
	EC_SIG_NO_V1,				/* well formed, but no v1 element */
	EC_SIG_INTERNAL				/* OpenSSL failed */
} EcSigStatus;

/* The v1 signatures of one X-Signature value. */
typedef struct EcSigSet
{
	int			count;
	unsigned char mac[EC_SIG_MAX_ELEMENTS][EC_SHA256_LEN];
} EcSigSet;

/*
 * X-Timestamp: 1 to EC_SIG_MAX_TS_DIGITS ASCII digits, no sign, no leading
 * zero (except "0"), optional whitespace around.  On success *ts is the
 * value and *tok / *toklen the digits (the text that is signed).
 */
extern EcSigStatus ec_sig_parse_timestamp(const char *s, size_t len, int64_t *ts,
										  const char **tok, size_t *toklen);

/*
 * X-Content-SHA256: exactly 64 lower-case hex digits, optional whitespace
 * around.  On success digest holds the 32 bytes and *tok points at the 64
 * digits.
 */
extern EcSigStatus ec_sig_parse_sha256(const char *s, size_t len,
									   unsigned char digest[EC_SHA256_LEN],
									   const char **tok);

/* X-Signature: fills set with the v1 signatures. */
extern EcSigStatus ec_sig_parse_signatures(const char *s, size_t len, EcSigSet *set);

/*
 * mac = HMAC-SHA256(key, "v1:" || ts || ":" || sha_hex), ts and sha_hex as
 * returned by the two parsers above.
 */
extern EcSigStatus ec_sig_compute(const unsigned char *key, size_t keylen,
								  const char *ts, size_t tslen,
								  const char *sha_hex, size_t sha_hexlen,
								  unsigned char mac[EC_SHA256_LEN]);

/*
 * True when mac equals any signature of set.  Every signature is compared,
 * in constant time, whether or not an earlier one matched.
 */
extern bool ec_sig_match(const EcSigSet *set, const unsigned char mac[EC_SHA256_LEN]);

/* Short English name of a status, for tests and messages. */
extern const char *ec_sig_status_name(EcSigStatus status);

#endif							/* EC_SIGHEADER_H */
