/*-------------------------------------------------------------------------
 *
 * json.c
 *		A JSON body (an array of leads, or a provider's response holding
 *		one): parsed by jsonb_in, each record flattened into paths
 *		("propertyAddress.street", "phoneNumbers.0.number") that the
 *		profile maps, the record itself kept as the lead's payload.
 *
 * Where the records are: the body itself when it is an array; else the
 * array at the profile's records_path ({results,persons} for BatchData);
 * else the body is one record.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "core/csvscan.h"
#include "ingest/ingest.h"

#define INGEST_PATH_KEY		128	/* longer paths are matched, not cached */
#define INGEST_MAX_DEPTH	32

typedef struct IngestPathEntry
{
	char		path[INGEST_PATH_KEY];
	IngestTarget target;
	int			number;
} IngestPathEntry;

typedef struct IngestFlatten
{
	const IngestProfile *profile;
	HTAB	   *cache;
	StringInfoData path;
} IngestFlatten;

static IngestTarget
IngestMatchPath(IngestFlatten *fl, int *number)
{
	IngestPathEntry *e;
	bool		found;

	if (fl->path.len >= INGEST_PATH_KEY)
		return IngestMatchField(fl->profile, fl->path.data, fl->path.len, number);
	e = hash_search(fl->cache, fl->path.data, HASH_ENTER, &found);
	if (!found)
		e->target = IngestMatchField(fl->profile, fl->path.data, fl->path.len, &e->number);
	*number = e->number;
	return e->target;
}

/* One scalar leaf of a record. */
static void
IngestLeaf(IngestFlatten *fl, IngestRow *row, JsonbValue *v)
{
	IngestTarget target;
	int			number;
	const char *s;
	size_t		len;

	switch (v->type)
	{
		case jbvString:
			s = v->val.string.val;
			len = v->val.string.len;
			break;
		case jbvNumeric:
			s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
			len = strlen(s);
			break;
		case jbvBool:
			s = v->val.boolean ? "true" : "false";
			len = strlen(s);
			break;
		default:
			return;				/* null */
	}
	target = IngestMatchPath(fl, &number);
	if (target != IT_EXTRA)
		IngestRowAdd(row, target, s, len, number);
}

/* Walk a record, keeping the path of each leaf in fl->path. */
static void
IngestFlattenRecord(IngestFlatten *fl, IngestRow *row, JsonbContainer *rec)
{
	JsonbIterator *it = JsonbIteratorInit(rec);
	JsonbIteratorToken tok;
	JsonbValue	v;
	int			base[INGEST_MAX_DEPTH];
	int			index[INGEST_MAX_DEPTH];
	bool		is_array[INGEST_MAX_DEPTH];
	int			depth = -1;

	resetStringInfo(&fl->path);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				if (depth >= 0 && is_array[depth])
				{
					/* a container inside an array: its position is in the path */
					fl->path.len = base[depth];
					appendStringInfo(&fl->path, "%s%d", fl->path.len > 0 ? "." : "", index[depth]++);
				}
				if (depth + 1 >= INGEST_MAX_DEPTH)
				{
					/* deeper than any profile maps: the payload keeps it */
					int			level = 1;

					while (level > 0 && (tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
					{
						if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
							level++;
						else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
							level--;
					}
					break;
				}
				depth++;
				base[depth] = fl->path.len;
				index[depth] = 0;
				is_array[depth] = tok == WJB_BEGIN_ARRAY;
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				depth--;
				if (depth >= 0)
					fl->path.len = base[depth];
				break;
			case WJB_KEY:
				fl->path.len = base[depth];
				fl->path.data[fl->path.len] = '\0';
				if (fl->path.len > 0)
					appendStringInfoChar(&fl->path, '.');
				appendBinaryStringInfo(&fl->path, v.val.string.val, v.val.string.len);
				break;
			case WJB_VALUE:
				IngestLeaf(fl, row, &v);
				break;
			case WJB_ELEM:
				fl->path.len = base[depth];
				fl->path.data[fl->path.len] = '\0';
				appendStringInfo(&fl->path, "%s%d", fl->path.len > 0 ? "." : "", index[depth]++);
				IngestLeaf(fl, row, &v);
				break;
			default:
				break;
		}
	}
}

