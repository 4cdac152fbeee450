/*-------------------------------------------------------------------------
 *
 * profile.c
 *		Column-mapping profiles: ec.ingest_profiles and its fields, read once
 *		per upload, and the match of a source field against them.
 *
 * A field (CSV header or JSON path) is folded before matching: ASCII lower
 * case, whitespace runs to one space, trimmed.  An exact rule wins over a
 * "{n}" pattern; among patterns the longest prefix wins.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "ingest/ingest.h"

static const char *const ingest_target_names[IT_COUNT] = {
	[IT_EXTRA] = "extra",
	[IT_IGNORE] = "ignore",
	[IT_FIRST_NAME] = "first_name",
	[IT_LAST_NAME] = "last_name",
	[IT_EMAIL] = "email",
	[IT_PHONE] = "phone",
	[IT_PHONE_DNC] = "phone_dnc",
	[IT_PROPERTY_ADDRESS] = "property_address",
	[IT_PROPERTY_UNIT] = "property_unit",
	[IT_PROPERTY_CITY] = "property_city",
	[IT_PROPERTY_STATE] = "property_state",
	[IT_PROPERTY_ZIP] = "property_zip",
	[IT_COUNTY_FIPS] = "county_fips",
	[IT_APN] = "apn",
	[IT_MAK] = "mak",
	[IT_OWNER_AGE] = "owner_age",
	[IT_OWNER_OCCUPIED] = "owner_occupied",
	[IT_ESTIMATED_VALUE] = "estimated_value",
	[IT_ESTIMATED_EQUITY] = "estimated_equity",
	[IT_YEARS_OWNED] = "years_owned",
	[IT_LAST_SALE_DATE] = "last_sale_date",
	[IT_ASSIGNED_BROKER_ID] = "assigned_broker_id",
	[IT_VERIFICATION_CODES] = "verification_codes",
};

const char *
IngestTargetName(IngestTarget target)
{
	return (target >= 0 && target < IT_COUNT) ? ingest_target_names[target] : "extra";
}

static IngestTarget
IngestTargetByName(const char *name)
{
	int			i;

	for (i = 0; i < IT_COUNT; i++)
	{
		if (strcmp(ingest_target_names[i], name) == 0)
			return (IngestTarget) i;
	}
	/* the table's CHECK constraint lists the same names */
	elog(ERROR, "unknown ingest profile target \"%s\"", name);
	return IT_EXTRA;
}

/* Fold into buf (size >= len + 1): lower case, whitespace runs to one space. */
static size_t
IngestFold(const char *s, size_t len, char *buf)
{
	size_t		o = 0;
	size_t		i;
	bool		space = false;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
		{
			space = o > 0;
			continue;
		}
		if (space)
			buf[o++] = ' ';
		space = false;
		buf[o++] = (c >= 'A' && c <= 'Z') ? (char) (c + ('a' - 'A')) : (char) c;
	}
	buf[o] = '\0';
	return o;
}

IngestProfile *
IngestLoadProfile(const char *name)
{
	IngestProfile *p;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	uint64		i;
	int			n;

	values[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT p.delimiter, p.records_path FROM ec.ingest_profiles p"
							  " WHERE p.name OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read ec.ingest_profiles");
	if (SPI_processed == 0)
		return NULL;

	p = palloc0(sizeof(IngestProfile));
	p->name = pstrdup(name);
	{
		char	   *delim = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 1, &isnull));

		p->delimiter = delim[0];
	}
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		if (!isnull)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			k;

			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &n);
			p->records_path = palloc(sizeof(char *) * Max(n, 1));
			for (k = 0; k < n; k++)
			{
				if (!nulls[k])
					p->records_path[p->npath++] = TextDatumGetCString(elems[k]);
			}
		}
	}

	if (SPI_execute_with_args("SELECT f.field, f.target FROM ec.ingest_profile_fields f"
							  " WHERE f.profile OPERATOR(pg_catalog.=) $1 ORDER BY f.field",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read ec.ingest_profile_fields");
	p->rules = palloc0(sizeof(IngestRule) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		IngestRule *r = &p->rules[p->nrules];
		char	   *field = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc, 1, &isnull));
		char	   *target = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 2, &isnull));
		char	   *mark;

		r->field = palloc(strlen(field) + 1);
		IngestFold(field, strlen(field), r->field);
		r->target = IngestTargetByName(target);
		mark = strstr(r->field, "{n}");
		if (mark != NULL)
		{
			r->pattern = true;
			r->prefix_len = (int) (mark - r->field);
			r->suffix = mark + 3;
		}
		p->nrules++;
	}
	return p;
}

IngestTarget
IngestMatchField(const IngestProfile *profile, const char *field, size_t len, int *number)
{
	char		stackbuf[256];
	char	   *buf = len < sizeof(stackbuf) ? stackbuf : palloc(len + 1);
	size_t		flen = IngestFold(field, len, buf);
	const IngestRule *best = NULL;
	int			best_number = -1;
	int			i;

	/* an exact rule first */
	for (i = 0; i < profile->nrules && best == NULL; i++)
	{
		const IngestRule *r = &profile->rules[i];

		if (!r->pattern && strcmp(r->field, buf) == 0)
			best = r;
	}
	/* then the pattern with the longest prefix */
	for (i = 0; i < profile->nrules && (best == NULL || best->pattern); i++)
	{
		const IngestRule *r = &profile->rules[i];
		size_t		slen;
		size_t		d;
		int			v = 0;

		if (!r->pattern || (size_t) r->prefix_len > flen ||
			memcmp(r->field, buf, r->prefix_len) != 0)
			continue;
		slen = strlen(r->suffix);
		for (d = r->prefix_len; d < flen && buf[d] >= '0' && buf[d] <= '9'; d++)
		{
			if (v < 100000000)
				v = v * 10 + (buf[d] - '0');
		}
		if (d == (size_t) r->prefix_len || flen - d != slen || memcmp(buf + d, r->suffix, slen) != 0)
			continue;
		if (best == NULL || r->prefix_len > best->prefix_len)
		{
			best = r;
			best_number = v;
		}
	}
	if (buf != stackbuf)
		pfree(buf);
	*number = (best != NULL && best->pattern) ? best_number : -1;
	return best == NULL ? IT_EXTRA : best->target;
}
