/*-------------------------------------------------------------------------
 *
 * instantly.c
 *		The Instantly API v2 adapter: ec.instantly_lead(jsonb), one lead as
 *		Instantly takes it, and ec.instantly_add_leads, which queues the
 *		add-leads requests of a campaign (1,000 leads per request).
 *
 * Instantly refuses unknown lead fields, so its own fields (email,
 * first_name, last_name, company_name, phone, website, personalization)
 * stay on top when not null, and everything else goes into
 * custom_variables as flat values: the lead's own custom_variables object
 * first, then the other non-null members (which win over a custom variable
 * of the same name); objects and arrays become their JSON text.  The
 * feeder shapes 25,000 leads a day through it, hence C: one pass over the
 * object instead of two queries per lead, and each request body built
 * from the leads as given (no copy of every lead per step of a query).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
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

/* Checks one lead: an object with an email address (the errors of the SQL version). */
static void
CheckLead(JsonbContainer *lead, bool is_object)
{
	JsonbValue	email;

	if (!is_object)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an Instantly lead must be a JSON object")));
	if (getKeyJsonValueFromContainer(lead, "email", 5, &email) == NULL ||
		email.type != jbvString || !ValidEmail(&email))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an Instantly lead needs an email address"),
				 errdetail("Instantly identifies a lead by its email.")));
}

/* Whether a lead has anything for custom_variables. */
static bool
HasCustomVariables(JsonbContainer *lead, JsonbValue *cv, bool *have_cv)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;

	*have_cv = getKeyJsonValueFromContainer(lead, "custom_variables", 16, cv) != NULL &&
		cv->type == jbvBinary && JsonContainerIsObject(cv->val.binary.data);
	if (*have_cv && JsonContainerSize(cv->val.binary.data) > 0)
		return true;
	it = JsonbIteratorInit(lead);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &v, true);
		if (v.type != jbvNull && !InstantlyOwnField(k.val.string.val, k.val.string.len) &&
			!KeyIs(&k, "custom_variables"))
			return true;
	}
	return false;
}

/*
 * Pushes a checked lead, shaped, as one object value into a parse state:
 * own fields on top, then custom_variables (the lead's own, then its
 * other members) when there is any.
 */
