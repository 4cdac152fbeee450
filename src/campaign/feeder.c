/*-------------------------------------------------------------------------
 *
 * feeder.c
 *		ec.feeder_lead(...): the object the campaign feeder hands to
 *		ec.instantly_add_leads for one lead.
 *
 * The same object as jsonb_strip_nulls(jsonb_build_object(...)) of its
 * arguments under their names (sql/campaign_feeder_lead.sql compares
 * both), built without that function's per-value type dispatch and the
 * text round trip of every number: the feeder builds 25,000 a run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "common/jsonb_push.h"

/* The arguments of ec.feeder_lead, in order: key and type. */
static const struct
{
	const char *key;
	Oid			type;
}			feeder_args[] = {
	{"email", TEXTOID},
	{"first_name", TEXTOID},
	{"last_name", TEXTOID},
	{"phone", TEXTOID},
	{"lead_id", INT8OID},
	{"persona", TEXTOID},
	{"consent_link", TEXTOID},
	{"consent_token", TEXTOID},
	{"property_address", TEXTOID},
	{"property_city", TEXTOID},
	{"property_state", TEXTOID},
	{"property_zip", TEXTOID},
	{"est_equity_usd", NUMERICOID},
	{"owner_age", INT4OID},
	{"years_owned", INT4OID},
	{"lead_score", NUMERICOID},
};

/* A value as jsonb_build_object stores it (numbers as numeric, NaN and infinities as strings). */
static void
ArgumentValue(Datum value, Oid type, JsonbValue *v)
{
	switch (type)
	{
		case TEXTOID:
			{
				text	   *t = DatumGetTextPP(value);

				v->type = jbvString;
				v->val.string.val = VARDATA_ANY(t);
				v->val.string.len = VARSIZE_ANY_EXHDR(t);
				break;
			}
		case INT8OID:
			v->type = jbvNumeric;
			v->val.numeric = int64_to_numeric(DatumGetInt64(value));
			break;
		case INT4OID:
			v->type = jbvNumeric;
			v->val.numeric = int64_to_numeric(DatumGetInt32(value));
			break;
		default:
			{
				Numeric		n = DatumGetNumeric(value);

				if (numeric_is_nan(n) || numeric_is_inf(n))
				{
					char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));

					v->type = jbvString;
					v->val.string.val = s;
					v->val.string.len = strlen(s);
				}
				else
				{
					v->type = jbvNumeric;
					v->val.numeric = n;
				}
				break;
			}
	}
}

/* The arguments in jsonb's key order (shorter keys first, then bytewise), computed once. */
static int	feeder_order[lengthof(feeder_args)];
static bool feeder_order_known = false;

static int
CompareKeys(const void *a, const void *b)
{
	const char *x = feeder_args[*(const int *) a].key;
	const char *y = feeder_args[*(const int *) b].key;
	size_t		xl = strlen(x);
	size_t		yl = strlen(y);

	if (xl != yl)
		return xl < yl ? -1 : 1;
	return memcmp(x, y, xl);
}

PG_FUNCTION_INFO_V1(ec_feeder_lead);

/*
 * ec.feeder_lead(email, ..., lead_score): one lead for Instantly, nulls left
 * out. The object is laid out with its keys already in jsonb's order, so
 * it is converted as it is, with no sort of its members.
 */
Datum
ec_feeder_lead(PG_FUNCTION_ARGS)
{
	JsonbValue	object;
	JsonbPair	pairs[lengthof(feeder_args)];
	int			n = 0;
	int			i;

	if (PG_NARGS() != lengthof(feeder_args))
		elog(ERROR, "ec.feeder_lead() takes %d arguments", (int) lengthof(feeder_args));
	if (!feeder_order_known)
	{
		for (i = 0; i < lengthof(feeder_args); i++)
			feeder_order[i] = i;
		qsort(feeder_order, lengthof(feeder_args), sizeof(int), CompareKeys);
		feeder_order_known = true;
	}
	for (i = 0; i < lengthof(feeder_args); i++)
	{
		int			a = feeder_order[i];

		if (PG_ARGISNULL(a))
			continue;
		pairs[n].key.type = jbvString;
		pairs[n].key.val.string.val = (char *) feeder_args[a].key;
		pairs[n].key.val.string.len = strlen(feeder_args[a].key);
		ArgumentValue(PG_GETARG_DATUM(a), feeder_args[a].type, &pairs[n].value);
		pairs[n].order = n;
		n++;
	}
	object.type = jbvObject;
	object.val.object.nPairs = n;
	object.val.object.pairs = pairs;
	PG_RETURN_JSONB_P(JsonbValueToJsonb(&object));
}

PG_FUNCTION_INFO_V1(ec_feeder_event_detail);

/*
 * ec.feeder_event_detail(local_date, rank, persona): the campaign_queued
 * event's detail, as jsonb_build_object('local_date', local_date, 'rank',
 * rank, 'persona', persona) makes it (a date as its JSON string, nulls kept)
 */
Datum
ec_feeder_event_detail(PG_FUNCTION_ARGS)
{
	JsonbParseState *st = NULL;
	JsonbValue	v;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	EcJsonbPushKey(&st, "local_date");
	if (PG_ARGISNULL(0))
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = JsonEncodeDateTime(NULL, PG_GETARG_DATUM(0), DATEOID, NULL);
		v.val.string.len = strlen(v.val.string.val);
	}
	pushJsonbValue(&st, WJB_VALUE, &v);
	EcJsonbPushKey(&st, "rank");
	if (PG_ARGISNULL(1))
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = int64_to_numeric(PG_GETARG_INT32(1));
	}
	pushJsonbValue(&st, WJB_VALUE, &v);
	if (PG_ARGISNULL(2))
		EcJsonbPushText(&st, "persona", NULL);
	else
	{
		text	   *t = PG_GETARG_TEXT_PP(2);

		EcJsonbPushKey(&st, "persona");
		v.type = jbvString;
		v.val.string.val = VARDATA_ANY(t);
		v.val.string.len = VARSIZE_ANY_EXHDR(t);
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}
