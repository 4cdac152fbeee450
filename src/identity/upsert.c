/*-------------------------------------------------------------------------
 *
 * upsert.c
 *		ec.upsert_lead, ec.upsert_leads and ec.upsert_staged_leads: one
 *		property, one lead.
 *
 * Per lead:
 *	1. parse the jsonb (keys of ec.leads plus provider fields; unknown keys
 *	   go to extra) and derive the keys with the pure core: MAK, the
 *	   county-scoped APN key, addr_hash;
 *	2. look the three keys up: one probe of each key's unique index
 *	   (lookup.c), for a batch each distinct key in sorted order (one
 *	   indexed statement where the probes cannot be used);
 *	3. cascade: the lead holding the MAK wins, then the APN's, then the
 *	   address hash's; none -> INSERT in a subtransaction (a racing
 *	   session's insert of the same key rolls it back, and the lead finds
 *	   that lead on the next pass);
 *	4. merge safely: NULL/empty never overwrites, verified stays verified
 *	   unless a provider code says invalid, arrays are unioned in order,
 *	   payloads kept per provider, keys filled only where empty and never
 *	   taken from another lead (that is recorded as a conflict in
 *	   pipeline_dlq), do_not_contact is sticky, a newly verified 'new' lead
 *	   becomes 'queued';
 *	5. a pipeline_events row (dedupe_success / dedupe_failed, duration_ms).
 *
 * No unique violation reaches the caller: inserts, and the updates that
 * fill in a key, run in a subtransaction whose unique violation sends the
 * lead round the cascade again (a batch falls back to INSERT ... ON
 * CONFLICT DO NOTHING).  Values are validated here so that no CHECK constraint can fail.
 *
 * Every statement is a prepared plan kept for the session, with
 * parameters only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/plancache.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"

#include "core/address.h"
#include "core/lead_keys.h"
#include "identity/identity.h"
#include "common/jsonb_push.h"
#include "common/jsonb_write.h"
#include "common/bulk_insert.h"
#include "common/subxact.h"

/* the columns upsert writes, in parameter order */
typedef enum LeadCol
{
	C_FIRST_NAME,
	C_LAST_NAME,
	C_EMAIL,
	C_EMAILS,
	C_PHONE,
	C_PHONES,
	C_EMAIL_VERIFIED,
	C_PHONE_VERIFIED,
	C_ADDRESS,
	C_UNIT,
	C_CITY,
	C_STATE,
	C_ZIP,
	C_COUNTY_FIPS,
	C_APN,
	C_APN_KEY,
	C_MAK,
	C_ADDR_HASH,
	C_OWNER_AGE,
	C_OWNER_OCCUPIED,
	C_EST_VALUE,
	C_EST_EQUITY,
	C_YEARS_OWNED,
	C_CODES,
	C_PAYLOADS,
	C_EXTRA,
	C_SOURCES,
	C_STATUS,
	C_BROKER,
	NCOLS
} LeadCol;

static const struct
{
	const char *name;
	Oid			type;
}			Cols[NCOLS] = {
	{"first_name", TEXTOID},
	{"last_name", TEXTOID},
	{"email", TEXTOID},
	{"emails", TEXTARRAYOID},
	{"phone", TEXTOID},
	{"phones", TEXTARRAYOID},
	{"email_verified", BOOLOID},
	{"phone_verified", BOOLOID},
	{"property_address", TEXTOID},
	{"property_unit", TEXTOID},
	{"property_city", TEXTOID},
	{"property_state", TEXTOID},
	{"property_zip", TEXTOID},
	{"county_fips", TEXTOID},
	{"apn", TEXTOID},
	{"apn_key", TEXTOID},
	{"mak", TEXTOID},
	{"addr_hash", BYTEAOID},
	{"owner_age", INT4OID},
	{"owner_occupied", BOOLOID},
	{"estimated_value", NUMERICOID},
	{"estimated_equity", NUMERICOID},
	{"years_owned", INT4OID},
	{"verification_codes", TEXTARRAYOID},
	{"provider_payloads", JSONBOID},
	{"extra", JSONBOID},
	{"sources", TEXTARRAYOID},
	{"campaign_status", TEXTOID},
	{"assigned_broker_id", INT8OID},
};

/* a lead's column values */
typedef struct LeadRow
{
	int64		id;
	TransactionId xmin;			/* the version read (0 when not read) */
	ItemPointerData tid;		/* where that version is (when read) */
	Datum		v[NCOLS];
	bool		null[NCOLS];
} LeadRow;

/* one parsed input lead */
typedef struct LeadIn
{
	const char *source;
	Jsonb	   *raw;
	const char *reject;			/* reason the lead cannot be upserted */
	LeadRow		row;			/* values given (null = not given) */
	List	   *emails;			/* char *, normalized, in order */
	List	   *phones;
	List	   *codes;
	Jsonb	   *payload;
	Jsonb	   *extra;
	EcVerdict	email_verdict;
	EcVerdict	phone_verdict;
	bool		dnc;
	List	   *warnings;		/* char *, snake_case */
} LeadIn;

/* one lead's answer */
typedef struct LeadOut
{
	int64		lead_id;		/* 0 when rejected */
	const char *action;
	const char *matched_on;		/* NULL, "mak", "apn", "addr_hash" */
	const char *status;			/* campaign_status after the upsert */
	const char *reason;
	StringInfo	conflict;		/* JSON object, or NULL */
	int64		broker_id;
	bool		queued;			/* moved from new to queued */
	List	   *warnings;
} LeadOut;

/* leads are upserted, and staging rows marked, in batches of BATCH_MAX */
#define BATCH_MAX 1000

/*
 * A bulk call's events are kept until EVENTS_MAX of them (or the call's
 * end) and written together, in lead-id order: the log's lead index then
 * takes the entries of a whole call's stored leads in key order, a few per
 * page, where a batch's entries each went to a page of their own.  An
 * event kept takes 43 bytes (their values are shared: a batch's duration, a
 * few types and details), so 5.6 MB at most.
 */
#define EVENTS_MAX 131072

typedef struct Batch
{
	int			n;
	int			cap;			/* room for this many events */
	int			max;			/* written when this many are kept */
	Datum	   *type;
	bool	   *ok;
	Datum	   *lead;
	bool	   *lead_null;
	Datum	   *broker;
	bool	   *broker_null;
	Datum	   *ms;
	Datum	   *detail;
	MemoryContext cxt;			/* the events' values; reset when written */

	/*
	 * Values built in cxt and reused until it is reset: the leads of a batch
	 * share one duration (their share of it), the events a handful of types
	 * and details.
	 */
	bool		has_ms;
	double		last_ms;
	Datum		last_ms_num;
	int			ntypes;
	struct
	{
		const char *name;
		Datum		text;
	}			types[4];
	Datum		queued_detail;
	int			ndetails;
	bool		lead_events;	/* dedupe_success / dedupe_failed per lead */
	struct
	{
		const char *action;
		const char *matched_on;
		const char *source;
		const char *reason;
		bool		conflict;
		Datum		detail;
	}			details[8];
} Batch;

#define NUMERIC_TYPMOD_12_3 ((int32) (((12 << 16) | 3) + VARHDRSZ))

static SPIPlanPtr LookupPlans[8];	/* by the keys a lead has: 1 MAK, 2 APN, 4 hash */
static SPIPlanPtr InsertPlainPlan = NULL;
static SPIPlanPtr EventPlan = NULL;
static SPIPlanPtr EventOnePlan = NULL;
static SPIPlanPtr DlqPlan = NULL;
static SPIPlanPtr BrokerPlan = NULL;
static SPIPlanPtr StagedPlan = NULL;
static SPIPlanPtr StagedDonePlan = NULL;

#define NUMERIC_TYPMOD_14_2 ((int32) (((14 << 16) | 2) + VARHDRSZ))
#define MAX_RETRIES 5

/* ---------------------------------------------------------------------
 * Prepared plans
 * --------------------------------------------------------------------- */

static SPIPlanPtr
Prepare(const char *sql, int nargs, Oid *types)
{
	/*
	 * A generic plan: every lookup is an index probe whatever the values, and
	 * custom plans would be planned again on every call.
	 */
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");

	/*
	 * Build the generic plan now, with sequential scans off: on a new, still
	 * empty ec.leads a plan built from its statistics would scan the table
	 * for every lead of a first bulk load.  ANALYZE invalidates and replans
	 * it from real statistics later.
	 */
	{
		int			level = NewGUCNestLevel();
		CachedPlan *cplan;

		(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		cplan = SPI_plan_get_cached_plan(plan);
		if (cplan)
			ReleaseCachedPlan(cplan, CurrentResourceOwner);
		AtEOXact_GUC(true, level);
	}
	return plan;
}

/*
 * UPDATE plans per set of changed columns.  An UPDATE names only the
 * columns its leads changed: a merge that adds a phone sets phones and
 * sources, not 29 columns, so the executor carries and projects less, and
 * the BEFORE UPDATE OF triggers of ec.leads (lead score, lifecycle) fire
 * only when their columns are written.  Kept per session; past
 * MAX_MASK_PLANS sets, the plan naming every column serves.
 */
typedef uint32 ColMask;

#define ALL_COLS ((ColMask) ((((uint64) 1) << NCOLS) - 1))
#define MAX_MASK_PLANS 32

typedef struct MaskPlan
{
	ColMask		mask;
	SPIPlanPtr	plan;
} MaskPlan;

typedef struct MaskPlans
{
	int			n;
	MaskPlan	plans[MAX_MASK_PLANS];
} MaskPlans;

static MaskPlans UpdatePlans;		/* one lead: scalar parameters */
static MaskPlans BatchUpdatePlans;	/* a batch: array parameters */

static SPIPlanPtr BuildUpdatePlan(ColMask mask, bool batch);
static bool RunRaced(void (*work) (void *), void *arg);

static SPIPlanPtr
UpdatePlanFor(ColMask *mask, bool batch)
{
	MaskPlans  *mp = batch ? &BatchUpdatePlans : &UpdatePlans;
	int			i;

	if (mp->n >= MAX_MASK_PLANS - 1)
		*mask = ALL_COLS;
	for (i = 0; i < mp->n; i++)
		if (mp->plans[i].mask == *mask)
			return mp->plans[i].plan;
	mp->plans[mp->n].plan = BuildUpdatePlan(*mask, batch);
	mp->plans[mp->n].mask = *mask;
	return mp->plans[mp->n++].plan;
}

/* the columns as a select list, campaign_status as text */
static void
AppendSelectList(StringInfo sql)
{
	int			i;

	appendStringInfoString(sql, "id");
	for (i = 0; i < NCOLS; i++)
		appendStringInfo(sql, i == C_STATUS ? ", %s::pg_catalog.text" : ", %s",
						 Cols[i].name);
}

/*
 * The lookup of the keys a lead has (keys: 1 MAK, 2 APN key, 4 address
 * hash), a plan per combination: a lead with an address hash only is one
 * index probe, not a BitmapOr over three indexes of which two get NULL.
 */
static SPIPlanPtr
LookupPlanFor(int keys)
{
	static const char *const names[3] = {"mak", "apn_key", "addr_hash"};
	static const Oid types[3] = {TEXTOID, TEXTOID, BYTEAOID};

	if (LookupPlans[keys] == NULL)
	{
		StringInfoData sql;
		Oid			lt[3];
		int			i,
					n = 0;

		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT ");
		AppendSelectList(&sql);
		appendStringInfoString(&sql, ", xmin, ctid FROM ec.leads WHERE ");
		for (i = 0; i < 3; i++)
		{
			if (!(keys & (1 << i)))
				continue;
			appendStringInfo(&sql, "%s%s OPERATOR(pg_catalog.=) $%d", n ? " OR " : "", names[i], n + 1);
			lt[n++] = types[i];
		}
		LookupPlans[keys] = Prepare(sql.data, n, lt);
		pfree(sql.data);
	}
	return LookupPlans[keys];
}

static void
PreparePlans(void)
{
	StringInfoData sql;
	Oid			types[NCOLS + 2];
	int			i;

	if (StagedDonePlan != NULL)
		return;					/* prepared last: all are there */
	for (i = 0; i < NCOLS; i++)
		types[i] = Cols[i].type;
	types[NCOLS] = INT8OID;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO ec.leads (");
	for (i = 0; i < NCOLS; i++)
		appendStringInfo(&sql, "%s%s", i ? ", " : "", Cols[i].name);
	appendStringInfoString(&sql, ") VALUES (");
	for (i = 0; i < NCOLS; i++)
		appendStringInfo(&sql, i == C_STATUS ? "%s$%d::ec.campaign_status" : "%s$%d",
						 i ? ", " : "", i + 1);
	appendStringInfoString(&sql, ") RETURNING id");
	InsertPlainPlan = Prepare(sql.data, NCOLS, types);

	{
		Oid			et[6] = {TEXTARRAYOID, BOOLARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
		NUMERICARRAYOID, JSONBARRAYOID};

		EventPlan = Prepare("INSERT INTO ec.pipeline_events (event_type, ok, lead_id, broker_id, duration_ms, detail)"
							" SELECT u.t, u.o, u.l, u.b, u.d, u.x"
							" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
							" pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6)) AS u(t, o, l, b, d, x)",
							6, et);
	}
	{
		Oid			et[6] = {TEXTOID, BOOLOID, INT8OID, INT8OID, NUMERICOID, JSONBOID};

		EventOnePlan = Prepare("INSERT INTO ec.pipeline_events (event_type, ok, lead_id, broker_id, duration_ms, detail)"
							   " VALUES ($1, $2, $3, $4, $5, $6)",
							   6, et);
	}
	{
		Oid			dt[3] = {INT8OID, JSONBOID, TEXTOID};

		DlqPlan = Prepare("INSERT INTO ec.pipeline_dlq (source, kind, lead_id, payload, error)"
						  " VALUES ('identity', 'dedupe_conflict', $1, $2, $3)", 3, dt);
	}
	{
		Oid			bt[1] = {INT8OID};

		BrokerPlan = Prepare("SELECT 1 FROM ec.brokers WHERE id OPERATOR(pg_catalog.=) $1", 1, bt);
	}
	{
		Oid			st[1] = {INT8OID};

		StagedPlan = Prepare("SELECT id, record FROM ec.leads_staging"
							 " WHERE upload_id OPERATOR(pg_catalog.=) $1"
							 " AND validation_status OPERATOR(pg_catalog.=) 'valid'"
							 " ORDER BY row_number", 1, st);
	}
	{
		Oid			st[4] = {INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID};

		StagedDonePlan = Prepare("UPDATE ec.leads_staging s SET lead_id = u.l, action = u.a,"
								 " validation_status = CASE WHEN u.a OPERATOR(pg_catalog.=) 'rejected'"
								 " THEN 'rejected'::ec.staging_status ELSE 'upserted'::ec.staging_status END,"
								 " reasons = CASE WHEN u.r IS NULL THEN s.reasons"
								 " ELSE s.reasons OPERATOR(pg_catalog.||) u.r END"
								 " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
								 " pg_catalog.unnest($4)) AS u(i, l, a, r)"
								 " WHERE s.id OPERATOR(pg_catalog.=) u.i", 4, st);
	}
	pfree(sql.data);
}

/* ---------------------------------------------------------------------
 * Small helpers
 * --------------------------------------------------------------------- */

static char *
TrimCopy(const char *s, int len)
{
	while (len > 0 && isspace((unsigned char) s[0]))
	{
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char) s[len - 1]))
		len--;
	return len > 0 ? pnstrdup(s, len) : NULL;
}

