/*-------------------------------------------------------------------------
 *
 * checks.c
 *		The value checks of ec.leads and ec.pipeline_events that were regular
 *		expressions in their CHECK constraints, as C functions giving the
 *		same answers.
 *
 * A CHECK constraint is evaluated for every row written, updates included,
 * and a regular expression match cost about 3,500 instructions a value
 * (six of them on a lead); these cost a few dozen.  The patterns:
 *
 *	ec.is_email			^[^@\s]+@[^@\s]+$
 *	ec.is_us_phone		^\+1[2-9][0-9]{2}[2-9][0-9]{6}$
 *	ec.is_state_code	^[A-Z]{2}$
 *	ec.is_digits5		^[0-9]{5}$
 *	ec.is_digits10		^[0-9]{10}$
 *	ec.is_snake_name	^[a-z][a-z0-9_]*$
 *
 * Every class but the email's matches ASCII only, so bytes are compared.
 * What \s matches outside printable ASCII depends on the locale, so an
 * email with a control character or a non-ASCII one is matched by the
 * regular expression itself: the answer is the constraint's, always.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "utils/builtins.h"

#define EMAIL_PATTERN "^[^@\\s]+@[^@\\s]+$"

static inline bool
IsDigitRange(const char *s, int len, int from, int to)
{
	int			i;

	for (i = from; i < to && i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

PG_FUNCTION_INFO_V1(ec_is_email);

/* Whether a text is one '@' between two runs without '@' or white space. */
Datum
ec_is_email(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	int			i,
				at = -1;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c >= 0x7f)
		{
			Oid			coll = PG_GET_COLLATION();

			return DirectFunctionCall2Coll(textregexeq,
										   OidIsValid(coll) ? coll : DEFAULT_COLLATION_OID,
										   PointerGetDatum(t),
										   CStringGetTextDatum(EMAIL_PATTERN));
		}
		if (c == ' ')
			PG_RETURN_BOOL(false);
		if (c == '@')
		{
			if (at >= 0)
				PG_RETURN_BOOL(false);
			at = i;
		}
	}
	PG_RETURN_BOOL(at > 0 && at < len - 1);
}

PG_FUNCTION_INFO_V1(ec_is_us_phone);

/* Whether a text is a North American number in E.164: +1NXXNXXXXXX. */
Datum
ec_is_us_phone(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);

	PG_RETURN_BOOL(len == 12 && s[0] == '+' && s[1] == '1' &&
				   s[2] >= '2' && s[2] <= '9' && IsDigitRange(s, len, 3, 5) &&
				   s[5] >= '2' && s[5] <= '9' && IsDigitRange(s, len, 6, 12));
}

PG_FUNCTION_INFO_V1(ec_is_state_code);

/* Whether a text is two capital ASCII letters. */
Datum
ec_is_state_code(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);

	PG_RETURN_BOOL(VARSIZE_ANY_EXHDR(t) == 2 &&
				   s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z');
}

PG_FUNCTION_INFO_V1(ec_is_digits5);

/* Whether a text is exactly five ASCII digits (a ZIP5, a county FIPS code). */
Datum
ec_is_digits5(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	int			len = VARSIZE_ANY_EXHDR(t);

	PG_RETURN_BOOL(len == 5 && IsDigitRange(VARDATA_ANY(t), len, 0, 5));
}

PG_FUNCTION_INFO_V1(ec_is_digits10);

/* Whether a text is exactly ten ASCII digits (a MAK). */
Datum
ec_is_digits10(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	int			len = VARSIZE_ANY_EXHDR(t);

	PG_RETURN_BOOL(len == 10 && IsDigitRange(VARDATA_ANY(t), len, 0, 10));
}

PG_FUNCTION_INFO_V1(ec_is_snake_name);

/* Whether a text is a lower-case ASCII name: a letter, then letters, digits, '_'. */
Datum
ec_is_snake_name(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	int			i;

	if (len == 0 || s[0] < 'a' || s[0] > 'z')
		PG_RETURN_BOOL(false);
	for (i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}
