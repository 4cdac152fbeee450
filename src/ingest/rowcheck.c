/*-------------------------------------------------------------------------
 *
 * rowcheck.c
 *		One mapped row: validate each field (core/fieldcheck.c), decide
 *		whether the row is kept, and build its record as ec.upsert_lead
 *		takes it.
 *
 * A row is rejected when its property cannot be placed: no street line, no
 * state or a wrong one, a wrong ZIP (or neither ZIP nor city), a field count
 * that differs from the header, a JSON record that is not an object.  Any
 * other bad field is dropped from a kept row, with its reason: a row with a
 * good property and a malformed email is a lead without that email.
 *
 * The record of a kept row holds the lead keys (contacts as the arrays
 * "emails" and "phones", canonical forms), the fields no profile rule names
 * under "extra", and a JSON record whole under "payload".  A rejected row's
 * record holds every field as read, to show the sender what arrived.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "core/address.h"
#include "core/fieldcheck.h"
#include "ingest/ingest.h"
#include "common/jsonb_push.h"
#include "common/jsonb_write.h"

#define INGEST_NAME_MAX		100
#define INGEST_STREET_MAX	200
#define INGEST_UNIT_MAX		50
#define INGEST_CITY_MAX		100
#define INGEST_APN_MAX		64
#define INGEST_EXTRA_MAX	1000

static const char *const ingest_reason_names[IR_COUNT] = {
	[IR_MISSING_ADDRESS] = "missing_address",
	[IR_MISSING_STATE] = "missing_state",
	[IR_BAD_STATE] = "bad_state",
	[IR_MISSING_ZIP] = "missing_zip",
	[IR_BAD_ZIP] = "bad_zip",
	[IR_WRONG_FIELD_COUNT] = "wrong_field_count",
	[IR_NOT_AN_OBJECT] = "not_an_object",
	[IR_INVALID_EMAIL] = "invalid_email",
	[IR_INVALID_PHONE] = "invalid_phone",
	[IR_PHONE_ON_DNC] = "phone_on_dnc",
	[IR_OWNER_AGE_OUT_OF_RANGE] = "owner_age_out_of_range",
	[IR_BAD_OWNER_AGE] = "bad_owner_age",
	[IR_BAD_OWNER_OCCUPIED] = "bad_owner_occupied",
	[IR_BAD_ESTIMATED_VALUE] = "bad_estimated_value",
	[IR_BAD_ESTIMATED_EQUITY] = "bad_estimated_equity",
	[IR_BAD_YEARS_OWNED] = "bad_years_owned",
	[IR_BAD_LAST_SALE_DATE] = "bad_last_sale_date",
	[IR_BAD_COUNTY_FIPS] = "bad_county_fips",
	[IR_BAD_MAK] = "bad_mak",
	[IR_BAD_ASSIGNED_BROKER_ID] = "bad_assigned_broker_id",
	[IR_BAD_VERIFICATION_CODE] = "bad_verification_code",
	[IR_TOO_MANY_CONTACTS] = "too_many_contacts",
	[IR_FIELD_TRUNCATED] = "field_truncated",
};

StaticAssertDecl(IR_COUNT <= 32, "reasons are a 32-bit mask");

const char *
IngestReasonName(IngestReason reason)
{
	return (reason >= 0 && reason < IR_COUNT) ? ingest_reason_names[reason] : "unknown";
}

void
IngestRowReset(IngestRow *row)
{
	memset(row->scalar, 0, sizeof(row->scalar));
	row->nemails = row->nphones = row->ndnc = row->ncodes = 0;
	row->overflow = false;
	row->nextra = 0;
	row->nraw = 0;
	row->payload = NULL;
	row->not_object = false;
	row->wrong_width = false;
}

static inline bool
IngestBlank(const char *s, size_t len)
{
	ec_field_trim(&s, &len);
	return len == 0;
}

static inline void
IngestPushValue(IngestValue *arr, int *n, bool *overflow, const char *s, size_t len, int number)
{
	if (*n >= INGEST_MAX_CONTACTS)
	{
		*overflow = true;
		return;
	}
	arr[*n].s = s;
	arr[*n].len = len;
	arr[*n].number = number;
	(*n)++;
}

void
IngestRowAdd(IngestRow *row, IngestTarget target, const char *s, size_t len, int number)
{
	if (s == NULL || IngestBlank(s, len))
		return;
	switch (target)
	{
		case IT_EXTRA:
		case IT_IGNORE:
			return;
		case IT_EMAIL:
			IngestPushValue(row->emails, &row->nemails, &row->overflow, s, len, number);
			return;
		case IT_PHONE:
			IngestPushValue(row->phones, &row->nphones, &row->overflow, s, len, number);
			return;
		case IT_PHONE_DNC:
			IngestPushValue(row->dnc, &row->ndnc, &row->overflow, s, len, number);
			return;
		case IT_VERIFICATION_CODES:
			IngestPushValue(row->codes, &row->ncodes, &row->overflow, s, len, number);
			return;
		default:
			if (row->scalar[target].s == NULL)
			{
				row->scalar[target].s = s;
				row->scalar[target].len = len;
				row->scalar[target].number = number;
			}
			return;
	}
}

/* Building the record. */