/* a JSON scalar as a trimmed string; NULL for null, empty, arrays, objects */
static char *
ScalarString(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return TrimCopy(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

/* the strings of a JSON array or scalar (comma-separated when split) */
static List *
StringList(JsonbValue *v, bool split)
{
	List	   *out = NIL;

	if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	e;
		JsonbIteratorToken r;

		while ((r = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			if (r == WJB_ELEM)
				out = list_concat(out, StringList(&e, split));
		}
		return out;
	}
	else
	{
		char	   *s = ScalarString(v);

		if (s == NULL)
			return NIL;
		if (!split)
			return list_make1(s);
		for (;;)
		{
			char	   *comma = strchr(s, ',');
			char	   *part = TrimCopy(s, comma ? (int) (comma - s) : (int) strlen(s));

			if (part)
				out = lappend(out, part);
			if (comma == NULL)
				break;
			s = comma + 1;
		}
		return out;
	}
}

static bool
ListHasString(List *l, const char *s)
{
	ListCell   *lc;

	foreach(lc, l)
		if (strcmp((char *) lfirst(lc), s) == 0)
		return true;
	return false;
}

static List *
UnionStrings(List *a, List *b)
{
	ListCell   *lc;

	foreach(lc, b)
		if (!ListHasString(a, (char *) lfirst(lc)))
		a = lappend(a, lfirst(lc));
	return a;
}


static List *
ArrayStrings(Datum d, bool isnull)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;
	List	   *out = NIL;

	if (isnull)
		return NIL;
	arr = DatumGetArrayTypeP(d);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			out = lappend(out, TextDatumGetCString(elems[i]));
	return out;
}

static Datum
StringsArray(List *l)
{
	Datum	   *elems;
	int			n = list_length(l),
				i = 0;
	ListCell   *lc;

	if (n == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	elems = palloc(sizeof(Datum) * n);
	foreach(lc, l)
		elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Union a text[] column with new strings; the column keeps its datum when
 * nothing is new.
 */
static void
UnionColumn(LeadRow *m, const LeadRow *cur, LeadCol c, List *add)
{
	List	   *old = ArrayStrings(cur->v[c], cur->null[c]);
	int			n = list_length(old);

	old = UnionStrings(old, add);
	if (list_length(old) == n && !cur->null[c])
		return;
	m->v[c] = StringsArray(old);
	m->null[c] = false;
}

/* equal values of a column (varlenas compared detoasted, byte for byte) */
static bool
ValuesEqual(LeadCol c, Datum a, bool anull, Datum b, bool bnull)
{
	struct varlena *va,
			   *vb;

	if (anull || bnull)
		return anull == bnull;
	if (a == b)
		return true;			/* the very same value, untouched */
	switch (Cols[c].type)
	{
		case BOOLOID:
			return DatumGetBool(a) == DatumGetBool(b);
		case INT4OID:
			return DatumGetInt32(a) == DatumGetInt32(b);
		case INT8OID:
			return DatumGetInt64(a) == DatumGetInt64(b);
		case NUMERICOID:
			return DatumGetBool(DirectFunctionCall2(numeric_eq, a, b));
		default:
			va = pg_detoast_datum((struct varlena *) DatumGetPointer(a));
			vb = pg_detoast_datum((struct varlena *) DatumGetPointer(b));
			return VARSIZE(va) == VARSIZE(vb) &&
				memcmp(VARDATA(va), VARDATA(vb), VARSIZE(va) - VARHDRSZ) == 0;
	}
}

static void
SetText(LeadRow *r, LeadCol c, const char *s)
{
	if (s == NULL)
	{
		r->null[c] = true;
		return;
	}
	r->v[c] = CStringGetTextDatum(s);
	r->null[c] = false;
}

static const char *
TextOf(const LeadRow *r, LeadCol c)
{
	return r->null[c] ? NULL : TextDatumGetCString(r->v[c]);
}

static void
Warn(LeadIn *in, const char *w)
{
	in->warnings = lappend(in->warnings, (char *) w);
}

/* ---------------------------------------------------------------------
 * Value rules
 * --------------------------------------------------------------------- */

/* lower-case, trimmed, one '@' with something on each side, no spaces */
static char *
NormalizeEmail(const char *s)
{
	char	   *e = pstrdup(s);
	char	   *at;
	char	   *p;

	for (p = e; *p; p++)
	{
		if (isspace((unsigned char) *p))
			return NULL;
		*p = pg_ascii_tolower((unsigned char) *p);
	}
	at = strchr(e, '@');
	if (at == NULL || at == e || at[1] == '\0' || strchr(at + 1, '@') || strlen(e) > 320)
		return NULL;
	return e;
}

/* North American numbers as E.164: +1NXXNXXXXXX */
static char *
NormalizePhone(const char *s)
{
	char		d[16];
	int			n = 0;
	const char *p;

	for (p = s; *p; p++)
	{
		if (isdigit((unsigned char) *p))
		{
			if (n == 15)
				return NULL;
			d[n++] = *p;
		}
		else if (isalpha((unsigned char) *p))
			return NULL;		/* extensions and vanity numbers: not dialable */
	}
	d[n] = '\0';
	if (n == 11 && d[0] == '1')
	{
		memmove(d, d + 1, 11);
		n = 10;
	}
	if (n != 10 || d[0] < '2' || d[3] < '2')
		return NULL;
	return psprintf("+1%s", d);
}

/* an integer in [lo, hi], from "72", "72.0" or 72; false otherwise */
static bool
ParseInt(const char *s, int lo, int hi, int *out)
{
	char	   *end;
	double		d;

	if (s == NULL)
		return false;
	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || d != floor(d) || d < lo || d > hi)
		return false;
	*out = (int) d;
	return true;
}

/* "$350,000.50" -> numeric(14,2); false when not a plain amount */
static bool
ParseMoney(const char *s, bool allow_negative, Datum *out)
{
	StringInfoData b;
	const char *p;
	int			int_digits = 0;
	bool		dot = false,
				digits = false;

	initStringInfo(&b);
	for (p = s; *p; p++)
	{
		if (*p == '$' || *p == ',' || *p == ' ')
			continue;
		if (*p == '-' && b.len == 0 && allow_negative)
			appendStringInfoChar(&b, '-');
		else if (*p == '.' && !dot)
		{
			dot = true;
			appendStringInfoChar(&b, '.');
		}
		else if (isdigit((unsigned char) *p))
		{
			if (!dot && !(int_digits == 0 && *p == '0'))
				int_digits++;
			digits = true;
			appendStringInfoChar(&b, *p);
		}
		else
			return false;
	}
	if (!digits || int_digits > 11)
		return false;
	*out = DirectFunctionCall3(numeric_in, CStringGetDatum(b.data),
							   ObjectIdGetDatum(InvalidOid),
							   Int32GetDatum(NUMERIC_TYPMOD_14_2));
	return true;
}

static int
ParseBool(const char *s)
{
	if (s == NULL)
		return -1;
	if (pg_strcasecmp(s, "true") == 0 || pg_strcasecmp(s, "t") == 0 ||
		pg_strcasecmp(s, "yes") == 0 || pg_strcasecmp(s, "y") == 0 ||
		strcmp(s, "1") == 0)
		return 1;
	if (pg_strcasecmp(s, "false") == 0 || pg_strcasecmp(s, "f") == 0 ||
		pg_strcasecmp(s, "no") == 0 || pg_strcasecmp(s, "n") == 0 ||
		strcmp(s, "0") == 0)
		return 0;
	return -1;
}

static bool
BrokerExists(int64 id)
{
	Datum		arg = Int64GetDatum(id);
	int			rc = SPI_execute_plan(BrokerPlan, &arg, NULL, false, 1);

	bool		found;

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	found = SPI_processed > 0;
	SPI_freetuptable(SPI_tuptable);
	return found;
}

static EcVerdict
Worse(EcVerdict a, EcVerdict b)
{
	if (a == EC_VERDICT_INVALID || b == EC_VERDICT_INVALID)
		return EC_VERDICT_INVALID;
	if (a == EC_VERDICT_VALID || b == EC_VERDICT_VALID)
		return EC_VERDICT_VALID;
	return a > b ? a : b;
}

/* ---------------------------------------------------------------------
 * Parsing one lead
 * --------------------------------------------------------------------- */

/*
 * What ParseKeys made of a lead, kept so that parsing the lead again does
 * not normalize its address again: the columns it sets (texts and a bytea),
 * its warnings and its reason to reject the lead.
 */
typedef enum KeyPos
{
	KP_ADDRESS,
	KP_UNIT,
	KP_CITY,
	KP_STATE,
	KP_ZIP,
	KP_ADDR_HASH,
	KP_COUNTY_FIPS,
	KP_APN,
	KP_APN_KEY,
	KP_MAK,
	NKEYCOLS
} KeyPos;

static const LeadCol KeyCols[NKEYCOLS] = {
	[KP_ADDRESS] = C_ADDRESS,
	[KP_UNIT] = C_UNIT,
	[KP_CITY] = C_CITY,
	[KP_STATE] = C_STATE,
	[KP_ZIP] = C_ZIP,
	[KP_ADDR_HASH] = C_ADDR_HASH,
	[KP_COUNTY_FIPS] = C_COUNTY_FIPS,
	[KP_APN] = C_APN,
	[KP_APN_KEY] = C_APN_KEY,
	[KP_MAK] = C_MAK,
};

typedef struct KeyVals
{
	const char *reject;
	List	   *warnings;		/* constant texts */
	Datum		v[NKEYCOLS];
	bool		null[NKEYCOLS];
} KeyVals;

/* in's key columns, warnings and reject reason, in one allocation */
static KeyVals *
KeyValsMake(const LeadIn *in)
{
	Size		size = MAXALIGN(sizeof(KeyVals));
	KeyVals    *kv;
	char	   *p;
	int			k;

	for (k = 0; k < NKEYCOLS; k++)
		if (!in->row.null[KeyCols[k]])
			size += INTALIGN(VARSIZE_ANY(DatumGetPointer(in->row.v[KeyCols[k]])));
	kv = palloc(size);
	p = (char *) kv + MAXALIGN(sizeof(KeyVals));
	kv->reject = in->reject;
	kv->warnings = list_copy(in->warnings);
	for (k = 0; k < NKEYCOLS; k++)
	{
		kv->null[k] = in->row.null[KeyCols[k]];
		kv->v[k] = (Datum) 0;
		if (!kv->null[k])
		{
			const void *v = DatumGetPointer(in->row.v[KeyCols[k]]);

			memcpy(p, v, VARSIZE_ANY(v));
			kv->v[k] = PointerGetDatum(p);
			p += INTALIGN(VARSIZE_ANY(v));
		}
	}
	return kv;
}

/*
 * The end of ParseLead: the normalized address and its hash, the county,
 * the APN key and the MAK, from the fields as they came.
 */
static void
ParseKeys(LeadIn *in, char **addr, char *county, char *apn, char *mak)
{
	/* the property and its address hash */
	if (addr[0] || addr[1] || addr[2] || addr[3] || addr[4])
	{
		EcAddress	a;
		EcAddrStatus st;

		st = EcAddressNormalize(addr[0], addr[0] ? strlen(addr[0]) : 0,
								addr[1], addr[1] ? strlen(addr[1]) : 0,
								addr[2], addr[2] ? strlen(addr[2]) : 0,
								addr[3], addr[3] ? strlen(addr[3]) : 0,
								addr[4], addr[4] ? strlen(addr[4]) : 0, &a);
		if (st == EC_ADDR_OK)
		{
			bytea	   *h = palloc(VARHDRSZ + EC_ADDR_HASH_LEN);

			SetText(&in->row, C_ADDRESS, a.line);
			SetText(&in->row, C_UNIT, a.unit[0] ? a.unit : NULL);
			SetText(&in->row, C_CITY, a.city[0] ? a.city : NULL);
			SetText(&in->row, C_STATE, (a.state[0] && !(a.flags & EC_ADDR_WARN_STATE)) ? a.state : NULL);
			SetText(&in->row, C_ZIP, a.zip5[0] ? a.zip5 : NULL);
			if (a.flags & EC_ADDR_WARN_STATE)
				Warn(in, "property_state_unknown");
			if (a.flags & EC_ADDR_WARN_ZIP)
				Warn(in, "property_zip_invalid");
			SET_VARSIZE(h, VARHDRSZ + EC_ADDR_HASH_LEN);
			if (EcAddressHash(&a, (unsigned char *) VARDATA(h)) == EC_ADDR_OK)
			{
				in->row.v[C_ADDR_HASH] = PointerGetDatum(h);
				in->row.null[C_ADDR_HASH] = false;
			}
			else
				Warn(in, "address_incomplete");
		}
		else if (st != EC_ADDR_EMPTY)
			Warn(in, EcAddrStatusReason(st));
		else if (addr[3])
		{
			const char *code = EcStateCode(addr[3], strlen(addr[3]));

			if (code)
				SetText(&in->row, C_STATE, code);
		}
	}

	/* county, APN, MAK */
	if (county)
	{
		char		fips[6];
		const char *code;

		if (EcCountyFips(addr[3], addr[3] ? strlen(addr[3]) : 0, county, strlen(county),
						 fips, &code) == EC_KEY_OK)
			SetText(&in->row, C_COUNTY_FIPS, fips);
		else
			Warn(in, "county_fips_invalid");
	}
	if (apn)
	{
		char		key[EC_APN_KEY_MAX + 1];
		EcKeyStatus st = EcApnNormalize(apn, strlen(apn), addr[3], addr[3] ? strlen(addr[3]) : 0,
										county, county ? strlen(county) : 0, key);

		if (st == EC_KEY_OK)
		{
			SetText(&in->row, C_APN, apn);
			SetText(&in->row, C_APN_KEY, key);
		}
		else
			Warn(in, EcKeyStatusReason(st));
	}
	if (mak)
	{
		char		m[EC_MAK_LEN + 1];

		if (EcMakNormalize(mak, strlen(mak), m) == EC_KEY_OK)
			SetText(&in->row, C_MAK, m);
		else
			Warn(in, "mak_invalid");
	}

	if (in->row.null[C_MAK] && in->row.null[C_APN_KEY] && in->row.null[C_ADDR_HASH])
		in->reject = "no_identity_key";
}

typedef enum InKey
{
	K_UNKNOWN,
	K_FIRST_NAME,
	K_LAST_NAME,
	K_EMAIL,
	K_EMAILS,
	K_PHONE,
	K_PHONES,
	K_ADDRESS,
	K_UNIT,
	K_CITY,
	K_STATE,
	K_ZIP,
	K_COUNTY_FIPS,
	K_APN,
	K_MAK,
	K_OWNER_AGE,
	K_OWNER_OCCUPIED,
	K_EST_VALUE,
	K_EST_EQUITY,
	K_YEARS_OWNED,
	K_BROKER,
	K_CODES,
	K_PAYLOAD,
	K_EXTRA,
	K_EMAIL_VERIFIED,
	K_PHONE_VERIFIED,
	K_CAMPAIGN_STATUS,
	K_DO_NOT_CONTACT
} InKey;

static const struct
{
	const char *name;
	InKey		key;
}			InKeys[] = {
	{"first_name", K_FIRST_NAME},
	{"last_name", K_LAST_NAME},
	{"email", K_EMAIL},
	{"emails", K_EMAILS},
	{"phone", K_PHONE},
	{"phones", K_PHONES},
	{"property_address", K_ADDRESS},
	{"property_unit", K_UNIT},
	{"property_city", K_CITY},
	{"property_state", K_STATE},
	{"property_zip", K_ZIP},
	{"county_fips", K_COUNTY_FIPS},
	{"apn", K_APN},
	{"mak", K_MAK},
	{"owner_age", K_OWNER_AGE},
	{"owner_occupied", K_OWNER_OCCUPIED},
	{"estimated_value", K_EST_VALUE},
	{"estimated_equity", K_EST_EQUITY},
	{"years_owned", K_YEARS_OWNED},
	{"assigned_broker_id", K_BROKER},
	{"verification_codes", K_CODES},
	{"payload", K_PAYLOAD},
	{"extra", K_EXTRA},
	{"email_verified", K_EMAIL_VERIFIED},
	{"phone_verified", K_PHONE_VERIFIED},
	{"campaign_status", K_CAMPAIGN_STATUS},
	{"do_not_contact", K_DO_NOT_CONTACT},
};

static InKey
LookupKey(const char *s, int len)
{
	int			i;

	for (i = 0; i < lengthof(InKeys); i++)
		if ((int) strlen(InKeys[i].name) == len && memcmp(InKeys[i].name, s, len) == 0)
			return InKeys[i].key;
	return K_UNKNOWN;
}

static void
ParseLead(Jsonb *jb, const char *source, LeadIn *in, bool keys_only, const KeyVals *kv)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken r;
	JsonbParseState *extra = NULL;
	bool		has_extra = false;
	char	   *addr[5] = {NULL, NULL, NULL, NULL, NULL};
	char	   *county = NULL,
			   *apn = NULL,
			   *mak = NULL;
	int			i;
	ListCell   *lc;

	memset(in, 0, sizeof(*in));
	in->source = source;
	in->raw = jb;
	for (i = 0; i < NCOLS; i++)
		in->row.null[i] = true;

	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
	{
		in->reject = "lead_not_an_object";
		return;
	}

	pushJsonbValue(&extra, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&jb->root);
	while ((r = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		InKey		key;
		char	   *s;
		int			n;

		if (r != WJB_KEY)
			continue;
		r = JsonbIteratorNext(&it, &v, true);
		key = LookupKey(k.val.string.val, k.val.string.len);
		if (keys_only || kv != NULL)
		{
			bool		is_key = key == K_ADDRESS || key == K_UNIT || key == K_CITY || key == K_STATE ||
				key == K_ZIP || key == K_COUNTY_FIPS || key == K_APN || key == K_MAK;

			/* keys only; or all but the keys, which kv has */
			if (is_key != keys_only)
				continue;
		}
		/*
		 * An "extra" object (an upload's unmapped columns) joins the lead's
		 * extra key by key: its keys are never read as lead fields, and they
		 * are not nested one level down.
		 */
		if (key == K_EXTRA && v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
		{
			JsonbIterator *eit = JsonbIteratorInit(v.val.binary.data);
			JsonbValue	ek,
						ev;
			JsonbIteratorToken er;

			while ((er = JsonbIteratorNext(&eit, &ek, true)) != WJB_DONE)
			{
				if (er != WJB_KEY)
					continue;
				JsonbIteratorNext(&eit, &ev, true);
				if (ev.type == jbvNull)
					continue;
				pushJsonbValue(&extra, WJB_KEY, &ek);
				pushJsonbValue(&extra, WJB_VALUE, &ev);
				has_extra = true;
			}
			continue;
		}
		if (key == K_EXTRA)
			key = K_UNKNOWN;	/* not an object: kept as it came */
		if (key == K_UNKNOWN)
		{
			if (v.type != jbvNull)
			{
				pushJsonbValue(&extra, WJB_KEY, &k);
				pushJsonbValue(&extra, WJB_VALUE, &v);
				has_extra = true;
			}
			continue;
		}
		if (key == K_EMAIL || key == K_EMAILS)
		{
			foreach(lc, StringList(&v, key == K_EMAILS))
			{
				char	   *e = NormalizeEmail((char *) lfirst(lc));

				if (e)
					in->emails = UnionStrings(in->emails, list_make1(e));
				else
					Warn(in, "email_invalid");
			}
			continue;
		}
		if (key == K_PHONE || key == K_PHONES)
		{
			foreach(lc, StringList(&v, key == K_PHONES))
			{
				char	   *p = NormalizePhone((char *) lfirst(lc));

				if (p)
					in->phones = UnionStrings(in->phones, list_make1(p));
				else
					Warn(in, "phone_invalid");
			}
			continue;
		}
		if (key == K_CODES)
		{
			foreach(lc, StringList(&v, true))
			{
				char	   *c = (char *) lfirst(lc);
				char	   *p;

				for (p = c; *p; p++)
					*p = pg_ascii_toupper((unsigned char) *p);
				if (strlen(c) > 8)
				{
					Warn(in, "verification_code_invalid");
					continue;
				}
				in->codes = UnionStrings(in->codes, list_make1(c));
			}
			continue;
		}
		if (key == K_PAYLOAD)
		{
			if (v.type != jbvNull)
				in->payload = JsonbValueToJsonb(&v);
			continue;
		}

		s = ScalarString(&v);
		if (s == NULL)
			continue;			/* null or empty never overwrites */
		switch (key)
		{
			case K_FIRST_NAME:
				SetText(&in->row, C_FIRST_NAME, s);
				break;
			case K_LAST_NAME:
				SetText(&in->row, C_LAST_NAME, s);
				break;
			case K_ADDRESS:
				addr[0] = s;
				break;
			case K_UNIT:
				addr[1] = s;
				break;
			case K_CITY:
				addr[2] = s;
				break;
			case K_STATE:
				addr[3] = s;
				break;
			case K_ZIP:
				addr[4] = s;
				break;
			case K_COUNTY_FIPS:
				county = s;
				break;
			case K_APN:
				apn = s;
				break;
			case K_MAK:
				mak = s;
				break;
			case K_OWNER_AGE:
				if (ParseInt(s, 18, 120, &n))
				{
					in->row.v[C_OWNER_AGE] = Int32GetDatum(n);
					in->row.null[C_OWNER_AGE] = false;
				}
				else
					Warn(in, "owner_age_invalid");
				break;
			case K_YEARS_OWNED:
				if (ParseInt(s, 0, 150, &n))
				{
					in->row.v[C_YEARS_OWNED] = Int32GetDatum(n);
					in->row.null[C_YEARS_OWNED] = false;
				}
				else
					Warn(in, "years_owned_invalid");
				break;
			case K_OWNER_OCCUPIED:
				if ((n = ParseBool(s)) >= 0)
				{
					in->row.v[C_OWNER_OCCUPIED] = BoolGetDatum(n == 1);
					in->row.null[C_OWNER_OCCUPIED] = false;
				}
				else
					Warn(in, "owner_occupied_invalid");
				break;
			case K_EST_VALUE:
				if (ParseMoney(s, false, &in->row.v[C_EST_VALUE]))
					in->row.null[C_EST_VALUE] = false;
				else
					Warn(in, "estimated_value_invalid");
				break;
			case K_EST_EQUITY:
				if (ParseMoney(s, true, &in->row.v[C_EST_EQUITY]))
					in->row.null[C_EST_EQUITY] = false;
				else
					Warn(in, "estimated_equity_invalid");
				break;
			case K_BROKER:
				{
					char	   *end;
					long long	id;

					errno = 0;
					id = strtoll(s, &end, 10);
					if (errno == 0 && *end == '\0' && id > 0 && BrokerExists(id))
					{
						in->row.v[C_BROKER] = Int64GetDatum(id);
						in->row.null[C_BROKER] = false;
					}
					else
						Warn(in, "assigned_broker_unknown");
				}
				break;
			case K_EMAIL_VERIFIED:
				if (ParseBool(s) == 1)
					in->email_verdict = Worse(in->email_verdict, EC_VERDICT_VALID);
				break;
			case K_PHONE_VERIFIED:
				if (ParseBool(s) == 1)
					in->phone_verdict = Worse(in->phone_verdict, EC_VERDICT_VALID);
				break;
			case K_CAMPAIGN_STATUS:
				if (strcmp(s, "do_not_contact") == 0)
					in->dnc = true;
				break;
			case K_DO_NOT_CONTACT:
				if (ParseBool(s) == 1)
					in->dnc = true;
				break;
			default:
				break;
		}
	}
	if (keys_only)
	{
		ParseKeys(in, addr, county, apn, mak);
		return;
	}
	{
		JsonbValue *res = pushJsonbValue(&extra, WJB_END_OBJECT, NULL);

		if (has_extra)
			in->extra = JsonbValueToJsonb(res);
	}

	/* contacts */
	if (in->emails)
	{
		SetText(&in->row, C_EMAIL, linitial(in->emails));
		in->row.v[C_EMAILS] = StringsArray(in->emails);
		in->row.null[C_EMAILS] = false;
	}
	if (in->phones)
	{
		SetText(&in->row, C_PHONE, linitial(in->phones));
		in->row.v[C_PHONES] = StringsArray(in->phones);
		in->row.null[C_PHONES] = false;
	}

	/* verification codes -> verdicts */
	foreach(lc, in->codes)
	{
		EcCodeKind	kind;
		EcVerdict	verdict;

		if (!CodeLookup(source, (char *) lfirst(lc), &kind, &verdict))
			continue;
		if (kind == EC_CODE_EMAIL)
			in->email_verdict = Worse(in->email_verdict, verdict);
		else if (kind == EC_CODE_PHONE)
			in->phone_verdict = Worse(in->phone_verdict, verdict);
	}
	if (in->codes)
	{
		in->row.v[C_CODES] = StringsArray(in->codes);
		in->row.null[C_CODES] = false;
	}

	if (kv == NULL)
		ParseKeys(in, addr, county, apn, mak);
	else
	{
		int			k;

		for (k = 0; k < NKEYCOLS; k++)
		{
			in->row.v[KeyCols[k]] = kv->v[k];
			in->row.null[KeyCols[k]] = kv->null[k];
		}
		in->warnings = list_concat(in->warnings, kv->warnings);
		if (kv->reject)
			in->reject = kv->reject;
	}
}

/* ---------------------------------------------------------------------
 * Merging
 * --------------------------------------------------------------------- */

static Jsonb *
SingleKeyObject(const char *key, Jsonb *value)
{
	JsonbParseState *st = NULL;
	JsonbValue	k,
				v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	pushJsonbValue(&st, WJB_KEY, &k);
	v.type = jbvBinary;
	v.val.binary.data = &value->root;
	v.val.binary.len = VARSIZE(value) - VARHDRSZ;
	if (JB_ROOT_IS_SCALAR(value))
	{
		JsonbValue	sv;

		JsonbExtractScalar(&value->root, &sv);
		pushJsonbValue(&st, WJB_VALUE, &sv);
	}
	else
		pushJsonbValue(&st, WJB_VALUE, &v);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* '{}' as jsonb, built once: every new lead's payloads and extra start so */
static Datum
EmptyObject(void)
{
	static Jsonb *empty = NULL;

	if (empty == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		JsonbParseState *st = NULL;

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		empty = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
		MemoryContextSwitchTo(old);
	}
	return JsonbPGetDatum(empty);
}

/* the row of a new lead */
static void
NewRow(const LeadIn *in, LeadRow *out)
{
	bool		ev = in->email_verdict == EC_VERDICT_VALID;
	bool		pv = in->phone_verdict == EC_VERDICT_VALID;

	*out = in->row;
	out->id = 0;
	if (out->null[C_EMAILS])
		out->v[C_EMAILS] = StringsArray(NIL);
	if (out->null[C_PHONES])
		out->v[C_PHONES] = StringsArray(NIL);
	if (out->null[C_CODES])
		out->v[C_CODES] = StringsArray(NIL);
	out->null[C_EMAILS] = out->null[C_PHONES] = out->null[C_CODES] = false;
	out->v[C_EMAIL_VERIFIED] = BoolGetDatum(ev);
	out->v[C_PHONE_VERIFIED] = BoolGetDatum(pv);
	out->null[C_EMAIL_VERIFIED] = out->null[C_PHONE_VERIFIED] = false;
	out->v[C_PAYLOADS] = in->payload ?
		JsonbPGetDatum(SingleKeyObject(in->source, in->payload)) : EmptyObject();
	out->null[C_PAYLOADS] = false;
	out->v[C_EXTRA] = in->extra ? JsonbPGetDatum(in->extra) : EmptyObject();
	out->null[C_EXTRA] = false;
	out->v[C_SOURCES] = StringsArray(list_make1((char *) in->source));
	out->null[C_SOURCES] = false;
	SetText(out, C_STATUS, in->dnc ? "do_not_contact" : (ev || pv) ? "queued" : "new");
}

/* take a value from the input when it has one */
static void
Overwrite(LeadRow *m, const LeadIn *in, LeadCol c)
{
	if (!in->row.null[c])
	{
		m->v[c] = in->row.v[c];
		m->null[c] = false;
	}
}

/* fill a key only where empty and not owned by another lead */
static bool
FillKey(LeadRow *m, const LeadIn *in, LeadCol c, bool owned_elsewhere)
{
	if (in->row.null[c] || !m->null[c] || owned_elsewhere)
		return false;
	m->v[c] = in->row.v[c];
	m->null[c] = false;
	return true;
}

/*
 * Merge an input lead into the current row.  Returns the columns that
 * changed (none: 0); *fills_key tells whether a unique key is being filled
 * in.
 */
static ColMask
Merge(const LeadRow *cur, const LeadIn *in, bool apn_elsewhere, bool hash_elsewhere,
	  bool mak_elsewhere, LeadRow *m, bool *fills_key, bool *queued)
{
	bool		ev,
				pv;
	const char *status;
	int			i;
	ColMask		changed = 0;

	StaticAssertStmt(NCOLS <= 32, "a ColMask holds one bit per column");
	*m = *cur;
	*fills_key = false;
	*queued = false;

	/* owner and property facts: a given value wins, NULL never overwrites */
	Overwrite(m, in, C_FIRST_NAME);
	Overwrite(m, in, C_LAST_NAME);
	Overwrite(m, in, C_OWNER_AGE);
	Overwrite(m, in, C_OWNER_OCCUPIED);
	Overwrite(m, in, C_EST_VALUE);
	Overwrite(m, in, C_EST_EQUITY);
	Overwrite(m, in, C_YEARS_OWNED);

	/* contacts: the first stays primary, the lists are unioned */
	if (m->null[C_EMAIL])
		Overwrite(m, in, C_EMAIL);
	if (m->null[C_PHONE])
		Overwrite(m, in, C_PHONE);
	if (in->emails)
		UnionColumn(m, cur, C_EMAILS, in->emails);
	if (in->phones)
		UnionColumn(m, cur, C_PHONES, in->phones);
	if (in->codes)
		UnionColumn(m, cur, C_CODES, in->codes);
	UnionColumn(m, cur, C_SOURCES, list_make1((char *) in->source));

	/* verified stays verified unless a provider code says invalid */
	ev = DatumGetBool(cur->v[C_EMAIL_VERIFIED]);
	pv = DatumGetBool(cur->v[C_PHONE_VERIFIED]);
	if (in->email_verdict == EC_VERDICT_VALID)
		ev = true;
	else if (in->email_verdict == EC_VERDICT_INVALID)
		ev = false;
	if (in->phone_verdict == EC_VERDICT_VALID)
		pv = true;
	else if (in->phone_verdict == EC_VERDICT_INVALID)
		pv = false;
	m->v[C_EMAIL_VERIFIED] = BoolGetDatum(ev);
	m->v[C_PHONE_VERIFIED] = BoolGetDatum(pv);

	/* payloads per provider, unknown keys kept */
	if (in->payload)
		m->v[C_PAYLOADS] = DirectFunctionCall2(jsonb_concat, cur->v[C_PAYLOADS],
											   JsonbPGetDatum(SingleKeyObject(in->source, in->payload)));
	if (in->extra)
		m->v[C_EXTRA] = DirectFunctionCall2(jsonb_concat, cur->v[C_EXTRA],
											JsonbPGetDatum(in->extra));

	/* the property: filled in only when the lead has none */
	if (cur->null[C_ADDRESS] && cur->null[C_ADDR_HASH] && !in->row.null[C_ADDRESS] &&
		!hash_elsewhere)
	{
		for (i = C_ADDRESS; i <= C_ZIP; i++)
		{
			m->v[i] = in->row.v[i];
			m->null[i] = in->row.null[i];
		}
	}
	else if (m->null[C_STATE])
		Overwrite(m, in, C_STATE);
	if (m->null[C_COUNTY_FIPS])
		Overwrite(m, in, C_COUNTY_FIPS);
	if (m->null[C_BROKER])
		Overwrite(m, in, C_BROKER);

	/* keys: only where empty, never another lead's */
	if (FillKey(m, in, C_APN_KEY, apn_elsewhere))
	{
		m->v[C_APN] = in->row.v[C_APN];
		m->null[C_APN] = false;
		*fills_key = true;
	}
	*fills_key |= FillKey(m, in, C_MAK, mak_elsewhere);
	*fills_key |= FillKey(m, in, C_ADDR_HASH, hash_elsewhere);
	if (m->null[C_APN] && m->null[C_APN_KEY])
		Overwrite(m, in, C_APN);

	/* lifecycle: do_not_contact is sticky; verified 'new' -> 'queued' */
	status = TextOf(cur, C_STATUS);
	if (strcmp(status, "do_not_contact") != 0)
	{
		if (in->dnc)
			SetText(m, C_STATUS, "do_not_contact");
		else if (strcmp(status, "new") == 0 && (ev || pv))
		{
			SetText(m, C_STATUS, "queued");
			*queued = true;
		}
	}

	for (i = 0; i < NCOLS; i++)
		if (!ValuesEqual(i, cur->v[i], cur->null[i], m->v[i], m->null[i]))
			changed |= (ColMask) 1 << i;
	return changed;
}

/* ---------------------------------------------------------------------
 * Statements
 * --------------------------------------------------------------------- */

/*
 * copy a row out of an SPI result, which the caller then frees; the tuple
 * is deformed once (SPI_getbinval per column walks the row from its start
 * each time, past every variable-length value before the one asked for)
 */
static void
RowFromTuple(HeapTuple tup, TupleDesc desc, LeadRow *r)
{
	Datum		vals[NCOLS + 3];
	bool		nulls[NCOLS + 3];
	int			i;

	Assert(desc->natts <= NCOLS + 3);
	heap_deform_tuple(tup, desc, vals, nulls);
	r->id = DatumGetInt64(vals[0]);
	r->xmin = desc->natts > NCOLS + 1 ? DatumGetTransactionId(vals[NCOLS + 1]) : InvalidTransactionId;
	if (desc->natts > NCOLS + 2)
		r->tid = *(ItemPointer) DatumGetPointer(vals[NCOLS + 2]);
	else
		ItemPointerSetInvalid(&r->tid);
	for (i = 0; i < NCOLS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i + 1);

		r->null[i] = nulls[i + 1];
		r->v[i] = r->null[i] ? (Datum) 0 : datumCopy(vals[i + 1], att->attbyval, att->attlen);
	}
}

/* the columns' names and types as arrays, for the direct lookup and update */
static const char *ColNames[NCOLS];
static Oid	ColTypes[NCOLS];

static void
ColArraysInit(void)
{
	int			k;

	if (ColNames[0] != NULL)
		return;
	for (k = 0; k < NCOLS; k++)
	{
		ColNames[k] = Cols[k].name;
		ColTypes[k] = Cols[k].type;
	}
}

/*
 * The leads holding the lead's keys, by probing their unique indexes
 * (lookup.c): the rows of the lookup SELECT, each once.  -1 when the
 * lookup must be that SELECT.
 */
static int
LookupDirect(const LeadIn *in, LeadRow *found)
{
	static const LeadCol keycols[EC_PROBE_NKEYS] = {C_MAK, C_APN_KEY, C_ADDR_HASH};
	EcLeadProbe *probe;
	int			k,
				n = 0;

	ColArraysInit();
	probe = EcLeadProbeOpen(NCOLS, ColNames, ColTypes);
	if (probe == NULL)
		return -1;
	for (k = 0; k < EC_PROBE_NKEYS; k++)
	{
		LeadRow    *r = &found[n];
		int			j;

		if (in->row.null[keycols[k]] ||
			!EcLeadProbeFind(probe, k, in->row.v[keycols[k]], &r->id, &r->xmin, &r->tid, r->v, r->null))
			continue;
		for (j = 0; j < n; j++)
			if (found[j].id == r->id)
				break;
		if (j == n)
			n++;				/* a row found by two keys is one row */
	}
	EcLeadProbeClose(probe);
	return n;
}

static char *
Nulls(const LeadRow *r, char *buf)
{
	int			i;

	for (i = 0; i < NCOLS; i++)
		buf[i] = r->null[i] ? 'n' : ' ';
	buf[NCOLS] = ' ';
	buf[NCOLS + 1] = '\0';
	return buf;
}

/*
 * A new lead written as its INSERT statement would write it, triggers fired,
 * by a writer the session keeps (EcRowInsertFire): the statement's setup
 * (the executor's start, the INSERT's projection of 30 parameters, the
 * result relation, seven index descriptions, the CHECK read from its text)
 * was about a third of a new lead's INSERT.
 */
static EcRowInsert *LeadWriter = NULL;

/* ec.leads and its id column (InvalidOid when either is missing: the SQL way) */
static Oid
LeadsRelid(AttrNumber *id_att)
{
	Oid			relid = EcRelationOid("leads");

	*id_att = OidIsValid(relid) ? get_attnum(relid, "id") : InvalidAttrNumber;
	return *id_att == InvalidAttrNumber ? InvalidOid : relid;
}

/* the plain INSERT of a new lead (InsertLeadPlain runs it in a subtransaction): its id */
static int64
InsertLead(const LeadRow *r)
{
	char		nulls[NCOLS + 2];
	int			rc;
	bool		isnull;
	int64		id;
	AttrNumber	id_att;
	Oid			relid = LeadsRelid(&id_att);
	TupleTableSlot *slot;

	ColArraysInit();
	if (OidIsValid(relid) &&
		(rc = EcRowInsertFire(&LeadWriter, relid, NCOLS, ColNames, ColTypes, r->v, r->null, &slot)) >= 0)
	{
		if (rc == 0)
			return 0;			/* a BEFORE trigger skipped it */
		id = DatumGetInt64(slot_getattr(slot, id_att, &isnull));
		return isnull ? 0 : id;
	}

	/*
	 * No row limit: with one, the executor stops at the RETURNING row and
	 * never ends the INSERT's ModifyTable, so its AFTER STATEMENT triggers
	 * (the contactable change log) would not fire.
	 */
	rc = SPI_execute_plan(InsertPlainPlan, (Datum *) r->v, Nulls(r, nulls), false, 0);
	if (rc != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		id = 0;
	else
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return id;
}

typedef struct InsertPlainArgs
{
	const LeadRow *row;
	int64		id;
} InsertPlainArgs;

static void
InsertPlainWork(void *arg)
{
	InsertPlainArgs *a = (InsertPlainArgs *) arg;

	a->id = InsertLead(a->row);
}

/*
 * A new lead by a plain INSERT in a subtransaction: the key was looked up a
 * moment ago, and ON CONFLICT DO NOTHING probes each unique index once more
 * before inserting (more than the subtransaction costs).  0 when a racing
 * session took a key: the lead goes round the cascade again.
 */
static int64
InsertLeadPlain(const LeadRow *r)
{
	InsertPlainArgs a = {r, 0};

	if (!RunRaced(InsertPlainWork, &a))
		return 0;
	return a.id;
}

/*
 * UPDATE the version of the lead that was read; false when another session
 * changed it meanwhile (the caller reads it again).
 */
static bool
UpdateLead(const LeadRow *r, ColMask mask)
{
	Datum		args[NCOLS + 3];
	char		nulls[NCOLS + 4];
	int			rc,
				i,
				n = 0;
	SPIPlanPtr	plan;
	bool		set[NCOLS];
	EcLeadUpdater *lu;

	for (i = 0; i < NCOLS; i++)
		set[i] = (mask & ((ColMask) 1 << i)) != 0;
	ColArraysInit();
	lu = EcLeadUpdateBegin(NCOLS, ColNames, ColTypes, set);
	if (lu != NULL)
	{
		rc = EcLeadUpdateRow(lu, r->v, r->null, r->id, r->xmin, (ItemPointer) &r->tid);
		EcLeadUpdateEnd(lu);
		return rc == 1;
	}

	plan = UpdatePlanFor(&mask, false);
	for (i = 0; i < NCOLS; i++)
	{
		if (!(mask & ((ColMask) 1 << i)))
			continue;
		args[n] = r->v[i];
		nulls[n++] = r->null[i] ? 'n' : ' ';
	}
	args[n] = Int64GetDatum(r->id);
	nulls[n++] = ' ';
	args[n] = TransactionIdGetDatum(r->xmin);
	nulls[n++] = ' ';
	args[n] = PointerGetDatum(&r->tid);
	nulls[n++] = ' ';
	nulls[n] = '\0';
	rc = SPI_execute_plan(plan, args, nulls, false, 1);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return SPI_processed == 1;
}

/* a race we answer by going round again: rolled back, never raised */
static inline bool
IsRaceError(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_UNIQUE_VIOLATION ||
		sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED;
}

/*
 * Whether this transaction may already hold row locks (it has written or
 * locked something: it has an XID).  When it holds none, a single write
 * cannot close a deadlock cycle, and an INSERT ... ON CONFLICT DO NOTHING
 * or an UPDATE that fills no key cannot raise a unique violation: the
 * write needs no subtransaction.
 */
static inline bool
HoldsLocks(void)
{
	return TransactionIdIsValid(GetTopTransactionIdIfAny());
}

typedef struct UpdateGuardedArgs
{
	const LeadRow *row;
	ColMask		mask;
	bool		ok;
} UpdateGuardedArgs;

static void
UpdateGuardedWork(void *arg)
{
	UpdateGuardedArgs *a = (UpdateGuardedArgs *) arg;

	a->ok = UpdateLead(a->row, a->mask);
}

/*
 * The version-guarded UPDATE in a subtransaction.  A unique violation (a
 * racing session took a key) or a deadlock (a bulk call of another session
 * locking the same leads in another order) rolls it back, releasing its
 * locks, and returns false, as does a version changed meanwhile: the caller
 * goes round again.
 */
static bool
UpdateLeadGuarded(const LeadRow *r, ColMask mask)
{
	UpdateGuardedArgs a = {r, mask, false};

	return RunRaced(UpdateGuardedWork, &a) && a.ok;
}

static bool
KeyEquals(const LeadRow *r, LeadCol c, const LeadIn *in)
{
	return !in->row.null[c] && !r->null[c] &&
		ValuesEqual(c, r->v[c], false, in->row.v[c], false);
}

/* describe a key of the matched lead that differs from the input's */
static void
Mismatch(StringInfo conflict, const LeadRow *a, LeadCol c, const LeadIn *in)
{
	if (in->row.null[c] || a->null[c] || KeyEquals(a, c, in))
		return;
	appendStringInfo(conflict, ", \"%s_mismatch\": {\"existing\": ", Cols[c].name);
	escape_json(conflict, TextOf(a, c));
	appendStringInfoString(conflict, ", \"incoming\": ");
	escape_json(conflict, TextOf(&in->row, c));
	appendStringInfoChar(conflict, '}');
}

static void
RecordConflict(const LeadIn *in, int64 lead_id, StringInfo conflict)
{
	StringInfoData payload;
	Datum		args[3];
	int			rc;

	initStringInfo(&payload);
	appendStringInfo(&payload, "{\"conflict\": %s, \"source\": ", conflict->data);
	escape_json(&payload, in->source);
	appendStringInfo(&payload, ", \"lead\": %s}", JsonbToCString(NULL, &in->raw->root, VARSIZE(in->raw)));
	args[0] = Int64GetDatum(lead_id);
	args[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(payload.data));
	args[2] = CStringGetTextDatum("dedupe keys point to different leads; merged into the lead with the strongest key");
	rc = SPI_execute_plan(DlqPlan, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
}

/* ---------------------------------------------------------------------
 * One lead through the cascade
 * --------------------------------------------------------------------- */

static void
UpsertOne(LeadIn *in, LeadOut *out)
{
	int			attempt;

	memset(out, 0, sizeof(*out));
	out->warnings = in->warnings;
	if (!in->row.null[C_BROKER])
		out->broker_id = DatumGetInt64(in->row.v[C_BROKER]);
	if (in->reject)
	{
		out->action = "rejected";
		out->reason = in->reject;
		return;
	}

	for (attempt = 0; attempt < MAX_RETRIES; attempt++)
	{
		Datum		args[3];
		int			rc;
		uint64		i;
		LeadRow		found[3];
		int			nfound;
		LeadRow    *by_mak = NULL,
				   *by_apn = NULL,
				   *by_hash = NULL,
				   *a;
		LeadRow		merged;
		bool		fills_key,
					queued;
		ColMask		changed;
		int			keys,
					nkeys;

		keys = 0;
		nkeys = 0;
		if (!in->row.null[C_MAK])
		{
			keys |= 1;
			args[nkeys++] = in->row.v[C_MAK];
		}
		if (!in->row.null[C_APN_KEY])
		{
			keys |= 2;
			args[nkeys++] = in->row.v[C_APN_KEY];
		}
		if (!in->row.null[C_ADDR_HASH])
		{
			keys |= 4;
			args[nkeys++] = in->row.v[C_ADDR_HASH];
		}
		Assert(keys != 0);		/* a lead without keys was rejected */
		nfound = LookupDirect(in, found);
		if (nfound < 0)
		{
			rc = SPI_execute_plan(LookupPlanFor(keys), args, NULL, false, 3);
			if (rc != SPI_OK_SELECT)
				elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
			nfound = (int) Min(SPI_processed, 3);
			for (i = 0; i < (uint64) nfound; i++)
				RowFromTuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &found[i]);
			SPI_freetuptable(SPI_tuptable);
		}
		for (i = 0; i < (uint64) nfound; i++)
		{
			if (KeyEquals(&found[i], C_MAK, in))
				by_mak = &found[i];
			if (KeyEquals(&found[i], C_APN_KEY, in))
				by_apn = &found[i];
			if (KeyEquals(&found[i], C_ADDR_HASH, in))
				by_hash = &found[i];
		}

		if (nfound == 0)
		{
			LeadRow		r;

			NewRow(in, &r);
			out->lead_id = InsertLeadPlain(&r);
			if (out->lead_id == 0)
				continue;		/* a racing session got there first */
			out->action = "inserted";
			out->status = TextOf(&r, C_STATUS);
			if (!r.null[C_BROKER])
				out->broker_id = DatumGetInt64(r.v[C_BROKER]);
			return;
		}

		/* the cascade: MAK, then county APN, then the address hash */
		a = by_mak ? by_mak : by_apn ? by_apn : by_hash;
		if (a == NULL)
			continue;			/* cannot happen: each row matched a key */
		out->matched_on = by_mak ? "mak" : by_apn ? "apn" : "addr_hash";

		/*
		 * Merge into the version read; the UPDATE applies only to that
		 * version, so a concurrent change sends the lead round again.
		 */
		changed = Merge(a, in,
						by_apn != NULL && by_apn->id != a->id,
						by_hash != NULL && by_hash->id != a->id,
						by_mak != NULL && by_mak->id != a->id,
						&merged, &fills_key, &queued);
		if (changed)
		{
			merged.xmin = a->xmin;
			if (!((fills_key || HoldsLocks()) ?
				  UpdateLeadGuarded(&merged, changed) : UpdateLead(&merged, changed)))
				continue;		/* changed meanwhile, or a racing session took the key */
		}

		out->lead_id = a->id;
		out->action = changed ? "merged" : "unchanged";
		out->status = TextOf(&merged, C_STATUS);
		out->queued = queued;
		if (!merged.null[C_BROKER])
			out->broker_id = DatumGetInt64(merged.v[C_BROKER]);

		/* conflicts: another lead owns a key, or the lead has another key */
		{
			StringInfoData c;
			bool		other = false;

			initStringInfo(&c);
			appendStringInfo(&c, "{\"merged_into\": " INT64_FORMAT, a->id);
			if (by_apn && by_apn->id != a->id)
			{
				appendStringInfo(&c, ", \"apn_lead_id\": " INT64_FORMAT, by_apn->id);
				other = true;
			}
			if (by_hash && by_hash->id != a->id)
			{
				appendStringInfo(&c, ", \"addr_hash_lead_id\": " INT64_FORMAT, by_hash->id);
				other = true;
			}
			i = c.len;
			Mismatch(&c, a, C_MAK, in);
			Mismatch(&c, a, C_APN_KEY, in);
			appendStringInfoChar(&c, '}');
			if (other || (uint64) c.len != i + 1)
			{
				out->conflict = makeStringInfo();
				appendBinaryStringInfo(out->conflict, c.data, c.len);
				RecordConflict(in, a->id, out->conflict);
			}
		}
		return;
	}

	out->action = "rejected";
	out->reason = "too_many_concurrent_changes";
}

/* ---------------------------------------------------------------------
 * The set-based path: a batch of leads in a few statements
 *
 * For up to BATCH_MAX leads: one lookup of every key (= ANY), the cascade
 * and the merges in memory (leads of the batch that name the same property
 * merge into one state), one INSERT ... ON CONFLICT DO NOTHING of the new
 * leads and one UPDATE of the changed ones.  The UPDATE only touches the
 * row version that was read (xmin), runs in a subtransaction, and every
 * lead whose write did not happen (a racing session, a key taken meanwhile)
 * or that names two different leads (a conflict to record) goes through
 * the one-lead path afterwards, which handles all of that.
 * --------------------------------------------------------------------- */

typedef struct BState
{
	LeadRow		row;			/* current values, merged */
	TransactionId xmin;			/* version read (existing leads) */
	bool		exists;			/* in ec.leads before the batch */
	bool		dirty;			/* changed: needs its UPDATE */
	ColMask		changed;		/* the columns its merges changed */
	bool		lost;			/* its write did not happen */
} BState;

typedef struct BLead
{
	LeadIn		in;
	LeadOut		out;
	BState	   *state;			/* NULL: rejected, or redone one by one */
	bool		redo;
	bool		late;			/* went the one-lead way after the writes */
	int			idx;			/* its position in the call's window */
	int64		touched[3];		/* stored leads its keys found (0: none) */
} BLead;

/* a key of the batch's table: its kind and its value's bytes, zero-padded */
typedef struct BKeyData
{
	char		kind;			/* 'm' MAK, 'a' APN key, 'h' address hash */
	uint8		len;
	char		data[EC_APN_KEY_MAX + 1];
} BKeyData;

typedef struct BKey
{
	BKeyData	key;
	BState	   *state;
} BKey;

static SPIPlanPtr BatchLookupPlan = NULL;
static SPIPlanPtr BatchInsertPlan = NULL;
static SPIPlanPtr BatchInsertPlainPlan = NULL;

static void
PrepareBatchPlans(void)
{
	StringInfoData sql;
	Oid			types[NCOLS + 2];
	int			i;

	if (BatchInsertPlan != NULL)
		return;
	initStringInfo(&sql);

	appendStringInfoString(&sql, "SELECT xmin, ");
	AppendSelectList(&sql);
	appendStringInfoString(&sql, ", ctid FROM ec.leads WHERE mak OPERATOR(pg_catalog.=) ANY ($1)"
						   " OR apn_key OPERATOR(pg_catalog.=) ANY ($2)"
						   " OR addr_hash OPERATOR(pg_catalog.=) ANY ($3)");
	types[0] = TEXTARRAYOID;
	types[1] = TEXTARRAYOID;
	types[2] = BYTEAARRAYOID;
	BatchLookupPlan = Prepare(sql.data, 3, types);

	/* arrays of column values; text[] columns travel as their text form */
	for (i = 0; i < NCOLS; i++)
		types[i] = Cols[i].type == TEXTARRAYOID ? TEXTARRAYOID : get_array_type(Cols[i].type);
	resetStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO ec.leads (");
	for (i = 0; i < NCOLS; i++)
		appendStringInfo(&sql, "%s%s", i ? ", " : "", Cols[i].name);
	appendStringInfoString(&sql, ") SELECT ");
	for (i = 0; i < NCOLS; i++)
		appendStringInfo(&sql, "%su.c%d%s", i ? ", " : "", i,
						 Cols[i].type == TEXTARRAYOID ? "::pg_catalog.text[]" :
						 i == C_STATUS ? "::ec.campaign_status" : "");
	appendStringInfoString(&sql, " FROM ROWS FROM (");
	for (i = 0; i < NCOLS; i++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d)", i ? ", " : "", i + 1);
	appendStringInfoString(&sql, ") AS u(");
	for (i = 0; i < NCOLS; i++)
		appendStringInfo(&sql, "%sc%d", i ? ", " : "", i);
	{
		int			len = sql.len;

		appendStringInfoString(&sql, ") RETURNING id, mak, apn_key, addr_hash");
		BatchInsertPlainPlan = Prepare(sql.data, NCOLS, types);
		sql.len = len;
		sql.data[len] = '\0';
	}
	appendStringInfoString(&sql, ") ON CONFLICT DO NOTHING RETURNING id, mak, apn_key, addr_hash");
	BatchInsertPlan = Prepare(sql.data, NCOLS, types);
	pfree(sql.data);
}

/*
 * The UPDATE of the columns in mask, guarded by the version read: for one
 * lead (scalar parameters: the columns, id, xmin), or for a batch (one
 * array per column, then ids and xmins; text[] columns travel as their text
 * form).
 */
static SPIPlanPtr
BuildUpdatePlan(ColMask mask, bool batch)
{
	StringInfoData sql;
	Oid			types[NCOLS + 3];
	int			i,
				n = 0;

	initStringInfo(&sql);
	appendStringInfoString(&sql, batch ? "UPDATE ec.leads l SET " : "UPDATE ec.leads SET ");
	for (i = 0; i < NCOLS; i++)
	{
		if (!(mask & ((ColMask) 1 << i)))
			continue;
		if (batch)
		{
			types[n] = Cols[i].type == TEXTARRAYOID ? TEXTARRAYOID : get_array_type(Cols[i].type);
			appendStringInfo(&sql, "%s%s = u.c%d%s", n ? ", " : "", Cols[i].name, n,
							 Cols[i].type == TEXTARRAYOID ? "::pg_catalog.text[]" :
							 i == C_STATUS ? "::ec.campaign_status" : "");
		}
		else
		{
			types[n] = Cols[i].type;
			appendStringInfo(&sql, i == C_STATUS ? "%s%s = $%d::ec.campaign_status" : "%s%s = $%d",
							 n ? ", " : "", Cols[i].name, n + 1);
		}
		n++;
	}
	if (n == 0)
		elog(ERROR, "an UPDATE of no column");
	/* stamped here: the touch trigger of ec.leads then has nothing to do */
	appendStringInfoString(&sql, ", updated_at = pg_catalog.now()");
	if (batch)
	{
		types[n] = INT8ARRAYOID;
		types[n + 1] = XIDARRAYOID;
		types[n + 2] = TIDARRAYOID;
		appendStringInfoString(&sql, " FROM ROWS FROM (");
		for (i = 0; i < n + 3; i++)
			appendStringInfo(&sql, "%spg_catalog.unnest($%d)", i ? ", " : "", i + 1);
		appendStringInfoString(&sql, ") AS u(");
		for (i = 0; i < n; i++)
			appendStringInfo(&sql, "c%d, ", i);
		appendStringInfoString(&sql, "id, xmin_, tid_) WHERE l.ctid OPERATOR(pg_catalog.=) u.tid_"
							   " AND l.id OPERATOR(pg_catalog.=) u.id"
							   " AND l.xmin OPERATOR(pg_catalog.=) u.xmin_ RETURNING l.id");
	}
	else
	{
		types[n] = INT8OID;
		types[n + 1] = XIDOID;
		types[n + 2] = TIDOID;
		appendStringInfo(&sql, " WHERE ctid OPERATOR(pg_catalog.=) $%d AND id OPERATOR(pg_catalog.=) $%d"
						 " AND xmin OPERATOR(pg_catalog.=) $%d", n + 3, n + 1, n + 2);
	}
	return Prepare(sql.data, n + 3, types);
}

static void
KeyMake(BKeyData *k, char kind, LeadCol c, const LeadRow *r)
{
	const struct varlena *v = (const struct varlena *) DatumGetPointer(r->v[c]);
	int			len = Min(VARSIZE_ANY_EXHDR(v), (int) sizeof(k->data));

	memset(k, 0, sizeof(BKeyData));
	k->kind = kind;
	k->len = (uint8) len;
	memcpy(k->data, VARDATA_ANY(v), len);
}

static BState *
KeyFind(HTAB *keys, char kind, LeadCol c, const LeadRow *r)
{
	BKeyData	k;
	BKey	   *e;

	if (r->null[c])
		return NULL;
	KeyMake(&k, kind, c, r);
	e = hash_search(keys, &k, HASH_FIND, NULL);
	return e ? e->state : NULL;
}

static void
KeyAdd(HTAB *keys, char kind, LeadCol c, BState *st)
{
	BKeyData	k;
	BKey	   *e;
	bool		found;

	if (st->row.null[c])
		return;
	KeyMake(&k, kind, c, &st->row);
	e = hash_search(keys, &k, HASH_ENTER, &found);
	if (!found)
		e->state = st;
}

static void
KeysAdd(HTAB *keys, BState *st)
{
	KeyAdd(keys, 'm', C_MAK, st);
	KeyAdd(keys, 'a', C_APN_KEY, st);
	KeyAdd(keys, 'h', C_ADDR_HASH, st);
}

/* the values of one column over n states, as an array parameter */
static Datum
ColumnArray(BState **states, int n, LeadCol c)
{
	Datum	   *vals = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Oid			elem = Cols[c].type == TEXTARRAYOID ? TEXTOID : Cols[c].type;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	get_typlenbyvalalign(elem, &typlen, &typbyval, &typalign);
	for (i = 0; i < n; i++)
	{
		nulls[i] = states[i]->row.null[c];
		vals[i] = states[i]->row.v[c];
		if (!nulls[i] && Cols[c].type == TEXTARRAYOID)
		{
			static FmgrInfo array_out_info;

			if (array_out_info.fn_oid == InvalidOid)
				fmgr_info_cxt(F_ARRAY_OUT, &array_out_info, TopMemoryContext);
			vals[i] = CStringGetTextDatum(OutputFunctionCall(&array_out_info, vals[i]));
		}
	}
	return PointerGetDatum(construct_md_array(vals, nulls, 1, dims, lbs, elem, typlen, typbyval, typalign));
}

static Datum
KeyArray(BLead **leads, int n, LeadCol c)
{
	Datum	   *vals = palloc(sizeof(Datum) * Max(n, 1));
	int			i,
				m = 0;

	for (i = 0; i < n; i++)
		if (leads[i]->in.reject == NULL && !leads[i]->in.row.null[c])
			vals[m++] = leads[i]->in.row.v[c];
	if (m == 0)
		return PointerGetDatum(construct_empty_array(Cols[c].type));
	return PointerGetDatum(construct_array(vals, m, Cols[c].type, -1, false, TYPALIGN_INT));
}

/* two key values by their bytes (text or bytea), a shorter prefix first */
static inline int
CompareBytes(const struct varlena *x, const struct varlena *y)
{
	int			lx = VARSIZE_ANY_EXHDR(x),
				ly = VARSIZE_ANY_EXHDR(y);
	int			r = memcmp(VARDATA_ANY(x), VARDATA_ANY(y), Min(lx, ly));

	return r != 0 ? r : lx - ly;
}

/* two leads' values of the key column *arg */
static int
CompareKey(const void *a, const void *b, void *arg)
{
	LeadCol		c = *(const LeadCol *) arg;

	return CompareBytes((const struct varlena *) DatumGetPointer((*(LeadRow *const *) a)->v[c]),
						(const struct varlena *) DatumGetPointer((*(LeadRow *const *) b)->v[c]));
}

/*
 * Step 1 of a batch by probing the keys' unique indexes (lookup.c), as
 * LookupDirect does for one lead, instead of the lookup SELECT: the same
 * rows, each once, read under the snapshot that SELECT would take, without
 * the statement (the bitmaps of three index scans, the heap scan that
 * rechecks every row against the three key lists, the projection, the
 * rows copied into SPI's result and out of it again).  Each kind of key is
 * probed in sorted order, so that consecutive probes share their index
 * pages; a key that a row found already holds is not probed again.  False
 * when the lookup must be the SELECT: nothing was done.
 */
static bool
BatchLookupDirect(BLead **leads, int n, HTAB *keys)
{
	static const LeadCol keycols[EC_PROBE_NKEYS] = {C_MAK, C_APN_KEY, C_ADDR_HASH};
	static const char kinds[EC_PROBE_NKEYS] = {'m', 'a', 'h'};
	EcLeadProbe *probe;
	LeadRow   **rows;
	int			k;

	ColArraysInit();
	probe = EcLeadProbeOpen(NCOLS, ColNames, ColTypes);
	if (probe == NULL)
		return false;
	rows = palloc(sizeof(LeadRow *) * Max(n, 1));
	for (k = 0; k < EC_PROBE_NKEYS; k++)
	{
		LeadCol		c = keycols[k];
		int			m = 0,
					i;

		for (i = 0; i < n; i++)
			if (leads[i]->in.reject == NULL && !leads[i]->in.row.null[c])
				rows[m++] = &leads[i]->in.row;
		qsort_arg(rows, m, sizeof(LeadRow *), CompareKey, &c);
		for (i = 0; i < m; i++)
		{
			BState	   *st;

			if ((i > 0 && CompareKey(&rows[i - 1], &rows[i], &c) == 0) ||
				KeyFind(keys, kinds[k], c, rows[i]) != NULL)
				continue;		/* probed already, or its row found by another key */
			st = palloc0(sizeof(BState));
			if (!EcLeadProbeFind(probe, k, rows[i]->v[c], &st->row.id, &st->xmin, &st->row.tid,
								 st->row.v, st->row.null))
			{
				pfree(st);
				continue;
			}
			st->exists = true;
			KeysAdd(keys, st);
		}
	}
	pfree(rows);
	EcLeadProbeClose(probe);
	return true;
}

/* the order every session updates leads in: by id */
static int
CompareId(const void *a, const void *b)
{
	int64		x = (*(BState *const *) a)->row.id;
	int64		y = (*(BState *const *) b)->row.id;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Run work(arg) in a subtransaction.  False when a race rolled it back (a
 * key taken by another session, a deadlock with another bulk call); any
 * other error is raised.
 */
static bool
RunRaced(void (*work) (void *), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		work(arg);
		EcSubxactCommit(cxt, owner);
	}
	PG_CATCH();
	{
		ErrorData  *edata = EcSubxactAbort(cxt, owner);

		if (!IsRaceError(edata->sqlerrcode))
			ReThrowError(edata);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* a batch INSERT's leads: marked lost until written, and lost again when rolled back */
typedef struct BatchInsertArgs
{
	BState	  **states;
	int			n;
	SPIPlanPtr	plan;			/* through SQL: the plan, its arguments, the keys */
	Datum	   *args;
	HTAB	   *keys;
	int			direct;			/* the direct way: 1 done, -1 not possible */
} BatchInsertArgs;

static void
MarkLost(BState **states, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		states[i]->lost = true;
		states[i]->row.id = 0;
	}
}

/* the INSERT plan's rows: each matched to its state by a key */
static void
BatchInsertSqlWork(void *arg)
{
	BatchInsertArgs *a = (BatchInsertArgs *) arg;
	int			rc = SPI_execute_plan(a->plan, a->args, NULL, false, 0);
	uint64		j;

	if (rc != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	for (j = 0; j < SPI_processed; j++)
	{
		LeadRow		r;
		bool		isnull;
		BState	   *st;

		r.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 1, &isnull));
		r.v[C_MAK] = SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 2, &r.null[C_MAK]);
		r.v[C_APN_KEY] = SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 3, &r.null[C_APN_KEY]);
		r.v[C_ADDR_HASH] = SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 4, &r.null[C_ADDR_HASH]);
		st = KeyFind(a->keys, 'h', C_ADDR_HASH, &r);
		if (st == NULL)
			st = KeyFind(a->keys, 'm', C_MAK, &r);
		if (st == NULL)
			st = KeyFind(a->keys, 'a', C_APN_KEY, &r);
		if (st == NULL)
			elog(ERROR, "inserted lead " INT64_FORMAT " matches no lead of the batch", r.id);
		st->row.id = r.id;
		st->lost = false;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Run one batch INSERT plan in a subtransaction and mark the states it
 * wrote.  False when a race rolled it back: then no state was written.
 */
static bool
BatchInsertTry(SPIPlanPtr plan, Datum *args, BState **states, int n, HTAB *keys)
{
	BatchInsertArgs a = {states, n, plan, args, keys, 0};

	MarkLost(states, n);
	if (RunRaced(BatchInsertSqlWork, &a))
		return true;
	MarkLost(states, n);
	return false;
}

static void
BatchInsertDirectWork(void *arg)
{
	BatchInsertArgs *a = (BatchInsertArgs *) arg;
	AttrNumber	id_att;
	Oid			relid = LeadsRelid(&id_att);
	EcFiredInsert *fi;
	int			i;

	ColArraysInit();
	fi = OidIsValid(relid) ? EcFiredInsertBegin(&LeadWriter, relid, NCOLS, ColNames, ColTypes, true) : NULL;
	if (fi == NULL)
	{
		a->direct = -1;
		return;
	}
	for (i = 0; i < a->n; i++)
	{
		BState	   *st = a->states[i];
		TupleTableSlot *slot;
		bool		isnull;

		if (EcFiredInsertRow(fi, st->row.v, st->row.null, &slot) != 1)
			continue;			/* a BEFORE trigger skipped it: the one-lead way */
		st->row.id = DatumGetInt64(slot_getattr(slot, id_att, &isnull));
		st->lost = false;
	}
	EcFiredInsertEnd(fi);
	a->direct = 1;
}

/*
 * The batch INSERT written as one INSERT statement would write it, through
 * the writer the session keeps for new leads (EcFiredInsertBegin), with the
 * table's triggers fired as an INSERT fires them: the same rows,
 * without an INSERT over unnest() (a function scan into a tuplestore, a
 * projection, the text[] columns through their text form) or a RETURNING.
 * In a subtransaction, as BatchInsertTry.  1: written; 0: a race rolled it
 * back; -1: the table cannot be written this way (row security, a
 * column-level grant, an unexpected column type): nothing was written.
 */
static int
BatchInsertDirect(BState **states, int n)
{
	BatchInsertArgs a = {states, n, NULL, NULL, NULL, 0};

	MarkLost(states, n);
	if (RunRaced(BatchInsertDirectWork, &a) && a.direct == 1)
		return 1;
	MarkLost(states, n);
	return a.direct == -1 ? -1 : 0;
}

/*
 * The batch INSERT.  The keys were looked up a moment ago, so a plain
 * INSERT is tried first: ON CONFLICT DO NOTHING probes every unique index
 * once more per row before inserting (a third of the insert's cost).  When
 * a racing session took a key meanwhile, the plain INSERT's unique
 * violation rolls it back and the batch goes again with ON CONFLICT DO
 * NOTHING, which writes every lead but the raced ones; those are marked
 * lost and take the one-lead way.
 */
static void
BatchInsert(BState **states, int n, HTAB *keys)
{
	Datum		args[NCOLS];
	int			i,
				direct;

	if (n == 0)
		return;
	/* input order: the leads of an upload get their ids in its row order */
	direct = BatchInsertDirect(states, n);
	if (direct == 1)
		return;
	/* through SQL; after a race straight to ON CONFLICT DO NOTHING */
	for (i = 0; i < NCOLS; i++)
		args[i] = ColumnArray(states, n, i);
	if (direct == 0 || !BatchInsertTry(BatchInsertPlainPlan, args, states, n, keys))
		(void) BatchInsertTry(BatchInsertPlan, args, states, n, keys);
}

typedef struct BatchUpdateArgs
{
	BState	  **states;			/* sorted by id */
	int			n;
	SPIPlanPtr	plan;
	Datum	   *args;
	ColMask		mask;			/* the direct way: the columns set */
	int			direct;			/* the direct way: 1 done, -1 not possible */
} BatchUpdateArgs;

/*
 * The batch's merges written as its UPDATE would write them, row by row in
 * id order, without the statement (src/identity/leadwrite.c).
 */
static void
BatchUpdateDirectWork(void *arg)
{
	BatchUpdateArgs *u = (BatchUpdateArgs *) arg;
	EcLeadUpdater *lu;
	bool		set[NCOLS];
	int			i;

	for (i = 0; i < NCOLS; i++)
		set[i] = (u->mask & ((ColMask) 1 << i)) != 0;
	ColArraysInit();
	lu = EcLeadUpdateBegin(NCOLS, ColNames, ColTypes, set);
	if (lu == NULL)
	{
		u->direct = -1;
		return;
	}
	for (i = 0; i < u->n; i++)
	{
		BState	   *st = u->states[i];

		st->lost = EcLeadUpdateRow(lu, st->row.v, st->row.null, st->row.id, st->xmin,
								   &st->row.tid) != 1;
	}
	EcLeadUpdateEnd(lu);
	u->direct = 1;
}

/* the UPDATE plan's rows: each marks its state written */
static void
BatchUpdateWork(void *arg)
{
	BatchUpdateArgs *u = (BatchUpdateArgs *) arg;
	int			rc = SPI_execute_plan(u->plan, u->args, NULL, false, 0);
	uint64		j;

	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	for (j = 0; j < SPI_processed; j++)
	{
		bool		isnull;
		BState		key;
		BState	   *keyp = &key;
		BState	  **found;

		key.row.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 1, &isnull));
		found = bsearch(&keyp, u->states, u->n, sizeof(BState *), CompareId);
		if (found)
			(*found)->lost = false;
	}
	SPI_freetuptable(SPI_tuptable);
}

/* the batch UPDATE, in a subtransaction: a key taken meanwhile loses the batch */
static void
BatchUpdate(BState **states, int n)
{
	Datum		args[NCOLS + 3];
	Datum	   *ids,
			   *xmins,
			   *tids;
	int			i,
				k = 0;
	ColMask		mask = 0;
	SPIPlanPtr	plan;

	if (n == 0)
		return;
	qsort(states, n, sizeof(BState *), CompareId);
	/* one statement, in id order: the columns any lead of the batch changed */
	for (i = 0; i < n; i++)
		mask |= states[i]->changed;
	for (i = 0; i < n; i++)
		states[i]->lost = true;
	{
		BatchUpdateArgs u = {states, n, NULL, NULL, mask, 0};

		if (!RunRaced(BatchUpdateDirectWork, &u))
		{
			for (i = 0; i < n; i++)
				states[i]->lost = true;
			return;
		}
		if (u.direct == 1)
			return;
	}

	plan = UpdatePlanFor(&mask, true);
	for (i = 0; i < NCOLS; i++)
		if (mask & ((ColMask) 1 << i))
			args[k++] = ColumnArray(states, n, i);
	ids = palloc(sizeof(Datum) * n);
	xmins = palloc(sizeof(Datum) * n);
	tids = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		ids[i] = Int64GetDatum(states[i]->row.id);
		xmins[i] = TransactionIdGetDatum(states[i]->xmin);
		tids[i] = PointerGetDatum(&states[i]->row.tid);
		states[i]->lost = true;
	}
	args[k] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[k + 1] = PointerGetDatum(construct_array(xmins, n, XIDOID, 4, true, TYPALIGN_INT));
	args[k + 2] = PointerGetDatum(construct_array(tids, n, TIDOID, sizeof(ItemPointerData), false,
												  TYPALIGN_SHORT));

	{
		BatchUpdateArgs u = {states, n, plan, args, mask, 0};

		if (!RunRaced(BatchUpdateWork, &u))
			for (i = 0; i < n; i++)
				states[i]->lost = true;
	}
}

/* Step 1 of a batch through the lookup SELECT: its rows into keys. */
static void
BatchLookupSql(BLead **leads, int n, HTAB *keys)
{
	Datum		args[3];
	int			rc;
	uint64		j;

	args[0] = KeyArray(leads, n, C_MAK);
	args[1] = KeyArray(leads, n, C_APN_KEY);
	args[2] = KeyArray(leads, n, C_ADDR_HASH);
	rc = SPI_execute_plan(BatchLookupPlan, args, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	for (j = 0; j < SPI_processed; j++)
	{
		BState	   *st = palloc0(sizeof(BState));
		HeapTuple	tup = SPI_tuptable->vals[j];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		vals[NCOLS + 3];
		bool		nulls[NCOLS + 3];
		int			c;

		/* deformed once: see RowFromTuple */
		heap_deform_tuple(tup, desc, vals, nulls);
		st->xmin = DatumGetTransactionId(vals[0]);
		st->row.tid = *(ItemPointer) DatumGetPointer(vals[NCOLS + 2]);
		st->row.id = DatumGetInt64(vals[1]);
		for (c = 0; c < NCOLS; c++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, c + 2);

			st->row.null[c] = nulls[c + 2];
			st->row.v[c] = st->row.null[c] ? (Datum) 0 : datumCopy(vals[c + 2], att->attbyval, att->attlen);
		}
		st->exists = true;
		KeysAdd(keys, st);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Upsert n parsed leads.  Fills each lead's out; leads that had to go the
 * one-lead way were processed by UpsertOne.
 */
static void
UpsertBatch(BLead **leads, int n)
{
	HASHCTL		ctl;
	HTAB	   *keys;
	int			i;
	BState	  **news,
			  **dirty;
	int			nnew = 0,
				ndirty = 0;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(BKeyData);
	ctl.entrysize = sizeof(BKey);
	ctl.hcxt = CurrentMemoryContext;
	keys = hash_create("ec upsert batch keys", n * 3 + 16, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	news = palloc(sizeof(BState *) * Max(n, 1));
	dirty = palloc(sizeof(BState *) * (Max(n, 1) * 3));

	/* 1. every key of the batch: probed, or in one statement */
	if (!BatchLookupDirect(leads, n, keys))
		BatchLookupSql(leads, n, keys);

	/* 2. the cascade and the merges, in memory */
	for (i = 0; i < n; i++)
	{
		BLead	   *l = leads[i];
		BState	   *by_mak,
				   *by_apn,
				   *by_hash,
				   *a;
		LeadRow		merged;
		bool		fills_key,
					queued;
		ColMask		changed;

		memset(&l->out, 0, sizeof(l->out));
		memset(l->touched, 0, sizeof(l->touched));
		l->state = NULL;
		l->redo = l->late = false;
		l->out.warnings = l->in.warnings;
		if (l->in.reject)
		{
			l->out.action = "rejected";
			l->out.reason = l->in.reject;
			continue;
		}
		by_mak = KeyFind(keys, 'm', C_MAK, &l->in.row);
		by_apn = KeyFind(keys, 'a', C_APN_KEY, &l->in.row);
		by_hash = KeyFind(keys, 'h', C_ADDR_HASH, &l->in.row);
		a = by_mak ? by_mak : by_apn ? by_apn : by_hash;
		l->touched[0] = by_mak && by_mak->exists ? by_mak->row.id : 0;
		l->touched[1] = by_apn && by_apn->exists ? by_apn->row.id : 0;
		l->touched[2] = by_hash && by_hash->exists ? by_hash->row.id : 0;

		if (a == NULL)
		{
			BState	   *st = palloc0(sizeof(BState));

			NewRow(&l->in, &st->row);
			news[nnew++] = st;
			KeysAdd(keys, st);
			l->state = st;
			l->out.action = "inserted";
			l->out.status = TextOf(&st->row, C_STATUS);
			l->out.queued = strcmp(l->out.status, "queued") == 0;
			continue;
		}

		/* two leads named, or a key of the lead differs: the careful way */
		if ((by_apn && by_apn != a) || (by_hash && by_hash != a) ||
			(!l->in.row.null[C_MAK] && !a->row.null[C_MAK] && !KeyEquals(&a->row, C_MAK, &l->in)) ||
			(!l->in.row.null[C_APN_KEY] && !a->row.null[C_APN_KEY] && !KeyEquals(&a->row, C_APN_KEY, &l->in)))
		{
			l->redo = true;
			continue;
		}

		l->out.matched_on = by_mak ? "mak" : by_apn ? "apn" : "addr_hash";
		changed = Merge(&a->row, &l->in, false, false, false, &merged, &fills_key, &queued);
		l->state = a;
		l->out.queued = queued;
		if (changed)
		{
			a->row = merged;
			a->changed |= changed;
			KeysAdd(keys, a);
			if (a->exists && !a->dirty)
			{
				a->dirty = true;
				dirty[ndirty++] = a;
			}
			l->out.action = "merged";
		}
		else
			l->out.action = "unchanged";
		l->out.status = TextOf(&a->row, C_STATUS);
	}

	/* 3. the writes */
	BatchInsert(news, nnew, keys);
	BatchUpdate(dirty, ndirty);

	/* 4. answers; what could not be written goes the one-lead way */
	for (i = 0; i < n; i++)
	{
		BLead	   *l = leads[i];

		if (l->in.reject)
			continue;
		if (l->redo || l->state == NULL || l->state->lost)
		{
			UpsertOne(&l->in, &l->out);
			l->late = true;
			continue;
		}
		l->out.lead_id = l->state->row.id;
		if (!l->state->row.null[C_BROKER])
			l->out.broker_id = DatumGetInt64(l->state->row.v[C_BROKER]);
	}
}

/* ---------------------------------------------------------------------
 * Answers and events
 * --------------------------------------------------------------------- */

static const char *const EventCols[6] = {"event_type", "ok", "lead_id", "broker_id", "duration_ms", "detail"};

/* event i of the batch as the values of EventCols */
static void
EventValues(const Batch *b, int i, Datum *v, bool *nulls)
{
	v[0] = b->type[i];
	nulls[0] = false;
	v[1] = BoolGetDatum(b->ok[i]);
	nulls[1] = false;
	v[2] = b->lead[i];
	nulls[2] = b->lead_null[i];
	v[3] = b->broker[i];
	nulls[3] = b->broker_null[i];
	v[4] = b->ms[i];
	nulls[4] = false;
	v[5] = b->detail[i];
	nulls[5] = false;
}

/*
 * The order kept events are appended in: by lead id, in the call's order
 * for one lead.  The log's lead index then takes the new leads' entries (the
 * highest ids, in a row) on its rightmost page without a descent of the tree
 * each (in the input's order, each entry of a stored lead between two new
 * ones sends the next one down from the root again: half the events'
 * descents of the bench's workload), and the stored leads' entries in key
 * order, several to a page while it is in the CPU's caches.
 */
static int
CompareEventLead(const void *a, const void *b, void *arg)
{
	const Batch *batch = (const Batch *) arg;
	int			i = *(const int *) a,
				j = *(const int *) b;
	int64		x = batch->lead_null[i] ? 0 : DatumGetInt64(batch->lead[i]);
	int64		y = batch->lead_null[j] ? 0 : DatumGetInt64(batch->lead[j]);

	if (x != y)
		return x < y ? -1 : 1;
	return i - j;
}

/* the events written: their values go, the cached ones with them */
static void
BatchReset(Batch *b)
{
	b->n = 0;
	MemoryContextReset(b->cxt);
	b->has_ms = false;
	b->ntypes = 0;
	b->queued_detail = (Datum) 0;
	b->ndetails = 0;
}

/*
 * the batch's events appended as COPY appends rows (src/common/bulk_insert.c);
 * false: write them through SQL (an INSERT trigger or row security on the log)
 */
static bool
EventsDirect(Batch *b)
{
	Oid			relid = EcRelationOid("pipeline_events");
	EcBulkInsert *bi = OidIsValid(relid) ? EcBulkInsertBegin(relid, lengthof(EventCols), EventCols) : NULL;
	int		   *order;
	int			i;

	if (bi == NULL)
		return false;
	order = MemoryContextAlloc(b->cxt, sizeof(int) * b->n);
	for (i = 0; i < b->n; i++)
		order[i] = i;
	qsort_arg(order, b->n, sizeof(int), CompareEventLead, b);
	for (i = 0; i < b->n; i++)
	{
		Datum		v[6];
		bool		nulls[6];

		EventValues(b, order[i], v, nulls);
		EcBulkInsertRow(bi, v, nulls);
	}
	(void) EcBulkInsertEnd(bi);
	BatchReset(b);
	return true;
}

/*
 * A one-lead call's events (one or two rows), each through the session's
 * kept writer (EcRowInsertOne): an INSERT's setup per statement was a sixth
 * of the call.  Returns how many were written; the caller writes the rest
 * through SQL (an INSERT trigger or row security on the log).
 */
static EcRowInsert *EventWriter = NULL;

static int
EventsOneByOne(Batch *b)
{
	Oid			relid = EcRelationOid("pipeline_events");
	int			i;

	if (!OidIsValid(relid))
		return 0;
	for (i = 0; i < b->n; i++)
	{
		Datum		v[6];
		bool		nulls[6];

		EventValues(b, i, v, nulls);
		if (!EcRowInsertOne(&EventWriter, relid, lengthof(EventCols), EventCols, v, nulls))
			break;
	}
	return i;
}

static void
BatchFlush(Batch *b)
{
	Datum		args[6];
	int			dims[1];
	int			lbs[1] = {1};
	int			rc;
	MemoryContext old;

	if (b->n == 0)
		return;
	if (b->n > 2 && EventsDirect(b))
		return;
	if (b->n <= 2)
	{
		int			i;

		/* a call's one or two events: each row written directly, else by SQL */
		for (i = EventsOneByOne(b); i < b->n; i++)
		{
			char		nulls[7] = "      ";

			args[0] = b->type[i];
			args[1] = BoolGetDatum(b->ok[i]);
			args[2] = b->lead[i];
			args[3] = b->broker[i];
			args[4] = b->ms[i];
			args[5] = b->detail[i];
			nulls[2] = b->lead_null[i] ? 'n' : ' ';
			nulls[3] = b->broker_null[i] ? 'n' : ' ';
			rc = SPI_execute_plan(EventOnePlan, args, nulls, false, 0);
			if (rc != SPI_OK_INSERT)
				elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
		}
		BatchReset(b);
		return;
	}
	old = MemoryContextSwitchTo(b->cxt);
	dims[0] = b->n;
	args[0] = PointerGetDatum(construct_array(b->type, b->n, TEXTOID, -1, false, TYPALIGN_INT));
	{
		Datum	   *oks = palloc(sizeof(Datum) * b->n);
		int			i;

		for (i = 0; i < b->n; i++)
			oks[i] = BoolGetDatum(b->ok[i]);
		args[1] = PointerGetDatum(construct_array(oks, b->n, BOOLOID, 1, true, TYPALIGN_CHAR));
	}
	args[2] = PointerGetDatum(construct_md_array(b->lead, b->lead_null, 1, dims, lbs,
												 INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[3] = PointerGetDatum(construct_md_array(b->broker, b->broker_null, 1, dims, lbs,
												 INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[4] = PointerGetDatum(construct_array(b->ms, b->n, NUMERICOID, -1, false, TYPALIGN_INT));
	args[5] = PointerGetDatum(construct_array(b->detail, b->n, JSONBOID, -1, false, TYPALIGN_INT));
	MemoryContextSwitchTo(old);
	rc = SPI_execute_plan(EventPlan, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	BatchReset(b);
}

/* add one event; the caller made room (AddEvents) and built detail in b->cxt */
static void
BatchAdd(Batch *b, const char *type, bool ok, int64 lead_id, int64 broker_id,
		 double ms, Jsonb *detail)
{
	MemoryContext old = MemoryContextSwitchTo(b->cxt);
	int			t;

	/* type: one of a few constants, its text made once */
	for (t = 0; t < b->ntypes && b->types[t].name != type; t++)
		;
	if (t < b->ntypes)
		b->type[b->n] = b->types[t].text;
	else
	{
		b->type[b->n] = CStringGetTextDatum(type);
		if (t < lengthof(b->types))
		{
			b->types[t].name = type;
			b->types[t].text = b->type[b->n];
			b->ntypes++;
		}
	}
	b->ok[b->n] = ok;
	b->lead[b->n] = Int64GetDatum(lead_id);
	b->lead_null[b->n] = lead_id == 0;
	b->broker[b->n] = Int64GetDatum(broker_id);
	b->broker_null[b->n] = broker_id == 0;
	if (!b->has_ms || b->last_ms != ms)
	{
		double		us = round(ms * 1000.0);

		/*
		 * numeric(12, 3) from the whole microseconds (float8_numeric went
		 * through the text form, about 3,000 instructions); what the column
		 * could not hold goes through the cast, which says so.
		 */
		if (us >= 0 && us < 1e12)
			b->last_ms_num = NumericGetDatum(int64_div_fast_to_numeric((int64) us, 3));
		else
			b->last_ms_num = DirectFunctionCall2(numeric,
												 DirectFunctionCall1(float8_numeric, Float8GetDatum(ms)),
												 Int32GetDatum(NUMERIC_TYPMOD_12_3));
		b->last_ms = ms;
		b->has_ms = true;
	}
	b->ms[b->n] = b->last_ms_num;
	b->detail[b->n] = JsonbPGetDatum(detail);
	b->n++;
	MemoryContextSwitchTo(old);
}

/* p made room for size bytes: allocated in the current context, or grown in its own */
static void *
Resize(void *p, Size size)
{
	return p ? repalloc(p, size) : palloc(size);
}

/* room for cap events in each of the batch's arrays, what they hold kept */
static void
BatchRoom(Batch *b, int cap)
{
	b->type = Resize(b->type, sizeof(Datum) * cap);
	b->ok = Resize(b->ok, sizeof(bool) * cap);
	b->lead = Resize(b->lead, sizeof(Datum) * cap);
	b->lead_null = Resize(b->lead_null, sizeof(bool) * cap);
	b->broker = Resize(b->broker, sizeof(Datum) * cap);
	b->broker_null = Resize(b->broker_null, sizeof(bool) * cap);
	b->ms = Resize(b->ms, sizeof(Datum) * cap);
	b->detail = Resize(b->detail, sizeof(Datum) * cap);
	b->cap = cap;
}

/*
 * The lead's dedupe_success (or dedupe_failed) event: its detail built as
 * jsonb here (no text to parse per event), once per distinct detail while
 * the batch lasts: the strings compared are constants and the call's source.
 */
static void
AddDedupeEvent(Batch *b, const char *source, const LeadOut *out, double ms)
{
	bool		ok = strcmp(out->action, "rejected") != 0;
	const char *reason = ok ? NULL : out->reason;
	Jsonb	   *detail = NULL;
	int			i;

	for (i = 0; i < b->ndetails; i++)
		if (b->details[i].action == out->action && b->details[i].matched_on == out->matched_on &&
			b->details[i].source == source && b->details[i].reason == reason &&
			b->details[i].conflict == (out->conflict != NULL))
		{
			detail = DatumGetJsonbP(b->details[i].detail);
			break;
		}
	if (detail == NULL)
	{
		JsonbParseState *st = NULL;

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		EcJsonbPushText(&st, "action", out->action);
		EcJsonbPushText(&st, "matched_on", out->matched_on);
		EcJsonbPushText(&st, "source", source);
		if (out->conflict)
		{
			JsonbValue	t;

			EcJsonbPushKey(&st, "conflict");
			t.type = jbvBool;
			t.val.boolean = true;
			pushJsonbValue(&st, WJB_VALUE, &t);
		}
		if (!ok)
			EcJsonbPushText(&st, "reason", out->reason);
		detail = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
		if (b->ndetails < lengthof(b->details))
		{
			b->details[b->ndetails].action = out->action;
			b->details[b->ndetails].matched_on = out->matched_on;
			b->details[b->ndetails].source = source;
			b->details[b->ndetails].reason = reason;
			b->details[b->ndetails].conflict = out->conflict != NULL;
			b->details[b->ndetails++].detail = JsonbPGetDatum(detail);
		}
	}
	BatchAdd(b, ok ? "dedupe_success" : "dedupe_failed", ok, out->lead_id,
			 out->broker_id, ms, detail);
}

/*
 * A lead's events: its dedupe event, unless the caller logs the batch itself
 * (ingestion: one dedupe_success per batch, each row's lead and action in
 * leads_staging), and campaign_queued when the lead became queued.
 */
static void
AddEvents(Batch *b, const char *source, const LeadOut *out, double ms)
{
	MemoryContext old;

	if (b->n >= b->cap - 1)
	{
		if (b->cap < b->max)
			BatchRoom(b, Min(b->cap * 2, b->max));
		else
			BatchFlush(b);
	}
	old = MemoryContextSwitchTo(b->cxt);
	if (b->lead_events)
		AddDedupeEvent(b, source, out, ms);
	if (out->queued || (out->status && strcmp(out->action, "inserted") == 0 &&
						strcmp(out->status, "queued") == 0))
	{
		if (b->queued_detail == (Datum) 0)
		{
			JsonbParseState *st = NULL;

			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			EcJsonbPushText(&st, "reason", "contact_verified");
			b->queued_detail = JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
		}
		BatchAdd(b, "campaign_queued", true, out->lead_id, out->broker_id, 0,
				 DatumGetJsonbP(b->queued_detail));
	}
	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------------
 * Entry points
 * --------------------------------------------------------------------- */

typedef struct Counts
{
	int64		total,
				inserted,
				merged,
				unchanged,
				rejected,
				conflicts;
} Counts;

/*
 * One lead's answer ({status, reason, lead_id, action, matched_on,
 * conflict, campaign_status, warnings}) as the pairs of a jsonb object
 * (src/common/jsonb_write.h), in the current memory context; returns how
 * many (pairs has room for RESULT_PAIRS).
 */
#define RESULT_PAIRS 8

static int
ResultPairs(const LeadOut *out, EcJbPair *pairs)
{
	bool		rejected = strcmp(out->action, "rejected") == 0;
	int			n = 0;

	pairs[n].key = "status";
	pairs[n++].value = EcJbNumeric(int64_to_numeric(rejected ? 422 : 200));
	pairs[n].key = "reason";
	pairs[n++].value = EcJbText(rejected ? out->reason : "ok");
	pairs[n].key = "lead_id";
	pairs[n++].value = out->lead_id ? EcJbNumeric(int64_to_numeric(out->lead_id)) : EcJbNull();
	pairs[n].key = "action";
	pairs[n++].value = EcJbText(out->action);
	pairs[n].key = "matched_on";
	pairs[n++].value = EcJbText(out->matched_on);
	pairs[n].key = "conflict";
	pairs[n++].value = out->conflict ?
		EcJbContainer(DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(out->conflict->data)))) :
		EcJbNull();
	if (out->status)
	{
		pairs[n].key = "campaign_status";
		pairs[n++].value = EcJbText(out->status);
	}
	if (out->warnings)
	{
		JsonbValue *v = &pairs[n].value;
		ListCell   *lc;
		int			i = 0;

		v->type = jbvArray;
		v->val.array.rawScalar = false;
		v->val.array.nElems = list_length(out->warnings);
		v->val.array.elems = palloc(sizeof(JsonbValue) * list_length(out->warnings));
		foreach(lc, out->warnings)
			v->val.array.elems[i++] = EcJbText((char *) lfirst(lc));
		pairs[n++].key = "warnings";
	}
	Assert(n <= RESULT_PAIRS);
	return n;
}

static void
CountOne(Counts *counts, const LeadOut *out)
{
	counts->total++;
	if (strcmp(out->action, "inserted") == 0)
		counts->inserted++;
	else if (strcmp(out->action, "merged") == 0)
		counts->merged++;
	else if (strcmp(out->action, "unchanged") == 0)
		counts->unchanged++;
	else
		counts->rejected++;
	if (out->conflict)
		counts->conflicts++;
}

/* parse, upsert and log one lead; *out gets its answer */
static void
ProcessOne(Jsonb *lead, const char *source, Batch *events, Counts *counts,
		   LeadOut *out)
{
	LeadIn		in;
	instr_time	start,
				dur;

	INSTR_TIME_SET_CURRENT(start);
	ParseLead(lead, source, &in, false, NULL);
	UpsertOne(&in, out);
	INSTR_TIME_SET_CURRENT(dur);
	INSTR_TIME_SUBTRACT(dur, start);
	AddEvents(events, in.source, out, INSTR_TIME_GET_MILLISEC(dur));
	CountOne(counts, out);
}

/* staging rows done, written back in batches */
typedef struct StagedDone StagedDone;
static void StagedAdd(StagedDone *sd, int64 staging_id, const LeadOut *out);

/*
 * A bulk call's leads are upserted in windows of up to WINDOW_MAX leads,
 * in batches of BATCH_MAX.  A window of more than one batch is ordered by
 * the leads' keys rather than by their input positions: each batch then
 * covers a narrow range of the keys' indexes, so its probes and its new
 * leads' index entries keep to a few pages that stay in the CPU's caches.
 * To order it, the window's leads are read twice: once for their keys
 * only (ParseLead's keys_only), and once whole, a batch at a time, so that
 * a window holds no more than each lead's keys and answer.
 *
 * The order changes nothing a lead's answer says.  Leads that share a key
 * form a group that goes into one batch (or consecutive ones) in input
 * order, so they merge in input order as before; answers, counts, events
 * and staging rows are given in input order when the window is done.  Two
 * leads without a common key can still reach one lead (one by its MAK,
 * another by its address hash), which only the look-ups tell: so the
 * window runs in a subtransaction and records the leads each lead reached;
 * if any was reached out of input order, the window is rolled back and
 * done again in input order.  New leads take their ids in the order they
 * are written: by key within a window.
 */
#define WINDOW_MAX 100000

/* a lead of the window */
typedef struct WLead
{
	JsonbValue	jv;				/* as it came: into the call's input, or a copy */
	int64		staging_id;
	LeadOut		out;			/* its answer, in the window's memory */
	KeyVals    *kv;				/* what its keys' parse made (in wcxt), or NULL */
} WLead;

/* a window lead's key of kind k (0 address hash, 1 APN key, 2 MAK), or NULL */
static inline const struct varlena *
WindowKey(const WLead *wl, int k)
{
	static const KeyPos pos[3] = {KP_ADDR_HASH, KP_APN_KEY, KP_MAK};

	if (wl->kv->reject != NULL || wl->kv->null[pos[k]])
		return NULL;
	return (const struct varlena *) DatumGetPointer(wl->kv->v[pos[k]]);
}

/* leads gathered for one window */
typedef struct BatchRun
{
	const char *source;
	WLead	   *leads;			/* the window, in input order */
	int			n;
	int			cap;
	BLead	   *batch;			/* one batch's leads, parsed */
	MemoryContext wcxt;			/* the window's keys and answers */
	MemoryContext cxt;			/* one batch's work, reset after each */
	instr_time	start;
	Batch	   *events;
	Counts	   *counts;
	EcJbArray  *results;		/* per-lead answers, or NULL */
	StagedDone *done;			/* staging rows to mark, or NULL */
	const char *statuses[8];	/* campaign_status texts kept in wcxt */
	int			nstatuses;
} BatchRun;

static void
BatchRunInit(BatchRun *br, const char *source, Batch *events, Counts *counts,
			 EcJbArray *results, StagedDone *done)
{
	memset(br, 0, sizeof(*br));
	br->source = source;
	br->cap = BATCH_MAX;
	br->leads = palloc(sizeof(WLead) * br->cap);
	br->batch = palloc(sizeof(BLead) * BATCH_MAX);
	br->wcxt = AllocSetContextCreate(CurrentMemoryContext, "ec upsert window",
									 ALLOCSET_DEFAULT_SIZES);

	/*
	 * One block that holds a whole batch (about 9 MB for 1,000 leads) and is
	 * kept across resets: memory freed and allocated again per batch came
	 * back from the kernel as fresh pages, and zeroing them cost a fifth of
	 * the bulk path.
	 */
	br->cxt = AllocSetContextCreate(CurrentMemoryContext, "ec upsert batch leads",
									16 * 1024 * 1024, 16 * 1024 * 1024, 16 * 1024 * 1024);
	br->events = events;
	br->counts = counts;
	br->results = results;
	br->done = done;
	PrepareBatchPlans();
}

/* a lead's answer, made in a batch's memory, kept in the window's */
static void
KeepOut(BatchRun *br, const LeadOut *from, LeadOut *out)
{
	MemoryContext old = MemoryContextSwitchTo(br->wcxt);

	*out = *from;
	if (out->status)
	{
		int			k;

		for (k = 0; k < br->nstatuses; k++)
			if (strcmp(br->statuses[k], out->status) == 0)
				break;
		if (k == br->nstatuses && k < lengthof(br->statuses))
			br->statuses[br->nstatuses++] = pstrdup(out->status);
		out->status = k < br->nstatuses ? br->statuses[k] : pstrdup(out->status);
	}
	if (out->conflict)
	{
		StringInfo	c = makeStringInfo();

		appendBinaryStringInfo(c, out->conflict->data, out->conflict->len);
		out->conflict = c;
	}
	/* warnings and reasons are constant texts */
	out->warnings = list_copy(out->warnings);
	MemoryContextSwitchTo(old);
}

/* a lead that reached a stored or new lead, and when */
typedef struct Touch
{
	int64		lead_id;
	int			seq;
	int			idx;			/* the lead's input position */
} Touch;

static int
CompareTouch(const void *a, const void *b)
{
	const Touch *x = (const Touch *) a;
	const Touch *y = (const Touch *) b;

	if (x->lead_id != y->lead_id)
		return x->lead_id < y->lead_id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

static void
TouchAdd(Touch *t, int *nt, int64 lead_id, int idx)
{
	int			k;

	if (lead_id == 0)
		return;
	/* once per lead and lead reached */
	for (k = *nt - 1; k >= 0 && t[k].idx == idx; k--)
		if (t[k].lead_id == lead_id)
			return;
	t[*nt].lead_id = lead_id;
	t[*nt].seq = *nt;
	t[*nt].idx = idx;
	(*nt)++;
}

/*
 * One batch's touches, in the order its leads were upserted: the batch's
 * cascade in batch order, then the leads that went the one-lead way.
 */
static void
TouchBatch(BLead **leads, int m, Touch *t, int *nt)
{
	int			pass,
				i,
				k;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < m; i++)
		{
			BLead	   *l = leads[i];

			if (l->in.reject || l->late != (pass == 1))
				continue;
			for (k = 0; k < 3; k++)
				TouchAdd(t, nt, l->touched[k], l->idx);
			TouchAdd(t, nt, l->out.lead_id, l->idx);
		}
}

/* whether every lead was reached in input order */
static bool
TouchesInOrder(Touch *t, int nt)
{
	int			i;

	qsort(t, nt, sizeof(Touch), CompareTouch);
	for (i = 1; i < nt; i++)
		if (t[i].lead_id == t[i - 1].lead_id)
		{
			if (t[i].idx < t[i - 1].idx)
				return false;
		}
	return true;
}

/*
 * Upsert the window's leads batch by batch in the order given (NULL: input
 * order; gstart: where each group of the order starts).  With touches,
 * records the leads each lead reached.
 */
static void
RunBatches(BatchRun *br, const int *order, const bool *gstart, Touch *t, int *nt)
{
	BLead	  **batch = palloc(sizeof(BLead *) * BATCH_MAX);
	int			pos = 0;

	while (pos < br->n)
	{
		MemoryContext old;
		int			m = 0,
					i;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(br->cxt);
		/* a batch ends before a group that would not fit in it whole */
		while (pos < br->n && m < BATCH_MAX)
		{
			int			idx = order ? order[pos] : pos;

			if (order != NULL && m > 0 && gstart[pos])
			{
				int			end = pos + 1;

				while (end < br->n && !gstart[end])
					end++;
				if (m + (end - pos) > BATCH_MAX)
					break;
			}
			batch[m] = &br->batch[m];
			ParseLead(JsonbValueToJsonb(&br->leads[idx].jv), br->source, &batch[m]->in, false,
					  br->leads[idx].kv);
			batch[m]->idx = idx;
			m++;
			pos++;
		}
		UpsertBatch(batch, m);
		MemoryContextSwitchTo(old);
		if (t != NULL)
			TouchBatch(batch, m, t, nt);
		for (i = 0; i < m; i++)
			KeepOut(br, &batch[i]->out, &br->leads[batch[i]->idx].out);
		MemoryContextReset(br->cxt);
	}
	pfree(batch);
}

/* a lead's place in the window's order */
typedef struct OrderKey
{
	uint64		prefix;			/* the key's first 8 bytes, big-endian */
	const struct varlena *key;	/* NULL: no key */
	int			rank;			/* 0 no key, 1 address hash, 2 APN key, 3 MAK */
	int			root;			/* the first lead of its group */
	int			idx;
} OrderKey;

static void
OrderKeySet(OrderKey *o, const struct varlena *v, int rank)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(v);
	int			len = VARSIZE_ANY_EXHDR(v),
				i;

	o->key = v;
	o->rank = rank;
	o->prefix = 0;
	for (i = 0; i < 8; i++)
		o->prefix = (o->prefix << 8) | (i < len ? p[i] : 0);
}

static inline int
CompareOrderKey(const OrderKey *x, const OrderKey *y)
{
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	if (x->key != NULL && y->key != NULL && x->key != y->key)
	{
		int			r = CompareBytes(x->key, y->key);

		if (r != 0)
			return r;
	}
	if (x->root != y->root)
		return x->root < y->root ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx ? 1 : 0;
}

/* sort_order_keys(): OrderKeys sorted by CompareOrderKey, inlined */
#define ST_SORT sort_order_keys
#define ST_ELEMENT_TYPE OrderKey
#define ST_COMPARE(a, b) CompareOrderKey(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

static int
GroupFind(int *parent, int i)
{
	while (parent[i] != i)
	{
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

/* the window's leads' keys (ParseLead's keys_only), kept in wcxt */
static void
WindowKeys(BatchRun *br)
{
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "ec upsert keys",
												  ALLOCSET_DEFAULT_SIZES);
	int			i;

	for (i = 0; i < br->n; i++)
	{
		WLead	   *wl = &br->leads[i];
		MemoryContext old;
		LeadIn		in;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(scratch);

		ParseLead(JsonbValueToJsonb(&wl->jv), br->source, &in, true, NULL);
		MemoryContextSwitchTo(br->wcxt);
		wl->kv = KeyValsMake(&in);
		MemoryContextSwitchTo(old);
		if (i % 256 == 255)
			MemoryContextReset(scratch);
	}
	MemoryContextDelete(scratch);
}

/*
 * The window's order: leads that share a key are one group, whose first
 * lead is its root; groups by their root's address hash (else APN key,
 * else MAK), a group's leads in input order.  Fills order (input
 * positions) and gstart (a group starts there).
 */
static void
KeyOrder(BatchRun *br, int *order, bool *gstart)
{
	int			n = br->n;
	OrderKey   *ok = palloc(sizeof(OrderKey) * n);
	int		   *parent = palloc(sizeof(int) * n);
	int		   *byhash = palloc(sizeof(int) * n);
	int			nhash = 0,
				nkeyless = 0,
				unions = 0,
				i,
				k;

	WindowKeys(br);
	for (i = 0; i < n; i++)
		parent[i] = i;
	/* groups: leads with an equal key, joined under the lowest position */
	for (k = 0; k < 3; k++)
	{
		int			m = 0;

		for (i = 0; i < n; i++)
			if (WindowKey(&br->leads[i], k) != NULL)
			{
				OrderKeySet(&ok[m], WindowKey(&br->leads[i], k), 1);
				ok[m].root = 0;
				ok[m++].idx = i;
			}
		sort_order_keys(ok, m);
		for (i = 1; i < m; i++)
			if (ok[i].prefix == ok[i - 1].prefix && CompareBytes(ok[i].key, ok[i - 1].key) == 0)
			{
				int			a = GroupFind(parent, ok[i - 1].idx),
							b = GroupFind(parent, ok[i].idx);

				if (a < b)
					parent[b] = a;
				else if (b < a)
					parent[a] = b;
				unions++;
			}
		if (k == 0)
			for (i = 0; i < m; i++)
				byhash[nhash++] = ok[i].idx;
	}

	/*
	 * No two leads share a key and each has an address hash, or no key at
	 * all: the order is the keyless leads', then the hashes'.
	 */
	for (i = 0; i < n; i++)
		if (WindowKey(&br->leads[i], 0) == NULL && WindowKey(&br->leads[i], 1) == NULL &&
			WindowKey(&br->leads[i], 2) == NULL)
			order[nkeyless++] = i;
	if (unions == 0 && nkeyless + nhash == n)
	{
		memcpy(order + nkeyless, byhash, sizeof(int) * nhash);
		memset(gstart, true, sizeof(bool) * n);
		pfree(ok);
		pfree(parent);
		pfree(byhash);
		return;
	}
	/* each lead sorts by its root's first key */
	for (i = 0; i < n; i++)
	{
		int			root = GroupFind(parent, i);

		memset(&ok[i], 0, sizeof(OrderKey));
		for (k = 0; k < 3; k++)
			if (WindowKey(&br->leads[root], k) != NULL)
			{
				OrderKeySet(&ok[i], WindowKey(&br->leads[root], k), k + 1);
				break;
			}
		ok[i].root = root;
		ok[i].idx = i;
	}
	sort_order_keys(ok, n);
	for (i = 0; i < n; i++)
	{
		order[i] = ok[i].idx;
		gstart[i] = i == 0 || ok[i].root != ok[i - 1].root;
	}
	pfree(ok);
	pfree(parent);
	pfree(byhash);
}

/*
 * Upsert the window in key order, in a subtransaction; false when a lead
 * was reached out of input order: then nothing was written.
 */
static bool
RunKeyOrder(BatchRun *br)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int		   *order = palloc(sizeof(int) * br->n);
	bool	   *gstart = palloc(sizeof(bool) * br->n);
	Touch	   *t = palloc(sizeof(Touch) * (Size) br->n * 4);
	int			nt = 0;
	volatile bool ok = true;

	KeyOrder(br, order, gstart);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		RunBatches(br, order, gstart, t, &nt);
		ok = TouchesInOrder(t, nt);
		if (ok)
			EcSubxactCommit(cxt, owner);
		else
			EcSubxactRollback(cxt, owner);
	}
	PG_CATCH();
	{
		ErrorData  *edata = EcSubxactAbort(cxt, owner);

		ReThrowError(edata);
	}
	PG_END_TRY();
	pfree(order);
	pfree(gstart);
	pfree(t);
	return ok;
}

/* upsert the window's leads, then give their answers in input order */
static void
BatchRunFlush(BatchRun *br)
{
	MemoryContext old;
	instr_time	dur;
	double		ms;
	int			i;

	if (br->n == 0)
		return;
	if (br->n <= BATCH_MAX || !RunKeyOrder(br))
		RunBatches(br, NULL, NULL, NULL, NULL);
	INSTR_TIME_SET_CURRENT(dur);
	INSTR_TIME_SUBTRACT(dur, br->start);
	/* a lead's share of its window */
	ms = INSTR_TIME_GET_MILLISEC(dur) / br->n;
	old = MemoryContextSwitchTo(br->cxt);
	for (i = 0; i < br->n; i++)
	{
		LeadOut    *out = &br->leads[i].out;

		AddEvents(br->events, br->source, out, ms);
		CountOne(br->counts, out);
		if (br->results)
		{
			EcJbPair	pairs[RESULT_PAIRS];

			EcJbArrayAddObject(br->results, pairs, ResultPairs(out, pairs));
		}
		if (br->done)
			StagedAdd(br->done, br->leads[i].staging_id, out);
		if (i % BATCH_MAX == BATCH_MAX - 1)
			MemoryContextReset(br->cxt);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(br->cxt);
	MemoryContextReset(br->wcxt);
	br->nstatuses = 0;
	br->n = 0;
}

/*
 * Add one lead to the window.  jv is copied, not what it points to: a
 * container in the call's input, or in br->wcxt (made there by the caller).
 */
static void
BatchRunAdd(BatchRun *br, const JsonbValue *jv, int64 staging_id)
{
	if (br->n == br->cap)
	{
		br->cap = Min(br->cap * 2, WINDOW_MAX);
		br->leads = repalloc_huge(br->leads, sizeof(WLead) * br->cap);
	}
	if (br->n == 0)
		INSTR_TIME_SET_CURRENT(br->start);
	memset(&br->leads[br->n], 0, sizeof(WLead));
	br->leads[br->n].jv = *jv;
	br->leads[br->n].staging_id = staging_id;
	br->n++;
	if (br->n == WINDOW_MAX)
		BatchRunFlush(br);
}

static const char *
SourceArg(FunctionCallInfo fcinfo, int n)
{
	char	   *s;
	char	   *p;

	if (PG_ARGISNULL(n))
		return "unknown";
	s = text_to_cstring(PG_GETARG_TEXT_PP(n));
	for (p = s; *p; p++)
		*p = pg_ascii_tolower((unsigned char) *p);
	if (!(s[0] >= 'a' && s[0] <= 'z') || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid source name: \"%s\"", s),
				 errdetail("A source is a lower-case name of letters, digits and underscores, such as \"propstream\".")));
	return s;
}

/*
 * Ingestion logs its batches itself (one dedupe_success per batch; each
 * row's lead and action stay in leads_staging): it arms this right before
 * its call of ec.upsert_leads or ec.upsert_staged_leads and disarms it after,
 * whatever happens.  The call takes it at its start, so a call nested
 * inside (a user's trigger on ec.leads) logs as usual.
 */
static bool next_call_logs_batch = false;

void
IdentityNextCallLogsBatch(bool on)
{
	next_call_logs_batch = on;
}

/* whether the call now starting writes per-lead dedupe events; disarms */
static bool
TakeLeadEvents(void)
{
	bool		lead_events = !next_call_logs_batch;

	next_call_logs_batch = false;
	return lead_events;
}

/*
 * big: a bulk call's, kept up to EVENTS_MAX events (room made as they come);
 * else a one-lead call's (two events at most)
 */
static void
BatchInit(Batch *b, bool big)
{
	memset(b, 0, sizeof(Batch));
	b->max = big ? EVENTS_MAX : 4;
	BatchRoom(b, big ? 1024 : 4);
	b->lead_events = true;
	if (big)
		b->cxt = AllocSetContextCreate(CurrentMemoryContext, "ec upsert batch",
									   4 * 1024 * 1024, 4 * 1024 * 1024, 8 * 1024 * 1024);
	else
		b->cxt = AllocSetContextCreate(CurrentMemoryContext, "ec upsert batch",
									   ALLOCSET_SMALL_SIZES);
}

static Datum
JsonbResult(StringInfo buf)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf->data));
}

static void
Connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PreparePlans();
}

/* one lead: {lead_id, action, matched_on, conflict, ...} */
PG_FUNCTION_INFO_V1(ec_upsert_lead);
Datum
ec_upsert_lead(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	Jsonb	   *lead;
	const char *source = SourceArg(fcinfo, 1);
	Batch	   *events;
	Counts		counts = {0};
	LeadOut		out;
	EcJbPair	pairs[RESULT_PAIRS];
	Datum		d;

	if (PG_ARGISNULL(0))
		lead = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("null")));
	else
		lead = PG_GETARG_JSONB_P(0);

	Connect();
	events = palloc(sizeof(Batch));
	BatchInit(events, false);
	ProcessOne(lead, source, events, &counts, &out);
	BatchFlush(events);

	MemoryContextSwitchTo(caller);
	d = JsonbPGetDatum(EcJbObjectJsonb(pairs, ResultPairs(&out, pairs)));
	SPI_finish();
	PG_RETURN_DATUM(d);
}

