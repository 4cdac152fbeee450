/*-------------------------------------------------------------------------
 *
 * instantly.c
 *		ec.instantly_lead(jsonb): one lead as Instantly API v2 takes it.
 *
 * Instantly refuses unknown lead fields, so its own fields (email,
 * first_name, last_name, company_name, phone, website, personalization)
 * stay on top when not null, and everything else goes into
 * custom_variables as flat values: the lead's own custom_variables object
 * first, then the other non-null members (which win over a custom variable
 * of the same name); objects and arrays become their JSON text.  The
 * feeder shapes 25,000 leads a day through it, hence C: one pass over the
 * object instead of two queries per lead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "common/jsonb_push.h"

static const char *const instantly_own[] = {
	"email", "first_name", "last_name", "company_name", "phone", "website", "personalization"
};

static bool
InstantlyOwnField(const char *key, int len)
{
	int			i;

	for (i = 0; i < lengthof(instantly_own); i++)
	{
		if (strlen(instantly_own[i]) == len && memcmp(instantly_own[i], key, len) == 0)
			return true;
	}
	return false;
}

static bool
KeyIs(const JsonbValue *k, const char *name)
{
	return k->val.string.len == strlen(name) && memcmp(k->val.string.val, name, k->val.string.len) == 0;
}

/* A custom variable's value: scalars as they are, objects and arrays as their JSON text. */
static void
PushFlatValue(JsonbParseState **st, JsonbValue *v)
{
	if (v->type == jbvBinary)
	{
		JsonbValue	s;
		char	   *txt = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);

		s.type = jbvString;
		s.val.string.val = txt;
		s.val.string.len = strlen(txt);
		pushJsonbValue(st, WJB_VALUE, &s);
	}
	else
		pushJsonbValue(st, WJB_VALUE, v);
}

/* Pushes the members of an object container that pass: own fields (top) or the others (custom variables). */
static void
PushMembers(JsonbParseState **st, JsonbContainer *c, bool top, bool from_lead)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		bool		own;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (!from_lead)
		{
			/* the lead's custom_variables: every member, nulls included */
			pushJsonbValue(st, WJB_KEY, &k);
			PushFlatValue(st, &v);
			continue;
		}
		if (v.type == jbvNull)
			continue;
		own = InstantlyOwnField(k.val.string.val, k.val.string.len);
		if (top && own)
		{
			pushJsonbValue(st, WJB_KEY, &k);
			pushJsonbValue(st, WJB_VALUE, &v);
		}
		else if (!top && !own && !KeyIs(&k, "custom_variables"))
		{
			pushJsonbValue(st, WJB_KEY, &k);
			PushFlatValue(st, &v);
		}
	}
}

/*
 * The shape the expression below checks, decided without it when every
 * byte is printable ASCII other than space (no character there is
 * [[:space:]] in any locale): exactly one "@", something on each side.
 * Returns -1 when the regular expression must decide.
 */
static int
EmailShapeAscii(const char *s, int len)
{
	int			at = -1;
	int			i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x21 || c > 0x7e)
			return -1;
		if (c == '@')
		{
			if (at >= 0)
				return 0;
			at = i;
		}
	}
	return at > 0 && at < len - 1;
}

static bool
ValidEmail(const JsonbValue *email)
{
	static text *pattern = NULL;
	int			shape = EmailShapeAscii(email->val.string.val, email->val.string.len);

	if (shape >= 0)
		return shape == 1;

	if (pattern == NULL)
	{
		text	   *p = cstring_to_text("^[^@\\s]+@[^@\\s]+$");
		text	   *keep = MemoryContextAlloc(TopMemoryContext, VARSIZE(p));

		memcpy(keep, p, VARSIZE(p));
		pattern = keep;
	}
	/* the very regular expression (and collation) of the SQL version */
	return DatumGetBool(DirectFunctionCall2Coll(textregexeq, DEFAULT_COLLATION_OID,
												PointerGetDatum(cstring_to_text_with_len(email->val.string.val,
																						 email->val.string.len)),
												PointerGetDatum(pattern)));
}

PG_FUNCTION_INFO_V1(ec_instantly_lead);

/* ec.instantly_lead(lead): own fields on top, the rest in custom_variables */
Datum
ec_instantly_lead(PG_FUNCTION_ARGS)
{
	Jsonb	   *lead;
	JsonbValue	email;
	JsonbValue	cv;
	bool		have_cv;
	JsonbParseState *st = NULL;
	JsonbParseState *vst = NULL;
	JsonbValue *vars;
	JsonbValue *res;

	if (PG_ARGISNULL(0) || !JB_ROOT_IS_OBJECT(PG_GETARG_JSONB_P(0)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an Instantly lead must be a JSON object")));
	lead = PG_GETARG_JSONB_P(0);
	if (getKeyJsonValueFromContainer(&lead->root, "email", 5, &email) == NULL ||
		email.type != jbvString || !ValidEmail(&email))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an Instantly lead needs an email address"),
				 errdetail("Instantly identifies a lead by its email.")));

	/* custom variables: the lead's own object first, then its other members */
	have_cv = getKeyJsonValueFromContainer(&lead->root, "custom_variables", 16, &cv) != NULL &&
		cv.type == jbvBinary && JsonContainerIsObject(cv.val.binary.data);
	pushJsonbValue(&vst, WJB_BEGIN_OBJECT, NULL);
	if (have_cv)
		PushMembers(&vst, cv.val.binary.data, false, false);
	PushMembers(&vst, &lead->root, false, true);
	vars = pushJsonbValue(&vst, WJB_END_OBJECT, NULL);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushMembers(&st, &lead->root, true, true);
	if (vars->val.object.nPairs > 0)
	{
		Jsonb	   *vj = JsonbValueToJsonb(vars);
		JsonbValue	v;

		v.type = jbvBinary;
		v.val.binary.data = &vj->root;
		v.val.binary.len = VARSIZE(vj) - VARHDRSZ;
		EcJsonbPushKey(&st, "custom_variables");
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}