static void
PushStringN(JsonbParseState **st, JsonbIteratorToken tok, const char *s, size_t len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = (int) len;
	pushJsonbValue(st, tok, &v);
}

/* Today's date in the session time zone, once per transaction. */
static void
IngestToday(int *y, int *m, int *d)
{
	static TimestampTz cached_at = 0;
	static int	cy,
				cm,
				cd;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (now != cached_at)
	{
		struct pg_tm tm;
		fsec_t		fsec;
		int			tz;

		if (timestamp2tm(now, &tz, &tm, &fsec, NULL, NULL) != 0)
			elog(ERROR, "current timestamp out of range");
		cy = tm.tm_year;
		cm = tm.tm_mon;
		cd = tm.tm_mday;
		cached_at = now;
	}
	*y = cy;
	*m = cm;
	*d = cd;
}

/* Is the DNC value tied to this phone's number a yes? */
static bool
IngestPhoneOnDnc(const IngestRow *row, int number)
{
	int			i;

	for (i = 0; i < row->ndnc; i++)
	{
		bool		b;

		if (row->dnc[i].number == number &&
			ec_field_bool(row->dnc[i].s, row->dnc[i].len, &b) == EC_FIELD_OK && b)
			return true;
	}
	return false;
}

/*
 * A whole address in the address field ("123 Main St, Tampa, FL 33606", a
 * one-column spreadsheet's) when the row has no city, state or ZIP of its
 * own: split as identity splits it (EcAddressSplitLine), so that the row is
 * placed and checked by its parts.  Otherwise the row as it is.
 */
static const IngestRow *
IngestSplitAddress(const IngestRow *row, IngestRow *copy)
{
	const IngestValue *a = &row->scalar[IT_PROPERTY_ADDRESS];
	EcSpan		street,
				city,
				state,
				zip;

	if (a->s == NULL || row->scalar[IT_PROPERTY_CITY].s != NULL ||
		row->scalar[IT_PROPERTY_STATE].s != NULL || row->scalar[IT_PROPERTY_ZIP].s != NULL ||
		!EcAddressSplitLine(a->s, a->len, &street, &city, &state, &zip))
		return row;
	*copy = *row;
	copy->scalar[IT_PROPERTY_ADDRESS].s = street.s;
	copy->scalar[IT_PROPERTY_ADDRESS].len = street.len;
	copy->scalar[IT_PROPERTY_CITY] = (IngestValue) {city.s, city.len, -1};
	copy->scalar[IT_PROPERTY_STATE] = (IngestValue) {state.s, state.len, -1};
	if (zip.len > 0)
		copy->scalar[IT_PROPERTY_ZIP] = (IngestValue) {zip.s, zip.len, -1};
	return copy;
}