static void
AppendCounts(StringInfo buf, const Counts *c)
{
	appendStringInfo(buf, "\"count\": " INT64_FORMAT ", \"inserted\": " INT64_FORMAT
					 ", \"merged\": " INT64_FORMAT ", \"unchanged\": " INT64_FORMAT
					 ", \"rejected\": " INT64_FORMAT ", \"conflicts\": " INT64_FORMAT,
					 c->total, c->inserted, c->merged, c->unchanged, c->rejected,
					 c->conflicts);
}

/* many leads: a JSON array in, counts and per-row results out */
PG_FUNCTION_INFO_V1(ec_upsert_leads);
Datum
ec_upsert_leads(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	bool		lead_events = TakeLeadEvents();
	const char *source = SourceArg(fcinfo, 1);
	Jsonb	   *leads;
	Batch	   *events;
	Counts		counts = {0};
	EcJbArray	results;
	EcJbPair	answer[9];
	BatchRun	br;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	Datum		d;

	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in,
											CStringGetDatum("{\"status\": 400, \"reason\": \"leads_missing\"}")));
	leads = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_ARRAY(leads) || JB_ROOT_IS_SCALAR(leads))
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in,
											CStringGetDatum("{\"status\": 400, \"reason\": \"leads_not_an_array\"}")));

	Connect();
	events = palloc(sizeof(Batch));
	BatchInit(events, true);
	events->lead_events = lead_events;
	EcJbArrayInit(&results);
	BatchRunInit(&br, source, events, &counts, &results, NULL);
	it = JsonbIteratorInit(&leads->root);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (r != WJB_ELEM)
			continue;
		CHECK_FOR_INTERRUPTS();
		BatchRunAdd(&br, &v, 0);
	}
	BatchRunFlush(&br);
	BatchFlush(events);

	answer[0].key = "results";
	answer[0].value = EcJbArrayValue(&results);
	answer[1].key = "status";
	answer[1].value = EcJbNumeric(int64_to_numeric(200));
	answer[2].key = "reason";
	answer[2].value = EcJbText("ok");
	{
		static const char *const keys[6] = {"count", "inserted", "merged", "unchanged", "rejected", "conflicts"};
		int64		n[6] = {counts.total, counts.inserted, counts.merged, counts.unchanged,
		counts.rejected, counts.conflicts};
		int			i;

		for (i = 0; i < 6; i++)
		{
			answer[3 + i].key = keys[i];
			answer[3 + i].value = EcJbNumeric(int64_to_numeric(n[i]));
		}
	}
	MemoryContextSwitchTo(caller);
	d = JsonbPGetDatum(EcJbObjectJsonb(answer, lengthof(answer)));
	SPI_finish();
	PG_RETURN_DATUM(d);
}

