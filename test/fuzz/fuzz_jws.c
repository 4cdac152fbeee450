/*
 * fuzz_jws.c - libFuzzer harness for src/core/jws.c
 *
 * Splits the input as a compact token and verifies it; decodes each
 * segment; and checks that strict base64url round-trips: whatever decodes
 * re-encodes to the same text, and any bytes encode to text that decodes
 * back to them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jws.h"

static const unsigned char fuzz_key[] = "fuzz-secret";

static void
roundtrip_text(const char *s, size_t len)
{
	unsigned char dec[EC_JWS_MAX_TOKEN];
	char		enc[EC_JWS_MAX_TOKEN + 4];
	size_t		n = 0;
	size_t		m = 0;

	if (ec_b64url_decode(s, len, dec, sizeof(dec), &n) != EC_JWS_OK)
		return;
	if (n != ec_b64url_decoded_max(len))
		abort();
	/* canonical: the decoded bytes have exactly this spelling */
	if (ec_b64url_encode(dec, n, enc, sizeof(enc), &m) != EC_JWS_OK ||
		m != len || memcmp(enc, s, len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *tok = (const char *) data;
	EcJwsParts	parts;
	EcJwsStatus st;

	st = ec_jws_split(tok, size, &parts);
	if (st == EC_JWS_OK)
	{
		if (parts.header_len == 0 || parts.payload_len == 0 ||
			parts.header_len + 1 + parts.payload_len + 1 + parts.signature_len != size ||
			parts.signing_input_len != parts.header_len + 1 + parts.payload_len)
			abort();
		/* a split segment always decodes */
		{
			unsigned char buf[EC_JWS_MAX_TOKEN];
			size_t		n;

			if (ec_b64url_decode(parts.header, parts.header_len, buf, sizeof(buf), &n) != EC_JWS_OK ||
				ec_b64url_decode(parts.payload, parts.payload_len, buf, sizeof(buf), &n) != EC_JWS_OK ||
				ec_b64url_decode(parts.signature, parts.signature_len, buf, sizeof(buf), &n) != EC_JWS_OK)
				abort();
		}
		st = ec_jws_hs256_verify(fuzz_key, sizeof(fuzz_key) - 1, &parts);
		if (st != EC_JWS_OK && st != EC_JWS_BAD_SIGNATURE)
			abort();
	}

	if (size <= EC_JWS_MAX_TOKEN)
	{
		char		enc[EC_JWS_MAX_TOKEN * 2];
		unsigned char dec[EC_JWS_MAX_TOKEN];
		size_t		m = 0;
		size_t		n = 0;

		roundtrip_text(tok, size);

		/* bytes -> text -> bytes */
		if (ec_b64url_encode(data, size, enc, sizeof(enc), &m) != EC_JWS_OK ||
			ec_b64url_decode(enc, m, dec, sizeof(dec), &n) != EC_JWS_OK ||
			n != size || memcmp(dec, data, size) != 0)
			abort();
	}

	/* a token we build from the input halves verifies with our key only */
	if (size < 1024)
	{
		char		out[EC_JWS_MAX_TOKEN];
		size_t		outlen = 0;
		size_t		half = size / 2;

		if (ec_jws_hs256_encode(fuzz_key, sizeof(fuzz_key) - 1,
								tok, half, tok + half, size - half,
								out, sizeof(out), &outlen) == EC_JWS_OK)
		{
			if (half > 0 && size - half > 0)
			{
				if (ec_jws_split(out, outlen, &parts) != EC_JWS_OK ||
					ec_jws_hs256_verify(fuzz_key, sizeof(fuzz_key) - 1, &parts) != EC_JWS_OK ||
					ec_jws_hs256_verify((const unsigned char *) "other", 5, &parts) != EC_JWS_BAD_SIGNATURE)
					abort();
			}
		}
		else
			abort();
	}
	return 0;
}
