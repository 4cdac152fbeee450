/*-------------------------------------------------------------------------
 *
 * normalize.c
 *		SQL wrappers of the pure C address, APN and MAK rules:
 *		ec.normalize_address, ec.addr_hash, ec.normalize_apn, ec.normalize_mak.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "core/address.h"
#include "core/lead_keys.h"
#include "identity/identity.h"

/* the bytes of a text argument in UTF-8 (NULL for SQL NULL) */
static const char *
Utf8Bytes(text *t, size_t *len)
{
	const char *s;
	int			n;

	if (t == NULL)
	{
		*len = 0;
		return NULL;
	}
	s = VARDATA_ANY(t);
	n = VARSIZE_ANY_EXHDR(t);
	if (GetDatabaseEncoding() != PG_UTF8 && n > 0)
	{
		s = (const char *) pg_do_encoding_conversion((unsigned char *) unconstify(char *, s),
													 n, GetDatabaseEncoding(), PG_UTF8);
		n = strlen(s);
	}
	*len = (size_t) n;
	return s;
}

/* a canonical string as text in the database encoding */
static text *
ServerText(const char *s)
{
	if (GetDatabaseEncoding() != PG_UTF8)
		s = pg_any_to_server(s, strlen(s), PG_UTF8);
	return cstring_to_text(s);
}

EcAddrStatus
IdentityNormalize(text *line1, text *line2, text *city, text *state, text *zip,
				  EcAddress *out)
{
	const char *p[5];
	size_t		n[5];

	p[0] = Utf8Bytes(line1, &n[0]);
	p[1] = Utf8Bytes(line2, &n[1]);
	p[2] = Utf8Bytes(city, &n[2]);
	p[3] = Utf8Bytes(state, &n[3]);
	p[4] = Utf8Bytes(zip, &n[4]);
	return EcAddressNormalize(p[0], n[0], p[1], n[1], p[2], n[2], p[3], n[3],
							  p[4], n[4], out);
}

bool
IdentityCheckAddress(EcAddrStatus status)
{
	switch (status)
	{
		case EC_ADDR_OK:
			return true;
		case EC_ADDR_EMPTY:
		case EC_ADDR_INCOMPLETE:
			return false;
		case EC_ADDR_TOO_LONG:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("address is too long"),
					 errdetail("Each part may have at most %d bytes, and at most %d once normalized.",
							   EC_ADDR_INPUT_MAX, EC_ADDR_FIELD_MAX)));
			break;
		case EC_ADDR_BAD_UTF8:
			ereport(ERROR,
					(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					 errmsg("invalid byte sequence for encoding \"UTF8\" in address")));
			break;
	}
	return false;
}

#define TEXT_ARG_OR_NULL(n) (PG_ARGISNULL(n) ? NULL : PG_GETARG_TEXT_PP(n))

static bool
NormalizeArgs(FunctionCallInfo fcinfo, EcAddress *addr)
{
	return IdentityCheckAddress(IdentityNormalize(TEXT_ARG_OR_NULL(0),
												  TEXT_ARG_OR_NULL(1),
												  TEXT_ARG_OR_NULL(2),
												  TEXT_ARG_OR_NULL(3),
												  TEXT_ARG_OR_NULL(4), addr));
}

/* USPS Publication 28 canonical one-line address */
PG_FUNCTION_INFO_V1(ec_normalize_address);
Datum
ec_normalize_address(PG_FUNCTION_ARGS)
{
	EcAddress	addr;
	char		one[EC_ADDR_ONELINE_MAX + 1];

	if (!NormalizeArgs(fcinfo, &addr))
		PG_RETURN_NULL();
	EcAddressFormat(&addr, one, sizeof(one));
	PG_RETURN_TEXT_P(ServerText(one));
}

/* SHA-256 of the canonical one-line address */
PG_FUNCTION_INFO_V1(ec_addr_hash);
Datum
ec_addr_hash(PG_FUNCTION_ARGS)
{
	EcAddress	addr;
	bytea	   *result;

	if (!NormalizeArgs(fcinfo, &addr))
		PG_RETURN_NULL();
	result = (bytea *) palloc(VARHDRSZ + EC_ADDR_HASH_LEN);
	SET_VARSIZE(result, VARHDRSZ + EC_ADDR_HASH_LEN);
	if (EcAddressHash(&addr, (unsigned char *) VARDATA(result)) != EC_ADDR_OK)
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(result);
}

/* county-scoped APN key "ST:SSCCC:APN" */
PG_FUNCTION_INFO_V1(ec_normalize_apn);
Datum
ec_normalize_apn(PG_FUNCTION_ARGS)
{
	char		out[EC_APN_KEY_MAX + 1];
	const char *p[3];
	size_t		n[3];
	EcKeyStatus st;

	p[0] = Utf8Bytes(TEXT_ARG_OR_NULL(0), &n[0]);
	p[1] = Utf8Bytes(TEXT_ARG_OR_NULL(1), &n[1]);
	p[2] = Utf8Bytes(TEXT_ARG_OR_NULL(2), &n[2]);
	st = EcApnNormalize(p[0], n[0], p[1], n[1], p[2], n[2], out);
	switch (st)
	{
		case EC_KEY_OK:
			PG_RETURN_TEXT_P(cstring_to_text(out));
		case EC_KEY_TOO_LONG:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("APN is too long"),
					 errdetail("An APN may have at most %d bytes.", EC_APN_INPUT_MAX)));
			break;
		case EC_KEY_BAD_CHARS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for APN: \"%s\"",
							text_to_cstring(PG_GETARG_TEXT_PP(0))),
					 errdetail("An APN has letters and digits, separated by spaces, dashes, dots, slashes, commas, colons or underscores.")));
			break;
		case EC_KEY_SCOPE_MISMATCH:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("county FIPS code \"%s\" is not in state \"%s\"",
							text_to_cstring(PG_GETARG_TEXT_PP(2)),
							text_to_cstring(PG_GETARG_TEXT_PP(1)))));
			break;
		default:
			break;
	}
	PG_RETURN_NULL();
}

/* Melissa Address Key: 10 digits, or NULL */
PG_FUNCTION_INFO_V1(ec_normalize_mak);
Datum
ec_normalize_mak(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		out[EC_MAK_LEN + 1];

	if (EcMakNormalize(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), out) != EC_KEY_OK)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(out));
}