/* staging rows done, written back in batches */
typedef struct StagedDone
{
	int			n;
	Datum		ids[BATCH_MAX];
	Datum		leads[BATCH_MAX];
	bool		lead_nulls[BATCH_MAX];
	Datum		actions[BATCH_MAX];
	Datum		reasons[BATCH_MAX];
	bool		reason_nulls[BATCH_MAX];
	MemoryContext cxt;
} StagedDone;

static void
StagedFlush(StagedDone *sd)
{
	Datum		args[4];
	int			dims[1];
	int			lbs[1] = {1};
	int			rc;
	MemoryContext old;

	if (sd->n == 0)
		return;
	dims[0] = sd->n;
	old = MemoryContextSwitchTo(sd->cxt);
	args[0] = PointerGetDatum(construct_array(sd->ids, sd->n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_md_array(sd->leads, sd->lead_nulls, 1, dims, lbs,
												 INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[2] = PointerGetDatum(construct_array(sd->actions, sd->n, TEXTOID, -1, false, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_md_array(sd->reasons, sd->reason_nulls, 1, dims, lbs,
												 TEXTOID, -1, false, TYPALIGN_INT));
	MemoryContextSwitchTo(old);
	rc = SPI_execute_plan(StagedDonePlan, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	sd->n = 0;
	MemoryContextReset(sd->cxt);
}

static void
StagedAdd(StagedDone *sd, int64 staging_id, const LeadOut *out)
{
	MemoryContext old;

	if (sd->n == BATCH_MAX)
		StagedFlush(sd);
	old = MemoryContextSwitchTo(sd->cxt);
	sd->ids[sd->n] = Int64GetDatum(staging_id);
	sd->leads[sd->n] = Int64GetDatum(out->lead_id);
	sd->lead_nulls[sd->n] = out->lead_id == 0;
	sd->actions[sd->n] = CStringGetTextDatum(out->action);
	sd->reason_nulls[sd->n] = out->reason == NULL;
	sd->reasons[sd->n] = (Datum) 0;
	if (out->reason)
		sd->reasons[sd->n] = CStringGetTextDatum(out->reason);
	sd->n++;
	MemoryContextSwitchTo(old);
}

/* the valid staged rows of an upload: counts out, staging rows marked */
PG_FUNCTION_INFO_V1(ec_upsert_staged_leads);
Datum
ec_upsert_staged_leads(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	bool		lead_events = TakeLeadEvents();
	int64		upload_id = PG_GETARG_INT64(0);
	const char *source = SourceArg(fcinfo, 1);
	Batch	   *events;
	StagedDone *done;
	Counts		counts = {0};
	StringInfoData answer;
	BatchRun	br;
	Portal		portal;
	Datum		arg = Int64GetDatum(upload_id);
	Datum		d;

	Connect();
	events = palloc(sizeof(Batch));
	BatchInit(events, true);
	events->lead_events = lead_events;
	done = palloc(sizeof(StagedDone));
	done->n = 0;
	done->cxt = AllocSetContextCreate(CurrentMemoryContext, "ec upsert staged",
									  ALLOCSET_DEFAULT_SIZES);
	BatchRunInit(&br, source, events, &counts, NULL, done);

	portal = SPI_cursor_open(NULL, StagedPlan, &arg, NULL, false);
	for (;;)
	{
		SPITupleTable *tt;
		uint64		i,
					n;

		SPI_cursor_fetch(portal, true, BATCH_MAX);
		tt = SPI_tuptable;
		n = SPI_processed;
		if (n == 0)
		{
			SPI_freetuptable(tt);
			break;
		}
		for (i = 0; i < n; i++)
		{
			bool		isnull;
			int64		staging_id = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
			Datum		rec = SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull);

			MemoryContext old;
			Jsonb	   *j;
			JsonbValue	jv;

			CHECK_FOR_INTERRUPTS();
			old = MemoryContextSwitchTo(br.wcxt);
			j = DatumGetJsonbPCopy(rec);
			MemoryContextSwitchTo(old);
			jv.type = jbvBinary;
			jv.val.binary.data = &j->root;
			jv.val.binary.len = VARSIZE(j) - VARHDRSZ;
			BatchRunAdd(&br, &jv, staging_id);
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	BatchRunFlush(&br);
	StagedFlush(done);
	BatchFlush(events);

	MemoryContextSwitchTo(caller);
	initStringInfo(&answer);
	appendStringInfoString(&answer, "{\"status\": 200, \"reason\": \"ok\", ");
	AppendCounts(&answer, &counts);
	appendStringInfo(&answer, ", \"upload_id\": " INT64_FORMAT "}", upload_id);
	d = JsonbResult(&answer);
	SPI_finish();
	PG_RETURN_DATUM(d);
}

void
IdentityInit(void)
{
	CodesInit();
}
