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
 * The other value checks of ec.leads were plain comparisons; each cost no
 * regular expression, but PostgreSQL reads every CHECK expression of a table
 * again (stringToNode, then planning and compiling it) for every statement
 * that writes the table, and one call with one column is a third of the
 * text of a BETWEEN (two operators, two constants: up to 1,100 bytes of node
 * text for lead_score).  So they are C functions too, with the same answers
 * (NULL in, NULL out: a CHECK passes on NULL, as it did):
 *
 *	ec.is_owner_age(int)		BETWEEN 18 AND 120
 *	ec.is_years_owned(int)		BETWEEN 0 AND 150
 *	ec.is_score(numeric)		BETWEEN 0 AND 100
 *	ec.is_nonnegative(numeric)	>= 0
 *	ec.is_nonnegative(int)		>= 0
 *	ec.is_sha256(bytea)			length() = 32
 *	ec.is_jsonb_object(jsonb)	jsonb_typeof() = 'object'
 *
 * Every class but the email's matches ASCII only, so bytes are compared.
 * What \s matches outside printable ASCII depends on the locale, so an
 * email with a control character or a non-ASCII one is matched by the
 * regular expression itself: the answer is the constraint's, always.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#include "common/rowcheck.h"

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

PG_FUNCTION_INFO_V1(ec_is_owner_age);

/* Whether an owner's age is BETWEEN 18 AND 120. */
Datum
ec_is_owner_age(PG_FUNCTION_ARGS)
{
	int32		v = PG_GETARG_INT32(0);

	PG_RETURN_BOOL(v >= 18 && v <= 120);
}

PG_FUNCTION_INFO_V1(ec_is_years_owned);

/* Whether years owned is BETWEEN 0 AND 150. */
Datum
ec_is_years_owned(PG_FUNCTION_ARGS)
{
	int32		v = PG_GETARG_INT32(0);

	PG_RETURN_BOOL(v >= 0 && v <= 150);
}

PG_FUNCTION_INFO_V1(ec_is_nonnegative_int4);

/* Whether an integer is >= 0. */
Datum
ec_is_nonnegative_int4(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_INT32(0) >= 0);
}

/*
 * A numeric compared with a small integer by numeric_cmp itself, so NaN and
 * the infinities order exactly as the operators of the constraint ordered
 * them (NaN above every number).
 */
static int
NumericCmpInt(Datum num, int64 k)
{
	/* the two bounds the checks use, made once (a numeric per call cost more than the comparison) */
	static Numeric zero = NULL,
				hundred = NULL;
	Numeric		kn;

	if (zero == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		zero = int64_to_numeric(0);
		hundred = int64_to_numeric(100);
		MemoryContextSwitchTo(old);
	}
	kn = k == 0 ? zero : k == 100 ? hundred : int64_to_numeric(k);
	{
		int			c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, num, NumericGetDatum(kn)));

		if (kn != zero && kn != hundred)
			pfree(kn);
		return c;
	}
}

PG_FUNCTION_INFO_V1(ec_is_nonnegative_numeric);

/* Whether a numeric is >= 0. */
Datum
ec_is_nonnegative_numeric(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(NumericCmpInt(PG_GETARG_DATUM(0), 0) >= 0);
}

PG_FUNCTION_INFO_V1(ec_is_score);

/* Whether a numeric is BETWEEN 0 AND 100 (a lead score). */
Datum
ec_is_score(PG_FUNCTION_ARGS)
{
	Datum		v = PG_GETARG_DATUM(0);

	PG_RETURN_BOOL(NumericCmpInt(v, 0) >= 0 && NumericCmpInt(v, 100) <= 0);
}

PG_FUNCTION_INFO_V1(ec_is_sha256);

/* Whether a bytea is 32 bytes long (a SHA-256). */
Datum
ec_is_sha256(PG_FUNCTION_ARGS)
{
	/* length() of a bytea is its byte count; no need to detoast for that */
	PG_RETURN_BOOL(toast_raw_datum_size(PG_GETARG_DATUM(0)) - VARHDRSZ == 32);
}

PG_FUNCTION_INFO_V1(ec_is_jsonb_object);

/* Whether jsonb_typeof() of a jsonb is 'object'; only its header is read. */
Datum
ec_is_jsonb_object(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = (Jsonb *) PG_DETOAST_DATUM_SLICE(PG_GETARG_DATUM(0), 0, sizeof(uint32));

	PG_RETURN_BOOL(JB_ROOT_IS_OBJECT(jb));
}

