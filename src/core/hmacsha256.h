/*
 * hmacsha256.h - SHA-256, HMAC-SHA256, hex and constant-time comparison
 *
 * Pure C over OpenSSL's EVP digests (no postgres.h).  Shared by the
 * request-signature checks (sigheader.c) and the JWS code (jws.c).
 *
 * The digest is fetched once and one digest context is kept for the life of
 * the process, so a call allocates nothing after the first one; the
 * one-shot HMAC() of OpenSSL 3 fetches on every call and is several times
 * slower for short messages.  Not thread-safe (a backend is one thread).
 */
#ifndef EC_HMACSHA256_H
#define EC_HMACSHA256_H

#include <stdbool.h>
#include <stddef.h>

#define EC_SHA256_LEN		32
#define EC_SHA256_HEX_LEN	64
#define EC_SHA256_BLOCK		64

/* Returns 0 on success, -1 when OpenSSL fails (out of memory). */
extern int	ec_sha256(const void *data, size_t len, unsigned char out[EC_SHA256_LEN]);

/*
 * HMAC-SHA256 (RFC 2104) of the concatenation of nparts buffers.
 * Returns 0 on success, -1 when OpenSSL fails.
 */
extern int	ec_hmac_sha256(const unsigned char *key, size_t keylen,
						   int nparts, const void *const *parts, const size_t *lens,
						   unsigned char out[EC_SHA256_LEN]);

/* Lower-case hex of len bytes into out (2 * len chars, no terminator). */
extern void ec_hex_encode(const unsigned char *in, size_t len, char *out);

/*
 * Decode exactly 2 * outlen hex digits (either case) into out.
 * Returns false on any other character; out is then undefined.
 */
extern bool ec_hex_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen);

/* True when the len bytes are equal; time depends only on len. */
extern bool ec_ct_equal(const void *a, const void *b, size_t len);

#endif							/* EC_HMACSHA256_H */
