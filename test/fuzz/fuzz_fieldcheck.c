/*
 * fuzz_fieldcheck.c - libFuzzer harness for src/core/fieldcheck.c
 *
 * Every checker reads the same input.  Beyond "no crash, no out-of-bounds
 * access" it checks that each canonical form is a fixed point (checking it
 * again gives it back) and has the documented shape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fieldcheck.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	char		e[EC_EMAIL_MAX + 1];
	char		e2[EC_EMAIL_MAX + 1];
	char		p[EC_PHONE_LEN + 1];
	char		p2[EC_PHONE_LEN + 1];
	char		z5[6],
				z4[5],
				st[3],
				st2[3];
	char		m[EC_MONEY_MAX + 1];
	char		m2[EC_MONEY_MAX + 1];
	char		dg[11];
	char		t[32];
	int64_t		v;
	bool		b,
				cut;
	int			y,
				mo,
				d;
	size_t		n;

	if (ec_field_email(s, size, e) == EC_FIELD_OK)
	{
		if (strlen(e) > EC_EMAIL_MAX || strchr(e, '@') == NULL ||
			ec_field_email(e, strlen(e), e2) != EC_FIELD_OK || strcmp(e, e2) != 0)
			abort();
	}
	if (ec_field_phone(s, size, p) == EC_FIELD_OK)
	{
		if (strlen(p) != EC_PHONE_LEN || p[0] != '+' || p[1] != '1' || p[2] < '2' || p[5] < '2' ||
			ec_field_phone(p, EC_PHONE_LEN, p2) != EC_FIELD_OK || strcmp(p, p2) != 0)
			abort();
	}
	if (ec_field_zip(s, size, z5, z4) == EC_FIELD_OK)
	{
		if (strlen(z5) != 5 || (strlen(z4) != 0 && strlen(z4) != 4))
			abort();
	}
	if (ec_field_state(s, size, st) == EC_FIELD_OK)
	{
		if (strlen(st) != 2 || ec_field_state(st, 2, st2) != EC_FIELD_OK || strcmp(st, st2) != 0)
			abort();
	}
	if (ec_field_money(s, size, m) == EC_FIELD_OK)
	{
		if (strlen(m) > EC_MONEY_MAX || ec_field_money(m, strlen(m), m2) != EC_FIELD_OK ||
			strcmp(m, m2) != 0)
			abort();
	}
	if (ec_field_int(s, size, -1000, 1000, &v) == EC_FIELD_OK && (v < -1000 || v > 1000))
		abort();
	(void) ec_field_bool(s, size, &b);
	if (ec_field_date(s, size, &y, &mo, &d) == EC_FIELD_OK &&
		(y < 1800 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31))
		abort();
	if (ec_field_digits(s, size, 10, dg) == EC_FIELD_OK && strlen(dg) != 10)
		abort();
	if (ec_field_digits(s, size, 5, dg) == EC_FIELD_OK && strlen(dg) != 5)
		abort();
	n = ec_field_text(s, size, t, sizeof(t), &cut);
	if (n >= sizeof(t) || t[n] != '\0')
		abort();
	return 0;
}