/*
 * The value checks of ec.leads as one CHECK (leads_values_check).  Fourteen
 * constraints of one call each cost fourteen expressions to read, plan and
 * compile for every statement that writes a lead; one call of fourteen
 * columns costs one.  A NULL value passes (as each constraint passed it);
 * the first value that fails raises check_violation itself, naming its
 * column and the rule in the message, which a plain false could not say.
 */
typedef struct LeadValueCheck
{
	const char *column;
	PGFunction	check;
	const char *rule;
} LeadValueCheck;

static const LeadValueCheck LeadValueChecks[] = {
	{"email", ec_is_email, "one @ between two runs without @ or white space"},
	{"phone", ec_is_us_phone, "a North American number in E.164 (+1 and ten digits, area code and exchange not starting with 0 or 1)"},
	{"property_state", ec_is_state_code, "two capital letters"},
	{"property_zip", ec_is_digits5, "five digits"},
	{"county_fips", ec_is_digits5, "five digits"},
	{"mak", ec_is_digits10, "ten digits"},
	{"addr_hash", ec_is_sha256, "32 bytes (a SHA-256)"},
	{"owner_age", ec_is_owner_age, "between 18 and 120"},
	{"estimated_value", ec_is_nonnegative_numeric, "zero or more"},
	{"years_owned", ec_is_years_owned, "between 0 and 150"},
	{"provider_payloads", ec_is_jsonb_object, "a JSON object"},
	{"extra", ec_is_jsonb_object, "a JSON object"},
	{"lead_score", ec_is_score, "between 0 and 100"},
	{"call_attempt_count", ec_is_nonnegative_int4, "zero or more"},
};

/*
 * The four rules over several columns, after the fourteen values: each
 * fails exactly when its old expression was false (a NULL where the
 * expression tested a value makes it NULL, which passed).
 *
 *	consent, consented_at, consent_method
 *		NOT consent OR (consented_at IS NOT NULL AND consent_method IS NOT NULL)
 *	campaign_status, added_to_campaign_at
 *		campaign_status <> 'active' OR added_to_campaign_at IS NOT NULL
 *	apn_key, apn
 *		apn_key IS NULL OR apn IS NOT NULL
 *	email_opt_out, email_opt_out_at
 *		NOT email_opt_out OR email_opt_out_at IS NOT NULL
 */
#define NVALUES		((int) lengthof(LeadValueChecks))
#define NARGS		(NVALUES + 9)

static void
RuleViolated(const char *column, const char *rule)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("new row violates check constraint \"%s\": %s",
					"leads_values_check", rule),
			 err_generic_string(PG_DIAG_COLUMN_NAME, column),
			 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "leads_values_check")));
}

/* the columns of leads_values_check, in the order of ec.leads_values_ok's arguments */
static const char *const LeadCheckColumns[NARGS] = {
	"email", "phone", "property_state", "property_zip", "county_fips", "mak", "addr_hash", "owner_age",
	"estimated_value", "years_owned", "provider_payloads", "extra", "lead_score", "call_attempt_count",
	"consent", "consented_at", "consent_method", "campaign_status", "added_to_campaign_at", "apn_key",
	"apn", "email_opt_out", "email_opt_out_at"
};

/* the value of 'active' in the enum type of campaign_status */
static Oid
ActiveOf(Oid status_type)
{
	return DatumGetObjectId(DirectFunctionCall2(enum_in, CStringGetDatum("active"),
												ObjectIdGetDatum(status_type)));
}