static JsonbValue *
PushShapedLead(JsonbParseState **st, JsonbContainer *lead)
{
	JsonbValue	cv;
	bool		have_cv;
	bool		vars = HasCustomVariables(lead, &cv, &have_cv);

	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	PushMembers(st, lead, true, true);
	if (vars)
	{
		EcJsonbPushKey(st, "custom_variables");
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		if (have_cv)
			PushMembers(st, cv.val.binary.data, false, false);
		PushMembers(st, lead, false, true);
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	return pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

PG_FUNCTION_INFO_V1(ec_instantly_lead);

/* ec.instantly_lead(lead): own fields on top, the rest in custom_variables */
Datum
ec_instantly_lead(PG_FUNCTION_ARGS)
{
	Jsonb	   *lead;
	JsonbParseState *st = NULL;

	if (PG_ARGISNULL(0) || !JB_ROOT_IS_OBJECT(PG_GETARG_JSONB_P(0)))
		CheckLead(NULL, false);
	lead = PG_GETARG_JSONB_P(0);
	CheckLead(&lead->root, true);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(PushShapedLead(&st, &lead->root)));
}

#define INSTANTLY_BATCH	1000	/* POST /api/v2/leads/add takes at most 1,000 leads */

static SPIPlanPtr plan_enqueue = NULL;

/* Instantly's campaign ids: ^[A-Za-z0-9-]{1,64}$ */
static bool
ValidCampaignId(const char *s, int len)
{
	int			i;

	if (len < 1 || len > 64)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

/* The value of options ->> 'idempotency_key' (NULL when absent or JSON null). */
static char *
OptionText(Jsonb *options, const char *key)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(&options->root, key, strlen(key), &v) == NULL || v.type == jbvNull)
		return NULL;
	if (v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	if (v.type == jbvBinary)
		return JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
	return JsonbToCString(NULL, &JsonbValueToJsonb(&v)->root, 0);
}

/* Queues one request through ec.http_enqueue; returns its id. */
static int64
EnqueueBatch(const char *url, bytea *body, const char *key, Datum callback, bool callback_null)
{
	Oid			types[5] = {TEXTOID, BYTEAOID, TEXTOID, TIMESTAMPTZOID, REGPROCOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int			rc;

	values[0] = CStringGetTextDatum(url);
	values[1] = PointerGetDatum(body);
	values[2] = key ? CStringGetTextDatum(key) : (Datum) 0;
	nulls[2] = key ? ' ' : 'n';
	values[3] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[4] = callback;
	nulls[4] = callback_null ? 'n' : ' ';
	if (plan_enqueue == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT ec.http_enqueue('POST', $1,"
									" '{\"Content-Type\": \"application/json\", \"Authorization\": {\"api_key\": \"instantly\"}}',"
									" $2, 'instantly_add_leads', $3, 8, $4, $5)",
									5, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		plan_enqueue = p;
	}
	rc = SPI_execute_plan(plan_enqueue, values, nulls, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ec.http_enqueue returned %s", SPI_result_code_string(rc));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The request body as text, written directly: the very text
 * JsonbToCString gives for the body built as a jsonb value (keys in jsonb
 * order: shorter first, then bytewise; ", " and ": " between items; each
 * lead shaped as ec.instantly_lead shapes it), without building that value
 * and converting it (the feeder writes 25,000 leads a day). The tests
 * compare every body with the PL/pgSQL version's byte for byte.
 */

/* jsonb's order of object keys (lengthCompareJsonbStringValue) */
static int
KeyOrder(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen > blen ? 1 : -1;
	return memcmp(a, b, alen);
}

/* a jsonb string (not NUL-terminated, never holding a NUL) as escape_json writes it */
static void
WriteString(StringInfo out, const char *s, int len)
{
	char	   *z = pnstrdup(s, len);

	escape_json(out, z);
	pfree(z);
}

/* A scalar as JsonbToCString writes it (jsonfuncs.c's jsonb_put_escaped_value). */
static void
WriteScalar(StringInfo out, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendBinaryStringInfo(out, "null", 4);
			break;
		case jbvString:
			WriteString(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v->val.numeric))));
			break;
		case jbvBool:
			if (v->val.boolean)
				appendBinaryStringInfo(out, "true", 4);
			else
				appendBinaryStringInfo(out, "false", 5);
			break;
		default:
			elog(ERROR, "unknown jsonb scalar type");
	}
}

/* "key": */
static void
WriteKey(StringInfo out, const char *key, int len, bool *first)
{
	if (!*first)
		appendBinaryStringInfo(out, ", ", 2);
	*first = false;
	WriteString(out, key, len);
	appendBinaryStringInfo(out, ": ", 2);
}

/* A member's value: a scalar, or an object or array as JsonbToCString writes it. */
static void
WriteValue(StringInfo out, const JsonbValue *v)
{
	if (v->type == jbvBinary)
		(void) JsonbToCString(out, v->val.binary.data, v->val.binary.len);
	else
		WriteScalar(out, v);
}

/* A custom variable's value (PushFlatValue): objects and arrays as a string of their JSON text. */
static void
WriteFlatValue(StringInfo out, const JsonbValue *v)
{
	if (v->type == jbvBinary)
	{
		char	   *txt = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);

		escape_json(out, txt);
	}
	else
		WriteScalar(out, v);
}

typedef struct LeadMember
{
	JsonbValue	k;
	JsonbValue	v;
} LeadMember;

/*
 * The members of an object container that go into custom_variables, in
 * jsonb order: every member of the lead's custom_variables object
 * (from_lead false), or the lead's non-null members other than its own
 * fields and custom_variables.
 */
static LeadMember *
CustomMembers(JsonbContainer *c, bool from_lead, int *n)
{
	LeadMember *m = palloc(sizeof(LeadMember) * Max(JsonContainerSize(c), 1));
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	k;
	JsonbIteratorToken tok;

	*n = 0;
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		JsonbValue	v;

		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &v, true);
		if (from_lead && (v.type == jbvNull || InstantlyOwnField(k.val.string.val, k.val.string.len) ||
						  KeyIs(&k, "custom_variables")))
			continue;
		m[*n].k = k;
		m[*n].v = v;
		(*n)++;
	}
	return m;
}

