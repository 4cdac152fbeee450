/*
 * fuzz_sigheader.c - libFuzzer harness for src/core/sigheader.c
 *
 * The input is split at the first two NUL bytes into X-Timestamp,
 * X-Content-SHA256 and X-Signature values (each parsed with its length, not
 * as a C string).  Beyond "no crash, no out-of-bounds read" it checks that
 * an accepted value obeys the parser's contract and that a signature the
 * core computes is found again after a round trip through the header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sigheader.h"

static const unsigned char fuzz_key[] = "fuzz-secret";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *) data;
	const char *end = p + size;
	const char *f[3];
	size_t		flen[3];
	int			i;
	int64_t		ts = 0;
	const char *tstok = NULL;
	size_t		tslen = 0;
	unsigned char digest[EC_SHA256_LEN];
	const char *shatok = NULL;
	EcSigSet	set;
	EcSigStatus st_ts;
	EcSigStatus st_sha;
	EcSigStatus st_sig;

	for (i = 0; i < 3; i++)
	{
		const char *nul = i < 2 ? memchr(p, '\0', (size_t) (end - p)) : NULL;

		f[i] = p;
		flen[i] = nul ? (size_t) (nul - p) : (size_t) (end - p);
		p = nul ? nul + 1 : end;
	}

	st_ts = ec_sig_parse_timestamp(f[0], flen[0], &ts, &tstok, &tslen);
	if (st_ts == EC_SIG_OK)
	{
		if (ts < 0 || tslen == 0 || tslen > EC_SIG_MAX_TS_DIGITS ||
			tstok < f[0] || tstok + tslen > f[0] + flen[0])
			abort();
	}

	st_sha = ec_sig_parse_sha256(f[1], flen[1], digest, &shatok);
	if (st_sha == EC_SIG_OK && (shatok < f[1] || shatok + EC_SHA256_HEX_LEN > f[1] + flen[1]))
		abort();

	st_sig = ec_sig_parse_signatures(f[2], flen[2], &set);
	if (set.count < 0 || set.count > EC_SIG_MAX_ELEMENTS)
		abort();
	if (st_sig == EC_SIG_OK && set.count == 0)
		abort();

	if (st_ts == EC_SIG_OK && st_sha == EC_SIG_OK)
	{
		unsigned char mac[EC_SHA256_LEN];
		char		hdr[3 + 2 * EC_SHA256_LEN];
		EcSigSet	again;

		if (ec_sig_compute(fuzz_key, sizeof(fuzz_key) - 1, tstok, tslen,
						   shatok, EC_SHA256_HEX_LEN, mac) != EC_SIG_OK)
			abort();
		if (st_sig == EC_SIG_OK)
			(void) ec_sig_match(&set, mac);

		/* what we would send must parse back and match */
		memcpy(hdr, "v1=", 3);
		ec_hex_encode(mac, sizeof(mac), hdr + 3);
		if (ec_sig_parse_signatures(hdr, sizeof(hdr), &again) != EC_SIG_OK ||
			again.count != 1 || !ec_sig_match(&again, mac))
			abort();
	}
	return 0;
}