/* The checks over the 23 values, in the order of LeadCheckColumns. */
static void
CheckLeadValues(const Datum *v, const bool *isnull, Oid active, Oid collation)
{
	int			i;
	int			r = NVALUES;

	for (i = 0; i < NVALUES; i++)
	{
		const LeadValueCheck *c = &LeadValueChecks[i];

		if (isnull[i])
			continue;
		if (!DatumGetBool(DirectFunctionCall1Coll(c->check, collation, v[i])))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("new row violates check constraint \"%s\": %s must be %s",
							"leads_values_check", c->column, c->rule),
					 err_generic_string(PG_DIAG_COLUMN_NAME, c->column),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "leads_values_check")));
	}

	/* consent, consented_at, consent_method */
	if (!isnull[r] && DatumGetBool(v[r]) && (isnull[r + 1] || isnull[r + 2]))
		RuleViolated("consent", "consent needs consented_at and consent_method");
	r += 3;

	/* campaign_status, added_to_campaign_at */
	if (!isnull[r] && DatumGetObjectId(v[r]) == active && isnull[r + 1])
		RuleViolated("added_to_campaign_at", "an active lead needs added_to_campaign_at");
	r += 2;

	/* apn_key, apn */
	if (!isnull[r] && isnull[r + 1])
		RuleViolated("apn", "apn_key needs apn");
	r += 2;

	/* email_opt_out, email_opt_out_at */
	if (!isnull[r] && DatumGetBool(v[r]) && isnull[r + 1])
		RuleViolated("email_opt_out_at", "email_opt_out needs email_opt_out_at");
}

/* ec.leads_values_ok(the 23 columns): true, or check_violation */
PG_FUNCTION_INFO_V1(ec_leads_values_ok);

Datum
ec_leads_values_ok(PG_FUNCTION_ARGS)
{
	Datum		v[NARGS];
	bool		isnull[NARGS];
	int			i;
	Oid		   *active = (Oid *) fcinfo->flinfo->fn_extra;

	if (PG_NARGS() != NARGS)
		elog(ERROR, "ec.leads_values_ok: %d arguments, expected %d", PG_NARGS(), NARGS);
	if (active == NULL)
	{
		Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, NVALUES + 3);

		if (!OidIsValid(typid))
			elog(ERROR, "ec.leads_values_ok: the type of campaign_status is unknown");
		active = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Oid));
		*active = ActiveOf(typid);
		fcinfo->flinfo->fn_extra = active;
	}
	for (i = 0; i < NARGS; i++)
	{
		isnull[i] = PG_ARGISNULL(i);
		v[i] = isnull[i] ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	CheckLeadValues(v, isnull, *active, PG_GET_COLLATION());
	PG_RETURN_BOOL(true);
}

/*
 * ec.leads_row_ok(record): the same checks over a whole row of ec.leads (or
 * of a table with its columns), which is what leads_values_check calls.
 *
 * PostgreSQL reads, plans and compiles every CHECK expression of a table
 * again for each statement that writes it (ExecRelCheck).  A call with 23
 * column references cost about 100,000 instructions to prepare, a fifth of
 * a one-lead upsert; a call with the row costs a few thousand.  The price:
 * CREATE TABLE ... (LIKE ec.leads INCLUDING CONSTRAINTS) cannot copy a
 * whole-row reference, so such a copy says EXCLUDING CONSTRAINTS and adds
 * CHECK (ec.leads_row_ok(its_name.*)) itself.
 */
/* the columns a row check reads, with the type each must have (0: an enum) */
typedef struct RowShape
{
	const char *function;		/* for errors */
	const char *table;
	int			ncols;
	const char *const *columns;
	const Oid  *types;
} RowShape;

typedef struct RowCheckCache
{
	Oid			typid;
	uint64		tupdesc_id;		/* the type cache's identifier of its layout */
	int			natts;
	int			attno[NARGS];	/* attribute index of each checked column */
	Oid			atttype[NARGS];
	Oid			collation[NARGS];
	Oid			active;			/* leads: the campaign_status enum's 'active' */
} RowCheckCache;

/* the type each checked column must have (0: an enum) */
static const Oid LeadCheckTypes[NARGS] = {
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BYTEAOID, INT4OID,
	NUMERICOID, INT4OID, JSONBOID, JSONBOID, NUMERICOID, INT4OID,
	BOOLOID, TIMESTAMPTZOID, InvalidOid, InvalidOid, TIMESTAMPTZOID, TEXTOID,
	TEXTOID, BOOLOID, TIMESTAMPTZOID
};

static const RowShape LeadShape = {"ec.leads_row_ok", "ec.leads", NARGS, LeadCheckColumns, LeadCheckTypes};