/* The property checks that decide whether the row is kept. */
static uint32
IngestPropertyReasons(const IngestRow *row, char state[3], char zip5[6], char zip4[5])
{
	uint32		r = 0;
	const IngestValue *v;
	EcFieldStatus s;

	v = &row->scalar[IT_PROPERTY_ADDRESS];
	if (v->s == NULL)
		r |= 1u << IR_MISSING_ADDRESS;

	v = &row->scalar[IT_PROPERTY_STATE];
	s = ec_field_state(v->s, v->len, state);
	if (s == EC_FIELD_EMPTY)
		r |= 1u << IR_MISSING_STATE;
	else if (s != EC_FIELD_OK)
		r |= 1u << IR_BAD_STATE;

	v = &row->scalar[IT_PROPERTY_ZIP];
	s = ec_field_zip(v->s, v->len, zip5, zip4);
	if (s == EC_FIELD_EMPTY)
	{
		/* a city and a state place the property without a ZIP */
		if (row->scalar[IT_PROPERTY_CITY].s == NULL)
			r |= 1u << IR_MISSING_ZIP;
	}
	else if (s != EC_FIELD_OK)
		r |= 1u << IR_BAD_ZIP;

	if (row->wrong_width)
		r |= 1u << IR_WRONG_FIELD_COUNT;
	if (row->not_object)
		r = 1u << IR_NOT_AN_OBJECT;	/* nothing else can be said of it */
	return r;
}

