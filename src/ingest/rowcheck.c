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

#include "core/fieldcheck.h"
#include "ingest/ingest.h"

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
PushKey(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

static void
PushStringN(JsonbParseState **st, JsonbIteratorToken tok, const char *s, size_t len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = (int) len;
	pushJsonbValue(st, tok, &v);
}

static void
PushNumeric(JsonbParseState **st, Numeric n)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = n;
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
PushBool(JsonbParseState **st, bool b)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = b;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* key: folded text of at most max bytes (a longer value is cut, with a reason). */
static void
PushText(JsonbParseState **st, const char *key, const IngestValue *v, size_t max, uint32 *reasons)
{
	char	   *buf;
	size_t		n;
	bool		cut;

	if (v->s == NULL)
		return;
	buf = palloc(max + 1);
	n = ec_field_text(v->s, v->len, buf, max + 1, &cut);
	if (cut)
		*reasons |= 1u << IR_FIELD_TRUNCATED;
	if (n == 0)
		return;
	PushKey(st, key);
	PushStringN(st, WJB_VALUE, buf, n);
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

		PushKey(&st, "value");
		v.type = jbvBinary;
		v.val.binary.data = &row->payload->root;
		v.val.binary.len = VARSIZE(row->payload) - VARHDRSZ;
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	for (i = 0; i < row->nraw; i++)
	{
		if (row->raw_values[i].s == NULL)
			continue;
		PushKey(&st, row->raw_keys[i]);
		PushStringN(&st, WJB_VALUE, row->raw_values[i].s, row->raw_values[i].len);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

void
IngestCheckRow(const IngestRow *row, IngestChecked *out)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	char		state[3];
	char		zip5[6];
	char		zip4[5];
	char		buf[EC_EMAIL_MAX + 1];
	uint32		reasons;
	const IngestValue *v;
	EcFieldStatus s;
	int64		iv;
	bool		b;
	int			i;
	char	  **seen;
	int			nseen;
	char	   *dnc_phones[INGEST_MAX_CONTACTS];
	int			ndnc_phones = 0;

	reasons = IngestPropertyReasons(row, state, zip5, zip4);
	out->rejected = reasons != 0;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);

	PushText(&st, "first_name", &row->scalar[IT_FIRST_NAME], INGEST_NAME_MAX, &reasons);
	PushText(&st, "last_name", &row->scalar[IT_LAST_NAME], INGEST_NAME_MAX, &reasons);
	PushText(&st, "property_address", &row->scalar[IT_PROPERTY_ADDRESS], INGEST_STREET_MAX, &reasons);
	PushText(&st, "property_unit", &row->scalar[IT_PROPERTY_UNIT], INGEST_UNIT_MAX, &reasons);
	PushText(&st, "property_city", &row->scalar[IT_PROPERTY_CITY], INGEST_CITY_MAX, &reasons);
	if (state[0] != '\0')
	{
		PushKey(&st, "property_state");
		PushStringN(&st, WJB_VALUE, state, 2);
	}
	if (zip5[0] != '\0')
	{
		PushKey(&st, "property_zip");
		PushStringN(&st, WJB_VALUE, zip5, 5);
	}
	PushText(&st, "apn", &row->scalar[IT_APN], INGEST_APN_MAX, &reasons);

	v = &row->scalar[IT_COUNTY_FIPS];
	s = ec_field_digits(v->s, v->len, 5, buf);
	if (s == EC_FIELD_OK)
	{
		PushKey(&st, "county_fips");
		PushStringN(&st, WJB_VALUE, pnstrdup(buf, 5), 5);
	}
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_COUNTY_FIPS;

	v = &row->scalar[IT_MAK];
	s = ec_field_digits(v->s, v->len, 10, buf);
	if (s == EC_FIELD_OK)
	{
		PushKey(&st, "mak");
		PushStringN(&st, WJB_VALUE, pnstrdup(buf, 10), 10);
	}
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_MAK;

	v = &row->scalar[IT_OWNER_AGE];
	s = ec_field_int(v->s, v->len, 18, 120, &iv);
	if (s == EC_FIELD_OK)
	{
		PushKey(&st, "owner_age");
		PushNumeric(&st, int64_to_numeric(iv));
	}
	else if (s == EC_FIELD_OUT_OF_RANGE)
		reasons |= 1u << IR_OWNER_AGE_OUT_OF_RANGE;
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_OWNER_AGE;

	v = &row->scalar[IT_OWNER_OCCUPIED];
	s = ec_field_bool(v->s, v->len, &b);
	if (s == EC_FIELD_OK)
	{
		PushKey(&st, "owner_occupied");
		PushBool(&st, b);
	}
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_OWNER_OCCUPIED;

	{
		char		m[EC_MONEY_MAX + 1];

		v = &row->scalar[IT_ESTIMATED_VALUE];
		s = ec_field_money(v->s, v->len, m);
		if (s == EC_FIELD_OK && m[0] != '-')
		{
			PushKey(&st, "estimated_value");
			PushNumeric(&st, DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(m),
																 ObjectIdGetDatum(InvalidOid),
																 Int32GetDatum(-1))));
		}
		else if (s != EC_FIELD_EMPTY)
			reasons |= 1u << IR_BAD_ESTIMATED_VALUE;

		v = &row->scalar[IT_ESTIMATED_EQUITY];
		s = ec_field_money(v->s, v->len, m);
		if (s == EC_FIELD_OK)
		{
			PushKey(&st, "estimated_equity");
			PushNumeric(&st, DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(m),
																 ObjectIdGetDatum(InvalidOid),
																 Int32GetDatum(-1))));
		}
		else if (s != EC_FIELD_EMPTY)
			reasons |= 1u << IR_BAD_ESTIMATED_EQUITY;
	}

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
	{
		PushKey(&st, "years_owned");
		PushNumeric(&st, int64_to_numeric(iv));
	}

	v = &row->scalar[IT_ASSIGNED_BROKER_ID];
	s = ec_field_int(v->s, v->len, 1, INT64CONST(999999999999999), &iv);
	if (s == EC_FIELD_OK)
	{
		PushKey(&st, "assigned_broker_id");
		PushNumeric(&st, int64_to_numeric(iv));
	}
	else if (s != EC_FIELD_EMPTY)
		reasons |= 1u << IR_BAD_ASSIGNED_BROKER_ID;

	/* contacts: canonical, without duplicates, order kept */
	seen = palloc(sizeof(char *) * INGEST_MAX_CONTACTS * 3);
	nseen = 0;
	if (row->nemails > 0)
	{
		bool		opened = false;

		for (i = 0; i < row->nemails; i++)
		{
			int			k;

			if (ec_field_email(row->emails[i].s, row->emails[i].len, buf) != EC_FIELD_OK)
			{
				reasons |= 1u << IR_INVALID_EMAIL;
				continue;
			}
			for (k = 0; k < nseen && strcmp(seen[k], buf) != 0; k++)
				;
			if (k < nseen)
				continue;
			seen[nseen++] = pstrdup(buf);
			if (!opened)
			{
				PushKey(&st, "emails");
				pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
				opened = true;
			}
			PushStringN(&st, WJB_ELEM, seen[nseen - 1], strlen(buf));
		}
		if (opened)
			pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	if (row->nphones > 0)
	{
		bool		opened = false;
		char		p[EC_PHONE_LEN + 1];

		for (i = 0; i < row->nphones; i++)
		{
			int			k;

			if (ec_field_phone(row->phones[i].s, row->phones[i].len, p) != EC_FIELD_OK)
			{
				reasons |= 1u << IR_INVALID_PHONE;
				continue;
			}
			for (k = 0; k < nseen && strcmp(seen[k], p) != 0; k++)
				;
			if (k < nseen)
				continue;
			seen[nseen++] = pstrdup(p);
			if (row->phones[i].number >= 0 && IngestPhoneOnDnc(row, row->phones[i].number))
			{
				/* on a do-not-call list: kept apart, never a number to call */
				reasons |= 1u << IR_PHONE_ON_DNC;
				dnc_phones[ndnc_phones++] = seen[nseen - 1];
				continue;
			}
			if (!opened)
			{
				PushKey(&st, "phones");
				pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
				opened = true;
			}
			PushStringN(&st, WJB_ELEM, seen[nseen - 1], EC_PHONE_LEN);
		}
		if (opened)
			pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	if (row->ncodes > 0)
	{
		bool		opened = false;

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
				int			k;

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
				for (k = 0; k < nseen && strcmp(seen[k], code) != 0; k++)
					;
				if (k < nseen || nseen >= INGEST_MAX_CONTACTS * 3)
					continue;
				seen[nseen++] = pstrdup(code);
				if (!opened)
				{
					PushKey(&st, "verification_codes");
					pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
					opened = true;
				}
				PushStringN(&st, WJB_ELEM, seen[nseen - 1], n);
			}
		}
		if (opened)
			pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	if (row->overflow)
		reasons |= 1u << IR_TOO_MANY_CONTACTS;

	/* fields no rule names, the +4 of the ZIP, numbers on a DNC list */
	if (row->nextra > 0 || zip4[0] != '\0' || ndnc_phones > 0)
	{
		PushKey(&st, "extra");
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		for (i = 0; i < row->nextra; i++)
		{
			char	   *t;
			size_t		n;
			bool		cut;

			if (row->extra_values[i].s == NULL)
				continue;
			t = palloc(INGEST_EXTRA_MAX + 1);
			n = ec_field_text(row->extra_values[i].s, row->extra_values[i].len, t,
							  INGEST_EXTRA_MAX + 1, &cut);
			if (n == 0)
				continue;
			if (cut)
				reasons |= 1u << IR_FIELD_TRUNCATED;
			PushKey(&st, row->extra_keys[i]);
			PushStringN(&st, WJB_VALUE, t, n);
		}
		if (zip4[0] != '\0')
		{
			PushKey(&st, "zip4");
			PushStringN(&st, WJB_VALUE, zip4, 4);
		}
		if (ndnc_phones > 0)
		{
			PushKey(&st, "dnc_phones");
			pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
			for (i = 0; i < ndnc_phones; i++)
				PushStringN(&st, WJB_ELEM, dnc_phones[i], EC_PHONE_LEN);
			pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		}
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}

	if (row->payload != NULL && !out->rejected)
	{
		JsonbValue	pv;

		PushKey(&st, "payload");
		pv.type = jbvBinary;
		pv.val.binary.data = &row->payload->root;
		pv.val.binary.len = VARSIZE(row->payload) - VARHDRSZ;
		pushJsonbValue(&st, WJB_VALUE, &pv);
	}

	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	out->reasons = reasons;
	out->record = out->rejected ? IngestRawRecord(row) : JsonbValueToJsonb(res);
}
