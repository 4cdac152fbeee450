/*
 * fuzz_address.c - libFuzzer harness over the pure C address normalizer and
 * the APN/MAK rules.
 *
 * The input is split on '|' into line1, line2, city, state, zip, apn and
 * county.  Besides memory safety (ASan/UBSan), it checks:
 *	- normalization is idempotent: the canonical parts normalize to themselves;
 *	- canonical parts respect their documented limits and character rules;
 *	- the hash is SHA-256 of the one-line form;
 *	- an APN key, when produced, normalizes to itself.
 * A failed check aborts, so libFuzzer saves the input under regress/.
 */
#include "core/address.h"
#include "core/lead_keys.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#define NPARTS 7

static void
Fail(const char *what, const EcAddress *a, const EcAddress *b)
{
	fprintf(stderr, "fuzz_address: %s\n", what);
	if (a)
		fprintf(stderr, "  first:  [%s] [%s] [%s] [%s] [%s]\n",
				a->line, a->unit, a->city, a->state, a->zip5);
	if (b)
		fprintf(stderr, "  second: [%s] [%s] [%s] [%s] [%s]\n",
				b->line, b->unit, b->city, b->state, b->zip5);
	abort();
}

static void
CheckPart(const char *s, const EcAddress *a)
{
	size_t		len = strlen(s);

	if (len > EC_ADDR_FIELD_MAX)
		Fail("canonical part too long", a, NULL);
	if (len > 0 && (s[0] == ' ' || s[len - 1] == ' ' || strstr(s, "  ")))
		Fail("canonical part has stray spaces", a, NULL);
	if (strchr(s, ',') || strchr(s, '.') || strchr(s, '\t'))
		Fail("canonical part has punctuation", a, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p[NPARTS] = {0};
	size_t		n[NPARTS] = {0};
	size_t		i,
				k = 0,
				start = 0;
	EcAddress	a,
				b;
	EcAddrStatus st;

	for (i = 0; i <= size && k < NPARTS; i++)
	{
		if (i == size || data[i] == '|')
		{
			p[k] = (const char *) data + start;
			n[k] = i - start;
			k++;
			start = i + 1;
		}
	}

	st = EcAddressNormalize(p[0], n[0], p[1], n[1], p[2], n[2], p[3], n[3],
							p[4], n[4], &a);
	if (st == EC_ADDR_OK)
	{
		unsigned char h1[EC_ADDR_HASH_LEN],
					h2[EC_ADDR_HASH_LEN];
		char		one[EC_ADDR_ONELINE_MAX + 1];
		size_t		len;

		CheckPart(a.line, &a);
		CheckPart(a.unit, &a);
		CheckPart(a.city, &a);
		CheckPart(a.state, &a);
		if (a.line[0] == '\0')
			Fail("OK with an empty line", &a, NULL);
		if (a.zip5[0] && strlen(a.zip5) != 5)
			Fail("zip5 not five digits", &a, NULL);
		if (strchr(a.line, '#'))
			Fail("'#' left in the line", &a, NULL);

		st = EcAddressNormalize(a.line, strlen(a.line), a.unit, strlen(a.unit),
								a.city, strlen(a.city), a.state, strlen(a.state),
								a.zip5, strlen(a.zip5), &b);
		if (st != EC_ADDR_OK)
			Fail("canonical form does not normalize", &a, NULL);
		if (strcmp(a.line, b.line) || strcmp(a.unit, b.unit) ||
			strcmp(a.city, b.city) || strcmp(a.state, b.state) ||
			strcmp(a.zip5, b.zip5))
			Fail("not idempotent", &a, &b);

		len = EcAddressFormat(&a, one, sizeof(one));
		if (len != strlen(one))
			Fail("one-line form truncated", &a, NULL);
		if (EcAddressHash(&a, h1) == EC_ADDR_OK)
		{
			SHA256((const unsigned char *) one, len, h2);
			if (memcmp(h1, h2, sizeof(h1)) != 0)
				Fail("hash is not SHA-256 of the one-line form", &a, NULL);
		}
	}
	else if (st != EC_ADDR_EMPTY && st != EC_ADDR_TOO_LONG && st != EC_ADDR_BAD_UTF8)
		Fail("unexpected status", NULL, NULL);

	{
		char		key[EC_APN_KEY_MAX + 1],
					key2[EC_APN_KEY_MAX + 1],
					mak[EC_MAK_LEN + 1];

		if (EcApnNormalize(p[5], n[5], p[3], n[3], p[6], n[6], key) == EC_KEY_OK)
		{
			/* the key's APN part, rescoped to its own county, is unchanged */
			if (strlen(key) < 10 || key[2] != ':' || key[8] != ':')
				Fail("malformed APN key", NULL, NULL);
			if (EcApnNormalize(key + 9, strlen(key + 9), key, 2, key + 3, 5, key2) != EC_KEY_OK ||
				strcmp(key, key2) != 0)
				Fail("APN key not idempotent", NULL, NULL);
		}
		if (EcMakNormalize(p[5], n[5], mak) == EC_KEY_OK && strlen(mak) != EC_MAK_LEN)
			Fail("MAK not 10 digits", NULL, NULL);
	}
	return 0;
}