/* A rejected row: every field as read. */
static Jsonb *
IngestRawRecord(const IngestRow *row)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	int			i;

	if (row->payload != NULL && JB_ROOT_IS_OBJECT(row->payload))
		return row->payload;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (row->payload != NULL)
	{
		JsonbValue	v;

		EcJsonbPushKey(&st, "value");
		v.type = jbvBinary;
		v.val.binary.data = &row->payload->root;
		v.val.binary.len = VARSIZE(row->payload) - VARHDRSZ;
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	for (i = 0; i < row->nraw; i++)
	{
		if (row->raw_values[i].s == NULL)
			continue;
		EcJsonbPushKey(&st, row->raw_keys[i]);
		PushStringN(&st, WJB_VALUE, row->raw_values[i].s, row->raw_values[i].len);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * The record's keys in jsonb's order (by length, then bytes).  Pushed in
 * this order, the sort jsonb does at the end of an object finds the keys
 * already sorted and costs one pass instead of a sort per row.
 */
typedef enum RecKey
{
	RK_APN,
	RK_MAK,
	RK_ZIP4,
	RK_EXTRA,
	RK_EMAILS,
	RK_PHONES,
	RK_PAYLOAD,
	RK_LAST_NAME,
	RK_OWNER_AGE,
	RK_DNC_PHONES,
	RK_FIRST_NAME,
	RK_COUNTY_FIPS,
	RK_YEARS_OWNED,
	RK_PROPERTY_ZIP,
	RK_PROPERTY_CITY,
	RK_PROPERTY_UNIT,
	RK_OWNER_OCCUPIED,
	RK_PROPERTY_STATE,
	RK_ESTIMATED_VALUE,
	RK_ESTIMATED_EQUITY,
	RK_PROPERTY_ADDRESS,
	RK_ASSIGNED_BROKER_ID,
	RK_VERIFICATION_CODES,
	RK_COUNT
} RecKey;

static const char *const rec_key_names[RK_COUNT] = {
	[RK_APN] = "apn",
	[RK_MAK] = "mak",
	[RK_ZIP4] = "zip4",
	[RK_EXTRA] = "extra",
	[RK_EMAILS] = "emails",
	[RK_PHONES] = "phones",
	[RK_PAYLOAD] = "payload",
	[RK_LAST_NAME] = "last_name",
	[RK_OWNER_AGE] = "owner_age",
	[RK_DNC_PHONES] = "dnc_phones",
	[RK_FIRST_NAME] = "first_name",
	[RK_COUNTY_FIPS] = "county_fips",
	[RK_YEARS_OWNED] = "years_owned",
	[RK_PROPERTY_ZIP] = "property_zip",
	[RK_PROPERTY_CITY] = "property_city",
	[RK_PROPERTY_UNIT] = "property_unit",
	[RK_OWNER_OCCUPIED] = "owner_occupied",
	[RK_PROPERTY_STATE] = "property_state",
	[RK_ESTIMATED_VALUE] = "estimated_value",
	[RK_ESTIMATED_EQUITY] = "estimated_equity",
	[RK_PROPERTY_ADDRESS] = "property_address",
	[RK_ASSIGNED_BROKER_ID] = "assigned_broker_id",
	[RK_VERIFICATION_CODES] = "verification_codes",
};

/* jsonb's key order: shorter first, then bytewise. */
int
IngestJsonbKeyCmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c;

	if (alen != blen)
		return alen < blen ? -1 : 1;
	c = memcmp(a, b, alen);
	return c;
}

/* The list above must stay in that order; checked once per backend. */
static void
IngestCheckKeyOrder(void)
{
	static bool checked = false;
	int			k;

	if (checked)
		return;
	for (k = 1; k < RK_COUNT; k++)
	{
		if (IngestJsonbKeyCmp(rec_key_names[k - 1], strlen(rec_key_names[k - 1]),
							  rec_key_names[k], strlen(rec_key_names[k])) >= 0)
			elog(ERROR, "record key \"%s\" is out of order", rec_key_names[k]);
	}
	checked = true;
}

/* A list of canonical strings (contacts, codes). */
typedef struct StrList
{
	int			n;
	char	   *v[INGEST_MAX_CONTACTS];
} StrList;

/* Adds s unless it is there already, in any list of seen. */
static bool
StrListAdd(StrList *l, const char *s, StrList *const *seen, int nseen)
{
	int			i,
				k;

	for (k = 0; k < nseen; k++)
	{
		for (i = 0; i < seen[k]->n; i++)
		{
			if (strcmp(seen[k]->v[i], s) == 0)
				return false;
		}
	}
	if (l->n >= INGEST_MAX_CONTACTS)
		return false;
	l->v[l->n++] = pstrdup(s);
	return true;
}

static void
SetString(JsonbValue *v, bool *have, const char *s, size_t len)
{
	v->type = jbvString;
	v->val.string.val = (char *) s;
	v->val.string.len = (int) len;
	*have = true;
}

static void
SetNumeric(JsonbValue *v, bool *have, Numeric n)
{
	v->type = jbvNumeric;
	v->val.numeric = n;
	*have = true;
}

/* Folded text of at most max bytes (a longer value is cut, with a reason). */
static void
SetText(JsonbValue *v, bool *have, const IngestValue *in, size_t max, uint32 *reasons)
{
	char	   *buf;
	size_t		n;
	bool		cut;

	if (in->s == NULL)
		return;
	/* folding never lengthens: a value shorter than max needs only its own length */
	buf = palloc(Min(in->len, max) + 1);
	n = ec_field_text(in->s, in->len, buf, Min(in->len, max) + 1, &cut);
	if (cut)
		*reasons |= 1u << IR_FIELD_TRUNCATED;
	if (n > 0)
		SetString(v, have, buf, n);
}

/* The folded unmapped fields of a row: the record's "extra" object. */
typedef struct RecExtra
{
	int			n;
	const char **keys;
	const char **vals;
	size_t	   *lens;
} RecExtra;

/* Are the keys strictly in jsonb's order (sorted, none twice)? */
static bool
RecExtraSorted(const RecExtra *x)
{
	int			i;

	for (i = 1; i < x->n; i++)
	{
		if (IngestJsonbKeyCmp(x->keys[i - 1], strlen(x->keys[i - 1]),
							  x->keys[i], strlen(x->keys[i])) >= 0)
			return false;
	}
	return true;
}

/*
 * The record through jsonb's own builder: pushJsonbValue, then
 * JsonbValueToJsonb (which sorts the keys and keeps the last of a repeated
 * one).  For a JSON record (its payload is a container) and for unmapped
 * keys that are not in jsonb's order.
 */
static Jsonb *
RecPush(const JsonbValue *sv, const bool *have, StrList *const *lists, const RecExtra *x,
		Jsonb *payload)
{
	JsonbParseState *st = NULL;
	int			i,
				k;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (k = 0; k < RK_COUNT; k++)
	{
		if (k == RK_EXTRA)
		{
			if (x->n == 0)
				continue;
			EcJsonbPushKey(&st, rec_key_names[k]);
			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			for (i = 0; i < x->n; i++)
			{
				EcJsonbPushKey(&st, x->keys[i]);
				PushStringN(&st, WJB_VALUE, x->vals[i], x->lens[i]);
			}
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
		else if (k == RK_PAYLOAD)
		{
			JsonbValue	pv;

			if (payload == NULL)
				continue;
			EcJsonbPushKey(&st, rec_key_names[k]);
			pv.type = jbvBinary;
			pv.val.binary.data = &payload->root;
			pv.val.binary.len = VARSIZE(payload) - VARHDRSZ;
			pushJsonbValue(&st, WJB_VALUE, &pv);
		}
		else if (lists[k] != NULL)
		{
			if (lists[k]->n == 0)
				continue;
			EcJsonbPushKey(&st, rec_key_names[k]);
			pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
			for (i = 0; i < lists[k]->n; i++)
				PushStringN(&st, WJB_ELEM, lists[k]->v[i], strlen(lists[k]->v[i]));
			pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		}
		else if (have[k])
		{
			EcJsonbPushKey(&st, rec_key_names[k]);
			pushJsonbValue(&st, WJB_VALUE, (JsonbValue *) &sv[k]);
		}
	}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/*
 * Writing the record's binary form directly (src/common/jsonb_write.h): the
 * keys arrive in jsonb's order, so there is nothing to sort; the builder's
 * tree of values and its second pass are saved (an eighth of a CSV upload's
 * staging time).  A list of strings is an array.
 */
static JEntry
RbStringArray(StringInfo b, const StrList *l)
{
	JsonbValue	elems[INGEST_MAX_CONTACTS];
	JsonbValue	arr;
	int			i;

	for (i = 0; i < l->n; i++)
		elems[i] = EcJbText(l->v[i]);
	arr.type = jbvArray;
	arr.val.array.rawScalar = false;
	arr.val.array.nElems = l->n;
	arr.val.array.elems = elems;
	return EcJbWriteValue(b, &arr);
}

static JEntry
RbStringObject(StringInfo b, const RecExtra *x)
{
	int			base = b->len;
	uint32		header = (uint32) x->n | JB_FOBJECT;
	uint32		total = 0;
	int			at;
	int			i;

	EcJbPad(b);
	appendBinaryStringInfo(b, (const char *) &header, sizeof(header));
	at = EcJbReserve(b, 2 * x->n);
	for (i = 0; i < x->n; i++)
	{
		size_t		len = strlen(x->keys[i]);

		appendBinaryStringInfo(b, x->keys[i], (int) len);
		EcJbEntry(b, at, i, (JEntry) len, &total);
	}
	for (i = 0; i < x->n; i++)
	{
		appendBinaryStringInfo(b, x->vals[i], (int) x->lens[i]);
		EcJbEntry(b, at, x->n + i, (JEntry) x->lens[i], &total);
	}
	return JENTRY_ISCONTAINER | (uint32) (b->len - base);
}

static Jsonb *
RecWrite(const JsonbValue *sv, const bool *have, StrList *const *lists, const RecExtra *x)
{
	StringInfoData b;
	int			present[RK_COUNT];
	int			n = 0;
	uint32		header;
	uint32		total = 0;
	int			at;
	int			i,
				k;

	for (k = 0; k < RK_COUNT; k++)
	{
		if (k == RK_EXTRA ? x->n > 0 :
			k == RK_PAYLOAD ? false :
			lists[k] != NULL ? lists[k]->n > 0 : have[k])
			present[n++] = k;
	}
	initStringInfo(&b);
	b.len = VARHDRSZ;			/* the varlena header, set at the end */
	header = (uint32) n | JB_FOBJECT;
	appendBinaryStringInfo(&b, (const char *) &header, sizeof(header));
	at = EcJbReserve(&b, 2 * n);
	for (i = 0; i < n; i++)
	{
		const char *key = rec_key_names[present[i]];
		size_t		len = strlen(key);

		appendBinaryStringInfo(&b, key, (int) len);
		EcJbEntry(&b, at, i, (JEntry) len, &total);
	}
	for (i = 0; i < n; i++)
	{
		const JsonbValue *v = &sv[present[i]];
		JEntry		meta;

		k = present[i];
		if (k == RK_EXTRA)
			meta = RbStringObject(&b, x);
		else if (lists[k] != NULL)
			meta = RbStringArray(&b, lists[k]);
		else
			meta = EcJbWriteValue(&b, v);	/* a string, numeric or bool */
		EcJbEntry(&b, at, n + i, meta, &total);
	}
	SET_VARSIZE(b.data, b.len);
	return (Jsonb *) b.data;
}

/*
 * A money value (ec_field_money's plain decimal) as numeric.  Whole amounts,
 * the usual case, skip numeric_in: int64_to_numeric makes the same bytes.
 */
static Numeric
MoneyNumeric(const char *m)
{
	if (strchr(m, '.') == NULL && strlen(m) <= 18)
	{
		int64		v = 0;
		const char *p = m + (m[0] == '-');

		while (*p >= '0' && *p <= '9')
			v = v * 10 + (*p++ - '0');
		if (*p == '\0' && p > m + (m[0] == '-'))
			return int64_to_numeric(m[0] == '-' ? -v : v);
	}
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(m),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

void
IngestCheckRow(const IngestRow *row, IngestChecked *out)
{
	JsonbValue	sv[RK_COUNT];
	bool		have[RK_COUNT] = {false};
	StrList		emails = {0},
				phones = {0},
				dnc_phones = {0},
				codes = {0};
	StrList    *seen[4] = {&emails, &phones, &dnc_phones, &codes};
	StrList    *lists[RK_COUNT] = {NULL};
	RecExtra	x = {0};
	IngestRow	split;
	char		state[3];
	char		zip5[6];
	char		zip4[5];
	char		buf[EC_EMAIL_MAX + 1];
	char		m[EC_MONEY_MAX + 1];
	uint32		reasons;
	const IngestValue *v;
	EcFieldStatus s;
	int64		iv;
	bool		b;
	int			i;

	IngestCheckKeyOrder();
	row = IngestSplitAddress(row, &split);
	reasons = IngestPropertyReasons(row, state, zip5, zip4);
	out->rejected = reasons != 0;

	/* each field: its canonical value, or its reason */
	SetText(&sv[RK_FIRST_NAME], &have[RK_FIRST_NAME], &row->scalar[IT_FIRST_NAME], INGEST_NAME_MAX, &reasons);
	SetText(&sv[RK_LAST_NAME], &have[RK_LAST_NAME], &row->scalar[IT_LAST_NAME], INGEST_NAME_MAX, &reasons);
	SetText(&sv[RK_PROPERTY_ADDRESS], &have[RK_PROPERTY_ADDRESS], &row->scalar[IT_PROPERTY_ADDRESS],
			INGEST_STREET_MAX, &reasons);
	SetText(&sv[RK_PROPERTY_UNIT], &have[RK_PROPERTY_UNIT], &row->scalar[IT_PROPERTY_UNIT],
			INGEST_UNIT_MAX, &reasons);
	SetText(&sv[RK_PROPERTY_CITY], &have[RK_PROPERTY_CITY], &row->scalar[IT_PROPERTY_CITY],
			INGEST_CITY_MAX, &reasons);
	SetText(&sv[RK_APN], &have[RK_APN], &row->scalar[IT_APN], INGEST_APN_MAX, &reasons);
	if (state[0] != '\0')
		SetString(&sv[RK_PROPERTY_STATE], &have[RK_PROPERTY_STATE], pnstrdup(state, 2), 2);
	if (zip5[0] != '\0')
		SetString(&sv[RK_PROPERTY_ZIP], &have[RK_PROPERTY_ZIP], pnstrdup(zip5, 5), 5);
	if (zip4[0] != '\0')
		SetString(&sv[RK_ZIP4], &have[RK_ZIP4], pnstrdup(zip4, 4), 4);

	v = &row->scalar[IT_COUNTY_FIPS];
	s = ec_field_digits(v->s, v->len, 5, buf);
	if (s == EC_FIELD_OK)
		SetString(&sv[RK_COUNTY_FIPS], &have[RK_COUNTY_FIPS], pnstrdup(buf, 5), 5);
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_COUNTY_FIPS;

	v = &row->scalar[IT_MAK];
	s = ec_field_digits(v->s, v->len, 10, buf);
	if (s == EC_FIELD_OK)
		SetString(&sv[RK_MAK], &have[RK_MAK], pnstrdup(buf, 10), 10);
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_MAK;

	v = &row->scalar[IT_OWNER_AGE];
	s = ec_field_int(v->s, v->len, 18, 120, &iv);
	if (s == EC_FIELD_OK)
		SetNumeric(&sv[RK_OWNER_AGE], &have[RK_OWNER_AGE], int64_to_numeric(iv));
	else if (s == EC_FIELD_OUT_OF_RANGE)
		reasons |= 1u << IR_OWNER_AGE_OUT_OF_RANGE;
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_OWNER_AGE;

	v = &row->scalar[IT_OWNER_OCCUPIED];
	s = ec_field_bool(v->s, v->len, &b);
	if (s == EC_FIELD_OK)
	{
		sv[RK_OWNER_OCCUPIED].type = jbvBool;
		sv[RK_OWNER_OCCUPIED].val.boolean = b;
		have[RK_OWNER_OCCUPIED] = true;
	}
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_OWNER_OCCUPIED;

	v = &row->scalar[IT_ESTIMATED_VALUE];
	s = ec_field_money(v->s, v->len, m);
	if (s == EC_FIELD_OK && m[0] != '-')
		SetNumeric(&sv[RK_ESTIMATED_VALUE], &have[RK_ESTIMATED_VALUE], MoneyNumeric(m));
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_ESTIMATED_VALUE;

	v = &row->scalar[IT_ESTIMATED_EQUITY];
	s = ec_field_money(v->s, v->len, m);
	if (s == EC_FIELD_OK)
		SetNumeric(&sv[RK_ESTIMATED_EQUITY], &have[RK_ESTIMATED_EQUITY], MoneyNumeric(m));
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_ESTIMATED_EQUITY;

	/* years owned: given, or from the last sale's date */
	v = &row->scalar[IT_YEARS_OWNED];
	s = ec_field_int(v->s, v->len, 0, 150, &iv);
	if (s != EC_FIELD_OK && s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_YEARS_OWNED;
	if (s != EC_FIELD_OK)
	{
		int			y,
					mo,
					d,
					ty,
					tm,
					td;

		v = &row->scalar[IT_LAST_SALE_DATE];
		s = ec_field_date(v->s, v->len, &y, &mo, &d);
		if (s == EC_FIELD_OK)
		{
			IngestToday(&ty, &tm, &td);
			iv = ec_field_years_between(y, mo, d, ty, tm, td);
			if (iv < 0 || iv > 150)
				s = EC_FIELD_INVALID;
		}
		if (s != EC_FIELD_OK && s != EC_FIELD_EMPTY)
			reasons |= 1u << IR_BAD_LAST_SALE_DATE;
	}
	if (s == EC_FIELD_OK)
		SetNumeric(&sv[RK_YEARS_OWNED], &have[RK_YEARS_OWNED], int64_to_numeric(iv));

	v = &row->scalar[IT_ASSIGNED_BROKER_ID];
	s = ec_field_int(v->s, v->len, 1, INT64CONST(999999999999999), &iv);
	if (s == EC_FIELD_OK)
		SetNumeric(&sv[RK_ASSIGNED_BROKER_ID], &have[RK_ASSIGNED_BROKER_ID], int64_to_numeric(iv));
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_ASSIGNED_BROKER_ID;

	/* contacts: canonical, without duplicates, order kept */
	for (i = 0; i < row->nemails; i++)
	{
		if (ec_field_email(row->emails[i].s, row->emails[i].len, buf) != EC_FIELD_OK)
			reasons |= 1u << IR_INVALID_EMAIL;
		else
			StrListAdd(&emails, buf, seen, 1);
	}
	for (i = 0; i < row->nphones; i++)
	{
		char		p[EC_PHONE_LEN + 1];

		if (ec_field_phone(row->phones[i].s, row->phones[i].len, p) != EC_FIELD_OK)
			reasons |= 1u << IR_INVALID_PHONE;
		else if (row->phones[i].number >= 0 && IngestPhoneOnDnc(row, row->phones[i].number))
		{
			/* on a do-not-call list: kept apart, never a number to call */
			reasons |= 1u << IR_PHONE_ON_DNC;
			StrListAdd(&dnc_phones, p, seen + 1, 2);
		}
		else
			StrListAdd(&phones, p, seen + 1, 2);
	}
	for (i = 0; i < row->ncodes; i++)
	{
		const char *c = row->codes[i].s;
		const char *end = c + row->codes[i].len;

		/* Melissa sends "AS01,ES01,PS01" */
		while (c < end)
		{
			const char *t;
			char		code[9];
			int			n = 0;
			bool		ok = true;

			while (c < end && (*c == ',' || *c == ' ' || *c == ';' || *c == '\t'))
				c++;
			if (c >= end)
				break;
			for (t = c; t < end && *t != ',' && *t != ' ' && *t != ';' && *t != '\t'; t++)
			{
				char		ch = *t;

				if (ch >= 'a' && ch <= 'z')
					ch = (char) (ch - ('a' - 'A'));
				if (n >= 8 || !((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
					ok = false;
				else
					code[n++] = ch;
			}
			c = t;
			if (!ok || n < 2)
			{
				reasons |= 1u << IR_BAD_VERIFICATION_CODE;
				continue;
			}
			code[n] = '\0';
			StrListAdd(&codes, code, seen + 3, 1);
		}
	}
	if (row->overflow)
		reasons |= 1u << IR_TOO_MANY_CONTACTS;

	out->reasons = reasons;
	if (out->rejected)
	{
		out->record = IngestRawRecord(row);
		return;
	}

	/* unmapped fields, folded; the parser hands them in jsonb's order */
	x.n = 0;
	if (row->nextra > 0)
	{
		x.keys = palloc(sizeof(char *) * row->nextra);
		x.vals = palloc(sizeof(char *) * row->nextra);
		x.lens = palloc(sizeof(size_t) * row->nextra);
	}
	for (i = 0; i < row->nextra; i++)
	{
		char	   *t;
		size_t		n;
		size_t		size;
		bool		cut;

		if (row->extra_values[i].s == NULL)
			continue;
		size = Min(row->extra_values[i].len, INGEST_EXTRA_MAX) + 1;
		t = palloc(size);
		n = ec_field_text(row->extra_values[i].s, row->extra_values[i].len, t, size, &cut);
		if (n == 0)
			continue;
		if (cut)
			out->reasons |= 1u << IR_FIELD_TRUNCATED;
		x.keys[x.n] = row->extra_keys[i];
		x.vals[x.n] = t;
		x.lens[x.n] = n;
		x.n++;
	}
	lists[RK_EMAILS] = &emails;
	lists[RK_PHONES] = &phones;
	lists[RK_DNC_PHONES] = &dnc_phones;
	lists[RK_VERIFICATION_CODES] = &codes;

	if (row->payload == NULL && RecExtraSorted(&x))
	{
		out->record = RecWrite(sv, have, lists, &x);
#if defined(USE_ASSERT_CHECKING) || defined(EC_RECORD_CROSSCHECK)
		{
			Jsonb	   *pushed = RecPush(sv, have, lists, &x, NULL);

			if (VARSIZE(pushed) != VARSIZE(out->record) ||
				memcmp(pushed, out->record, VARSIZE(pushed)) != 0)
				elog(ERROR, "record of row " INT64_FORMAT " written unlike jsonb writes it",
					 row->row_number);
		}
#endif
	}
	else
		out->record = RecPush(sv, have, lists, &x, row->payload);
}