/*
 * A checked lead, shaped (PushShapedLead), as JsonbToCString writes it: its
 * own fields in its (jsonb) order, then custom_variables (always last: it
 * is longer than every own field), the lead's own custom variables merged
 * with its other members, which win over a custom variable of the same name.
 */
static void
WriteShapedLead(StringInfo out, JsonbContainer *lead)
{
	JsonbValue	cv;
	bool		have_cv;
	bool		vars = HasCustomVariables(lead, &cv, &have_cv);
	JsonbIterator *it = JsonbIteratorInit(lead);
	JsonbValue	k;
	JsonbIteratorToken tok;
	bool		first = true;

	appendStringInfoChar(out, '{');
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		JsonbValue	v;

		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &v, true);
		if (v.type == jbvNull || !InstantlyOwnField(k.val.string.val, k.val.string.len))
			continue;
		WriteKey(out, k.val.string.val, k.val.string.len, &first);
		WriteValue(out, &v);
	}
	if (vars)
	{
		int			na = 0;
		int			nb;
		LeadMember *a = have_cv ? CustomMembers(cv.val.binary.data, false, &na) : NULL;
		LeadMember *b = CustomMembers(lead, true, &nb);
		int			i = 0;
		int			j = 0;
		bool		cfirst = true;

		WriteKey(out, "custom_variables", 16, &first);
		appendStringInfoChar(out, '{');
		while (i < na || j < nb)
		{
			LeadMember *m;
			int			c = i >= na ? 1 : j >= nb ? -1
				: KeyOrder(a[i].k.val.string.val, a[i].k.val.string.len,
						   b[j].k.val.string.val, b[j].k.val.string.len);

			if (c < 0)
				m = &a[i++];
			else
			{
				if (c == 0)
					i++;		/* the lead's member wins */
				m = &b[j++];
			}
			WriteKey(out, m->k.val.string.val, m->k.val.string.len, &cfirst);
			WriteFlatValue(out, &m->v);
		}
		appendStringInfoChar(out, '}');
	}
	appendStringInfoChar(out, '}');
}

/*
 * The body: the flags' members, "campaign_id" and "leads" (never among the
 * flags: options lose those keys), in jsonb order.
 */
static char *
WriteBody(Jsonb *flags, text *campaign_id, StringInfo leads)
{
	StringInfoData out;
	JsonbIterator *it = JsonbIteratorInit(&flags->root);
	JsonbValue	k;
	JsonbIteratorToken tok;
	bool		first = true;
	int			pending = 0;	/* 0: leads and campaign_id to write, 1: campaign_id, 2: none */

	initStringInfo(&out);
	appendStringInfoChar(&out, '{');
	for (;;)
	{
		JsonbValue	v;
		bool		done;

		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE && tok != WJB_KEY)
			;
		done = (tok == WJB_DONE);
		if (!done)
			(void) JsonbIteratorNext(&it, &v, true);
		if (pending == 0 && (done || KeyOrder("leads", 5, k.val.string.val, k.val.string.len) < 0))
		{
			WriteKey(&out, "leads", 5, &first);
			appendBinaryStringInfo(&out, leads->data, leads->len);
			pending = 1;
		}
		if (pending == 1 && (done || KeyOrder("campaign_id", 11, k.val.string.val, k.val.string.len) < 0))
		{
			JsonbValue	cid;

			WriteKey(&out, "campaign_id", 11, &first);
			cid.type = jbvString;
			cid.val.string.val = VARDATA_ANY(campaign_id);
			cid.val.string.len = VARSIZE_ANY_EXHDR(campaign_id);
			WriteScalar(&out, &cid);
			pending = 2;
		}
		if (done)
			break;
		WriteKey(&out, k.val.string.val, k.val.string.len, &first);
		WriteValue(&out, &v);
	}
	appendStringInfoChar(&out, '}');
	return out.data;
}

/* Where the leads come from: a jsonb array, or a jsonb[] (the feeder's). */
typedef struct LeadSource
{
	JsonbIterator *it;			/* the jsonb array, or NULL */
	Datum	   *elems;			/* the jsonb[] */
	bool	   *nulls;
	int			count;
	int			next;
} LeadSource;