/* fills *c for desc; false if a column is missing or of another type */
static bool
RowCheckMatch(const RowShape *shape, RowCheckCache *c, TupleDesc desc, Oid typid, uint64 tupdesc_id,
			  int *missing)
{
	int			i,
				a;

	c->typid = InvalidOid;		/* until complete */
	c->natts = desc->natts;
	c->active = InvalidOid;
	for (i = 0; i < shape->ncols; i++)
	{
		Form_pg_attribute att = NULL;

		for (a = 0; a < desc->natts; a++)
		{
			att = TupleDescAttr(desc, a);
			if (!att->attisdropped && strcmp(NameStr(att->attname), shape->columns[i]) == 0)
				break;
		}
		if (a == desc->natts ||
			(OidIsValid(shape->types[i]) ? att->atttypid != shape->types[i] :
			 get_typtype(att->atttypid) != TYPTYPE_ENUM))
		{
			*missing = i;
			return false;
		}
		c->attno[i] = a;
		c->atttype[i] = att->atttypid;
		c->collation[i] = att->attcollation;
	}
	c->tupdesc_id = tupdesc_id;
	c->typid = typid;
	return true;
}

static void
RowCheckPrepare(const RowShape *shape, RowCheckCache *c, TupleDesc desc, Oid typid, uint64 tupdesc_id)
{
	int			missing;

	if (!RowCheckMatch(shape, c, desc, typid, tupdesc_id, &missing))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s: row type %s has no column \"%s\" of the type %s gives it",
						shape->function, format_type_be(typid), shape->columns[missing], shape->table)));
}

/*
 * The shape's columns of the row in argument 0.  The columns are found
 * through the session's cache, or for an anonymous record type through
 * *local for this row only; returns the cache used, *prepared when this call
 * filled it.
 */
static RowCheckCache *
RowCheckRead(FunctionCallInfo fcinfo, const RowShape *shape, RowCheckCache *session, RowCheckCache *local,
			 Datum *v, bool *isnull, bool *prepared)
{
	RowCheckCache *c = session;
	HeapTupleHeader rec = PG_GETARG_HEAPTUPLEHEADER(0);
	Oid			typid = HeapTupleHeaderGetTypeId(rec);
	int32		typmod = HeapTupleHeaderGetTypMod(rec);
	TupleDesc	desc;
	bool		pinned = false;
	HeapTupleData tup;
	Datum	   *vals;
	bool	   *nulls;
	int			i;

	*prepared = false;
	if (typmod >= 0)
	{
		/* an anonymous record type: prepared for this row only */
		desc = lookup_rowtype_tupdesc(typid, typmod);
		pinned = true;
		c = local;
		RowCheckPrepare(shape, c, desc, typid, 0);
		*prepared = true;
	}
	else
	{
		/*
		 * The type cache's own descriptor, not pinned: nothing below can
		 * invalidate it before the row is deformed, and pinning it went
		 * through the resource owner for every row checked (a tenth of a
		 * batch's events).
		 */
		TypeCacheEntry *tc = lookup_type_cache(typid, TYPECACHE_TUPDESC);

		desc = tc->tupDesc;
		if (desc == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("type %s is not composite", format_type_be(typid))));
		if (c->typid != typid || c->tupdesc_id != tc->tupDesc_identifier || c->natts != desc->natts)
		{
			/* (may read the catalogs: pinned while it does) */
			desc = lookup_rowtype_tupdesc(typid, typmod);
			pinned = true;
			RowCheckPrepare(shape, c, desc, typid, tc->tupDesc_identifier);
			*prepared = true;
		}
	}
	tup.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = rec;
	vals = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	heap_deform_tuple(&tup, desc, vals, nulls);
	if (pinned)
		ReleaseTupleDesc(desc);
	for (i = 0; i < shape->ncols; i++)
	{
		v[i] = vals[c->attno[i]];
		isnull[i] = nulls[c->attno[i]];
	}
	pfree(vals);
	pfree(nulls);
	return c;
}

/*
 * Kept for the session (the flinfo of a CHECK lives one statement): valid
 * while the row type's layout is the one the type cache knows by the same
 * identifier, which changes with any ALTER TABLE.
 */
static RowCheckCache LeadRowCheck;
static RowCheckCache EventRowCheck;

PG_FUNCTION_INFO_V1(ec_leads_row_ok);

