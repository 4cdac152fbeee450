/*
 * jws.h - JWS compact serialization with HS256 (RFC 7515, RFC 7518)
 *
 * Pure C, no postgres.h.  Strict base64url (RFC 4648 section 5) without
 * padding and with zero trailing bits, so every byte string has exactly one
 * accepted spelling; splitting a compact token into its three segments;
 * HS256 signing and constant-time verification.  The header and payload
 * JSON are not parsed here: the SQL layer hands the decoded bytes to
 * PostgreSQL's own JSON parser and checks "alg", "kid" and "exp" there.
 */
#ifndef EC_JWS_H
#define EC_JWS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/hmacsha256.h"

/* A consent token is a few hundred bytes; anything far longer is refused. */
#define EC_JWS_MAX_TOKEN	4096
/* base64url of a 32-byte HS256 signature */
#define EC_JWS_HS256_SIG_B64_LEN	43

typedef enum EcJwsStatus
{
	EC_JWS_OK = 0,
	EC_JWS_MALFORMED,			/* not header.payload.signature */
	EC_JWS_BAD_BASE64,			/* a segment is not strict base64url */
	EC_JWS_TOO_LONG,			/* input over the limit, or output buffer too small */
	EC_JWS_BAD_SIGNATURE,		/* HS256 signature does not match */
	EC_JWS_INTERNAL				/* OpenSSL failed */
} EcJwsStatus;

/* The three segments of a compact token, as base64url text inside it. */
typedef struct EcJwsParts
{
	const char *header;
	size_t		header_len;
	const char *payload;
	size_t		payload_len;
	const char *signature;
	size_t		signature_len;
	/* header "." payload: starts at header, this long */
	size_t		signing_input_len;
} EcJwsParts;

/* Length of the unpadded base64url text of n bytes. */
extern size_t ec_b64url_encoded_len(size_t n);

/* Upper bound of the decoded length of n base64url characters. */
extern size_t ec_b64url_decoded_max(size_t n);

/*
 * Encode len bytes into out (no padding, no terminator).  EC_JWS_TOO_LONG
 * when cap is smaller than ec_b64url_encoded_len(len).
 */
extern EcJwsStatus ec_b64url_encode(const unsigned char *in, size_t len,
									char *out, size_t cap, size_t *outlen);

/*
 * Decode strict base64url: alphabet A-Z a-z 0-9 - _, no '=', no
 * whitespace, length mod 4 not 1, unused trailing bits zero.
 */
extern EcJwsStatus ec_b64url_decode(const char *in, size_t len,
									unsigned char *out, size_t cap, size_t *outlen);

/*
 * Split a compact token: exactly two dots, a non-empty header and payload,
 * a signature that may be empty (as in an "alg":"none" token, which the
 * caller refuses by its header), every segment strict base64url, and the
 * whole at most EC_JWS_MAX_TOKEN bytes.
 */
extern EcJwsStatus ec_jws_split(const char *token, size_t len, EcJwsParts *parts);

/* The HS256 signature of signing_input, as 43 base64url chars in sig_b64. */
extern EcJwsStatus ec_jws_hs256_sign(const unsigned char *key, size_t keylen,
									 const char *signing_input, size_t len,
									 char sig_b64[EC_JWS_HS256_SIG_B64_LEN]);

/*
 * Check the signature segment of a split token against HMAC-SHA256(key,
 * header "." payload), comparing in constant time.
 */
extern EcJwsStatus ec_jws_hs256_verify(const unsigned char *key, size_t keylen,
									   const EcJwsParts *parts);

/*
 * Build b64url(header_json) "." b64url(payload_json) "." b64url(HS256) into
 * out (no terminator).
 */
extern EcJwsStatus ec_jws_hs256_encode(const unsigned char *key, size_t keylen,
									   const char *header_json, size_t header_len,
									   const char *payload_json, size_t payload_len,
									   char *out, size_t cap, size_t *outlen);

/* Short English name of a status, for tests and messages. */
extern const char *ec_jws_status_name(EcJwsStatus status);

#endif							/* EC_JWS_H */