/* The next lead, checked (CheckLead); false at the end. */
static bool
NextLead(LeadSource *src, JsonbContainer **lead)
{
	bool		is_object;

	if (src->next >= src->count)
		return false;
	src->next++;
	if (src->it != NULL)
	{
		JsonbValue	v;

		if (JsonbIteratorNext(&src->it, &v, true) != WJB_ELEM)
			elog(ERROR, "jsonb array shorter than its size");
		is_object = v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data);
		*lead = is_object ? v.val.binary.data : NULL;
	}
	else
	{
		Jsonb	   *jb = src->nulls[src->next - 1] ? NULL : DatumGetJsonbP(src->elems[src->next - 1]);

		is_object = jb != NULL && JB_ROOT_IS_OBJECT(jb);
		*lead = is_object ? &jb->root : NULL;
	}
	CheckLead(*lead, is_object);
	return true;
}

/* The URL of add-leads (first, as the SQL version: an unset base URL is an error). */
static char *
AddLeadsUrl(void)
{
	char	   *base = GetConfigOptionByName("ec.instantly_base_url", NULL, false);
	int			baselen = strlen(base);

	while (baselen > 0 && base[baselen - 1] == '/')
		baselen--;
	return psprintf("%.*s/api/v2/leads/add", baselen, base);
}

static text *
CheckCampaignId(FunctionCallInfo fcinfo)
{
	text	   *campaign_id = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);

	if (campaign_id == NULL || !ValidCampaignId(VARDATA_ANY(campaign_id), VARSIZE_ANY_EXHDR(campaign_id)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Instantly campaign id \"%s\"",
						campaign_id ? text_to_cstring(campaign_id) : "<NULL>")));
	return campaign_id;
}