Datum
ec_leads_row_ok(PG_FUNCTION_ARGS)
{
	RowCheckCache local;
	RowCheckCache *c;
	Datum		v[NARGS];
	bool		isnull[NARGS];
	bool		prepared;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	c = RowCheckRead(fcinfo, &LeadShape, &LeadRowCheck, &local, v, isnull, &prepared);
	if (prepared)
		c->active = ActiveOf(c->atttype[NVALUES + 3]);
	CheckLeadValues(v, isnull, c->active, c->collation[0]);
	PG_RETURN_BOOL(true);
}

/*
 * ec.pipeline_events_row_ok(record): pipeline_events_values_check, the
 * log's two value checks over its row (the reason is that of
 * ec.leads_row_ok: two CHECK expressions to read per statement cost more
 * than writing the event).  event_type must be a lower-case name,
 * duration_ms zero or more; NULL passes; a violation raises check_violation
 * naming the column.
 */
static const char *const EventCheckColumns[2] = {"event_type", "duration_ms"};
static const Oid EventCheckTypes[2] = {TEXTOID, NUMERICOID};
static const RowShape EventShape = {"ec.pipeline_events_row_ok", "ec.pipeline_events", 2,
EventCheckColumns, EventCheckTypes};

/* the two rules over (event_type, duration_ms); NULL passes */
static void
CheckEventValues(const Datum *v, const bool *isnull)
{
	if (!isnull[0] && !DatumGetBool(DirectFunctionCall1(ec_is_snake_name, v[0])))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("new row violates check constraint \"%s\": %s",
						"pipeline_events_values_check",
						"event_type must be a lower-case name (a letter, then letters, digits and underscores)"),
				 err_generic_string(PG_DIAG_COLUMN_NAME, "event_type"),
				 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "pipeline_events_values_check")));
	if (!isnull[1] && NumericCmpInt(v[1], 0) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("new row violates check constraint \"%s\": %s",
						"pipeline_events_values_check", "duration_ms must be zero or more"),
				 err_generic_string(PG_DIAG_COLUMN_NAME, "duration_ms"),
				 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "pipeline_events_values_check")));
}

PG_FUNCTION_INFO_V1(ec_pipeline_events_row_ok);

Datum
ec_pipeline_events_row_ok(PG_FUNCTION_ARGS)
{
	RowCheckCache local;
	Datum		v[2];
	bool		isnull[2];
	bool		prepared;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	(void) RowCheckRead(fcinfo, &EventShape, &EventRowCheck, &local, v, isnull, &prepared);
	CheckEventValues(v, isnull);
	PG_RETURN_BOOL(true);
}

/*
 * The row checks above, for writers that hold the row as values
 * (src/common/bulk_insert.c, src/identity/leadwrite.c).  Through the CHECK,
 * the executor builds a composite datum of the whole row for every row
 * written (about 8,000 instructions for a lead's 50 columns) and the
 * function takes it apart again; a writer that finds the CHECK to be
 * exactly one of these calls over its table's row calls the same checks
 * with the row's values instead.  Same rules, same errors.
 */
struct EcRowCheck
{
	bool		leads;			/* else pipeline_events */
	RowCheckCache c;
};

EcRowCheck *
EcRowCheckFor(Oid funcid, TupleDesc desc)
{
	FmgrInfo	fi;
	EcRowCheck *rc;
	int			missing;

	fmgr_info(funcid, &fi);
	if (fi.fn_addr != ec_leads_row_ok && fi.fn_addr != ec_pipeline_events_row_ok)
		return NULL;
	rc = palloc0(sizeof(EcRowCheck));
	rc->leads = fi.fn_addr == ec_leads_row_ok;
	/* not the columns the check reads: the call itself says so, row by row */
	if (!RowCheckMatch(rc->leads ? &LeadShape : &EventShape, &rc->c, desc, desc->tdtypeid, 0, &missing))
	{
		pfree(rc);
		return NULL;
	}
	if (rc->leads)
		rc->c.active = ActiveOf(rc->c.atttype[NVALUES + 3]);
	return rc;
}

void
EcRowCheckRun(const EcRowCheck *rc, const Datum *values, const bool *isnull)
{
	Datum		v[NARGS];
	bool		n[NARGS];
	int			i;

	for (i = 0; i < (rc->leads ? NARGS : 2); i++)
	{
		v[i] = values[rc->c.attno[i]];
		n[i] = isnull[rc->c.attno[i]];
	}
	if (rc->leads)
		CheckLeadValues(v, n, rc->c.active, rc->c.collation[0]);
	else
		CheckEventValues(v, n);
}
