/*
 * hmacsha256.c - SHA-256, HMAC-SHA256, hex and constant-time comparison
 *
 * See hmacsha256.h.  HMAC is written out over the digest (RFC 2104):
 * H((K ^ opad) || H((K ^ ipad) || m)), with K hashed first when longer
 * than the 64-byte block.
 */
#include "core/hmacsha256.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static EVP_MD *ec_md = NULL;
static EVP_MD_CTX *ec_mdctx = NULL;

/* Fetch SHA-256 and make the shared context on first use. */
static int
ec_digest_ready(void)
{
	if (ec_md == NULL)
	{
		ec_md = EVP_MD_fetch(NULL, "SHA256", NULL);
		if (ec_md == NULL)
			return -1;
	}
	if (ec_mdctx == NULL)
	{
		ec_mdctx = EVP_MD_CTX_new();
		if (ec_mdctx == NULL)
			return -1;
	}
	return 0;
}

int
ec_sha256(const void *data, size_t len, unsigned char out[EC_SHA256_LEN])
{
	unsigned int outlen = 0;

	if (ec_digest_ready() != 0)
		return -1;
	if (EVP_DigestInit_ex(ec_mdctx, ec_md, NULL) != 1 ||
		EVP_DigestUpdate(ec_mdctx, data, len) != 1 ||
		EVP_DigestFinal_ex(ec_mdctx, out, &outlen) != 1 ||
		outlen != EC_SHA256_LEN)
		return -1;
	return 0;
}

int
ec_hmac_sha256(const unsigned char *key, size_t keylen,
			   int nparts, const void *const *parts, const size_t *lens,
			   unsigned char out[EC_SHA256_LEN])
{
	unsigned char kblock[EC_SHA256_BLOCK];
	unsigned char pad[EC_SHA256_BLOCK];
	unsigned char inner[EC_SHA256_LEN];
	unsigned int outlen = 0;
	int			rc = -1;
	int			i;

	if (ec_digest_ready() != 0)
		return -1;

	memset(kblock, 0, sizeof(kblock));
	if (keylen > EC_SHA256_BLOCK)
	{
		if (ec_sha256(key, keylen, kblock) != 0)
			goto done;
	}
	else if (keylen > 0)
		memcpy(kblock, key, keylen);

	for (i = 0; i < EC_SHA256_BLOCK; i++)
		pad[i] = kblock[i] ^ 0x36;
	if (EVP_DigestInit_ex(ec_mdctx, ec_md, NULL) != 1 ||
		EVP_DigestUpdate(ec_mdctx, pad, sizeof(pad)) != 1)
		goto done;
	for (i = 0; i < nparts; i++)
	{
		if (lens[i] > 0 && EVP_DigestUpdate(ec_mdctx, parts[i], lens[i]) != 1)
			goto done;
	}
	if (EVP_DigestFinal_ex(ec_mdctx, inner, &outlen) != 1 || outlen != EC_SHA256_LEN)
		goto done;

	for (i = 0; i < EC_SHA256_BLOCK; i++)
		pad[i] = kblock[i] ^ 0x5c;
	if (EVP_DigestInit_ex(ec_mdctx, ec_md, NULL) != 1 ||
		EVP_DigestUpdate(ec_mdctx, pad, sizeof(pad)) != 1 ||
		EVP_DigestUpdate(ec_mdctx, inner, sizeof(inner)) != 1 ||
		EVP_DigestFinal_ex(ec_mdctx, out, &outlen) != 1 || outlen != EC_SHA256_LEN)
		goto done;
	rc = 0;

done:
	/* the key block and pads are key material: do not leave them on the stack */
	OPENSSL_cleanse(kblock, sizeof(kblock));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	return rc;
}

void
ec_hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t		i;

	for (i = 0; i < len; i++)
	{
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
}

/* Value of each byte as a hex digit, or -1. */
static const signed char ec_hexval[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1, -1, -1, -1, -1,
	-1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
};

bool
ec_hex_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen)
{
	size_t		i;

	if (inlen != 2 * outlen)
		return false;
	for (i = 0; i < outlen; i++)
	{
		int			hi = ec_hexval[(unsigned char) in[2 * i]];
		int			lo = ec_hexval[(unsigned char) in[2 * i + 1]];

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char) ((hi << 4) | lo);
	}
	return true;
}

bool
ec_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