static Jsonb *
CheckOptions(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(2) || !JB_ROOT_IS_OBJECT(PG_GETARG_JSONB_P(2)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object")));
	return PG_GETARG_JSONB_P(2);
}

/*
 * The requests of add-leads: one POST /api/v2/leads/add per 1,000 leads,
 * each body the flags (Instantly's defaults overridden by options, less the
 * keys the body sets), the campaign and the leads shaped as
 * ec.instantly_lead shapes them; the idempotency key
 * "<options.idempotency_key>-<batch>" when given.
 */
static ArrayType *
QueueAddLeads(FunctionCallInfo fcinfo, const char *url, text *campaign_id, LeadSource *src, Jsonb *options)
{
	JsonbParseState *fst = NULL;
	Jsonb	   *flags;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key_prefix;
	int			nbatches;
	int			b;
	Datum	   *ids;
	MemoryContext batch_cxt;
	MemoryContext old;
	static const char *const defaults[] = {
		"skip_if_in_workspace", "skip_if_in_campaign", "skip_if_in_list", "verify_leads_on_import"
	};
	static const char *const dropped[] = {"idempotency_key", "campaign_id", "list_id", "leads"};
	int			i;

	/* flags: the defaults, then the options but the keys the body sets */
	pushJsonbValue(&fst, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < lengthof(defaults); i++)
	{
		JsonbValue	f;

		EcJsonbPushKey(&fst, defaults[i]);
		f.type = jbvBool;
		f.val.boolean = (i == 1);
		pushJsonbValue(&fst, WJB_VALUE, &f);
	}
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue	val;
		bool		drop = false;

		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &val, true);
		for (i = 0; i < lengthof(dropped); i++)
			drop |= KeyIs(&v, dropped[i]);
		if (drop)
			continue;
		pushJsonbValue(&fst, WJB_KEY, &v);
		pushJsonbValue(&fst, WJB_VALUE, &val);
	}
	flags = JsonbValueToJsonb(pushJsonbValue(&fst, WJB_END_OBJECT, NULL));

	{
		JsonbValue	k;

		key_prefix = (getKeyJsonValueFromContainer(&options->root, "idempotency_key", 15, &k) != NULL)
			? OptionText(options, "idempotency_key") : NULL;
	}

	nbatches = (src->count + INSTANTLY_BATCH - 1) / INSTANTLY_BATCH;
	if (nbatches == 0)
		return construct_empty_array(INT8OID);
	ids = palloc(sizeof(Datum) * nbatches);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "ec instantly batch", ALLOCSET_DEFAULT_SIZES);
	for (b = 0; b < nbatches; b++)
	{
		StringInfoData leads;
		JsonbContainer *lead;
		int			n;
		char	   *json;
		char	   *utf8;
		bytea	   *bytes;
		int			len;

		old = MemoryContextSwitchTo(batch_cxt);
		initStringInfo(&leads);
		appendStringInfoChar(&leads, '[');
		for (n = 0; n < INSTANTLY_BATCH && NextLead(src, &lead); n++)
		{
			if (n > 0)
				appendBinaryStringInfo(&leads, ", ", 2);
			WriteShapedLead(&leads, lead);
		}
		appendStringInfoChar(&leads, ']');

		/* convert_to(body::text, 'UTF8') */
		json = WriteBody(flags, campaign_id, &leads);
		len = strlen(json);
		utf8 = pg_server_to_any(json, len, PG_UTF8);
		if (utf8 != json)
			len = strlen(utf8);
		bytes = palloc(VARHDRSZ + len);
		SET_VARSIZE(bytes, VARHDRSZ + len);
		memcpy(VARDATA(bytes), utf8, len);
		MemoryContextSwitchTo(old);

		ids[b] = Int64GetDatum(EnqueueBatch(url, bytes,
											key_prefix ? psprintf("%s-%d", key_prefix, b) : NULL,
											PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3), PG_ARGISNULL(3)));
		MemoryContextReset(batch_cxt);
	}
	SPI_finish();
	return construct_array(ids, nbatches, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

PG_FUNCTION_INFO_V1(ec_instantly_add_leads);

/* ec.instantly_add_leads(campaign_id, leads, options, callback): QueueAddLeads of a jsonb array */
Datum
ec_instantly_add_leads(PG_FUNCTION_ARGS)
{
	char	   *url = AddLeadsUrl();
	text	   *campaign_id = CheckCampaignId(fcinfo);
	Jsonb	   *leads;
	Jsonb	   *options;
	LeadSource	src;
	JsonbValue	v;

	if (PG_ARGISNULL(1) || !JB_ROOT_IS_ARRAY(PG_GETARG_JSONB_P(1)) || JB_ROOT_IS_SCALAR(PG_GETARG_JSONB_P(1)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("leads must be a JSON array")));
	options = CheckOptions(fcinfo);
	leads = PG_GETARG_JSONB_P(1);

	memset(&src, 0, sizeof(src));
	src.count = JsonContainerSize(&leads->root);
	src.it = JsonbIteratorInit(&leads->root);
	(void) JsonbIteratorNext(&src.it, &v, true);	/* WJB_BEGIN_ARRAY */
	PG_RETURN_ARRAYTYPE_P(QueueAddLeads(fcinfo, url, campaign_id, &src, options));
}

PG_FUNCTION_INFO_V1(ec_instantly_add_lead_array);

/*
 * ec.instantly_add_lead_array(campaign_id, leads jsonb[], options,
 * callback): ec.instantly_add_leads of the array's elements (the feeder's
 * array_agg of its leads, not aggregated again into one jsonb).
 */
Datum
ec_instantly_add_lead_array(PG_FUNCTION_ARGS)
{
	char	   *url = AddLeadsUrl();
	text	   *campaign_id = CheckCampaignId(fcinfo);
	ArrayType  *leads;
	Jsonb	   *options;
	LeadSource	src;

	if (PG_ARGISNULL(1) || ARR_NDIM(PG_GETARG_ARRAYTYPE_P(1)) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("leads must be a one-dimensional array")));
	options = CheckOptions(fcinfo);
	leads = PG_GETARG_ARRAYTYPE_P(1);

	memset(&src, 0, sizeof(src));
	deconstruct_array(leads, JSONBOID, -1, false, TYPALIGN_INT, &src.elems, &src.nulls, &src.count);
	PG_RETURN_ARRAYTYPE_P(QueueAddLeads(fcinfo, url, campaign_id, &src, options));
}