/* The array of records, or NULL when the body is a single record. */
static JsonbContainer *
IngestFindRecords(Jsonb *jb, const IngestProfile *profile, bool *single)
{
	JsonbContainer *c = &jb->root;
	int			i;

	*single = false;
	if (JB_ROOT_IS_SCALAR(jb))
		return NULL;
	if (JB_ROOT_IS_ARRAY(jb))
		return c;
	for (i = 0; i < profile->npath; i++)
	{
		JsonbValue	vbuf;
		JsonbValue *v;

		if (!JsonContainerIsObject(c))
			break;
		v = getKeyJsonValueFromContainer(c, profile->records_path[i],
										 strlen(profile->records_path[i]), &vbuf);
		if (v == NULL || v->type != jbvBinary)
			break;
		c = v->val.binary.data;
	}
	if (profile->npath > 0 && i == profile->npath && JsonContainerIsArray(c))
		return c;
	*single = true;
	return &jb->root;
}

void
IngestParseJson(const char *body, size_t len, const IngestProfile *profile,
				IngestStager *st, IngestParseResult *res)
{
	EcCsvScan	sc;
	EcCsvStatus status;
	char	   *text;
	Jsonb	   *jb;
	JsonbContainer *records;
	bool		single;
	IngestFlatten fl;
	HASHCTL		ctl;
	IngestRow	row;
	MemoryContext rowcxt;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	int64		rownum = 0;

	memset(res, 0, sizeof(*res));
	status = ec_text_scan(body, len, &sc);
	if (status != EC_CSV_OK)
	{
		res->reason = ec_csv_status_reason(status);
		res->line = sc.line;
		if (status == EC_CSV_EMPTY)
			res->detail = pstrdup("The body is empty.");
		else
			res->detail = psprintf("Byte %zu (line %lld) is %s.", sc.offset + 1, (long long) sc.line,
								   status == EC_CSV_NUL_BYTE ? "a NUL byte" : "not valid UTF-8");
		return;
	}

	IngestProgressPhase(INGEST_PHASE_PARSING);
	text = pnstrdup(body + sc.bom_len, len - sc.bom_len);
	ingest_in_parser = true;
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	ingest_in_parser = false;
	pfree(text);
	pgstat_progress_update_param(PROGRESS_COPY_BYTES_PROCESSED, (int64) len);

	records = IngestFindRecords(jb, profile, &single);
	if (records == NULL)
	{
		res->reason = "no_records";
		res->detail = pstrdup("The body is a single JSON value, not records.");
		return;
	}

	fl.profile = profile;
	initStringInfo(&fl.path);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = INGEST_PATH_KEY;
	ctl.entrysize = sizeof(IngestPathEntry);
	ctl.hcxt = CurrentMemoryContext;
	fl.cache = hash_create("ingest JSON paths", 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	memset(&row, 0, sizeof(row));
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "ingest row", ALLOCSET_DEFAULT_SIZES);

	/* one record, or each element of the array */
	it = single ? NULL : JsonbIteratorInit(records);
	for (;;)
	{
		IngestChecked checked;
		MemoryContext old;
		JsonbValue	elem;

		CHECK_FOR_INTERRUPTS();
		if (single)
		{
			if (rownum > 0)
				break;
			elem.type = jbvBinary;
			elem.val.binary.data = records;
			elem.val.binary.len = VARSIZE(jb) - VARHDRSZ;
		}
		else
		{
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE && tok != WJB_ELEM)
				;
			if (tok == WJB_DONE)
				break;
			elem = v;
		}

		rownum++;
		old = MemoryContextSwitchTo(rowcxt);
		IngestRowReset(&row);
		row.row_number = rownum;
		row.payload = JsonbValueToJsonb(&elem);
		if (elem.type == jbvBinary && JsonContainerIsObject(elem.val.binary.data))
			IngestFlattenRecord(&fl, &row, elem.val.binary.data);
		else
			row.not_object = true;
		IngestCheckRow(&row, &checked);
		MemoryContextSwitchTo(old);
		IngestStagerAdd(st, rownum, &checked);
		MemoryContextReset(rowcxt);
		pgstat_progress_update_param(INGEST_PROGRESS_ROWS, rownum);
	}
	MemoryContextDelete(rowcxt);
	hash_destroy(fl.cache);
	res->rows = rownum;
	if (rownum == 0)
	{
		res->reason = "no_rows";
		res->detail = pstrdup("The body holds no records.");
	}
}
