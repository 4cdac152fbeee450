/*-------------------------------------------------------------------------
 *
 * csv.c
 *		A CSV body parsed by PostgreSQL's own COPY machinery, from memory.
 *
 * BeginCopyFrom with a data source callback that hands out the body, and
 * NextCopyFromRawFields for each record's fields as text, as file_fdw
 * reads a file: RFC 4180 quoting, embedded newlines and CRLF come from the
 * parser every COPY uses.  The pre-scan (core/csvscan.c) has already
 * refused what COPY would stop on half way (invalid UTF-8, NUL bytes,
 * unterminated quotes, mixed newlines) or silently cut short (a "\." line).
 *
 * COPY needs a relation for its column list; ec.leads_staging serves (no
 * type input function is ever called: we only read raw fields), and COPY's
 * progress reporting then shows the upload in pg_stat_progress_copy.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "pgstat.h"
#include "utils/memutils.h"

#include "core/csvscan.h"
#include "ingest/ingest.h"

/* The body COPY reads (its callback has no argument to carry it). */
static const char *ic_src = NULL;
static size_t ic_len = 0;
static size_t ic_pos = 0;
static CopyFromState ic_cstate = NULL;

static int
IngestCopyRead(void *outbuf, int minread, int maxread)
{
	size_t		n = ic_len - ic_pos;

	if (n > (size_t) maxread)
		n = (size_t) maxread;
	memcpy(outbuf, ic_src + ic_pos, n);
	ic_pos += n;
	return (int) n;
}

/* Errors raised while COPY reads say where. */
static void
IngestCopyErrorContext(void *arg)
{
	if (ic_cstate != NULL)
		errcontext("upload line %llu", (unsigned long long) ic_cstate->cur_lineno);
}

/* Column names in jsonb's key order (qsort_arg comparator over indices). */
static int
IngestNameOrder(const void *a, const void *b, void *arg)
{
	char	  **names = (char **) arg;
	const char *x = names[*(const int *) a];
	const char *y = names[*(const int *) b];

	return IngestJsonbKeyCmp(x, strlen(x), y, strlen(y));
}

/* A name for every column: the header, "column_N" when blank, "X (2)" twice. */
static char **
IngestColumnNames(char **fields, int nfields, int ncols, char ***bases)
{
	char	  **names = palloc(sizeof(char *) * ncols);
	int			i,
				k;

	*bases = palloc(sizeof(char *) * ncols);

	for (i = 0; i < ncols; i++)
	{
		const char *f = i < nfields ? fields[i] : NULL;
		size_t		len = f ? strlen(f) : 0;
		int			dup = 1;
		char	   *base;

		while (len > 0 && (*f == ' ' || *f == '\t'))
		{
			f++;
			len--;
		}
		while (len > 0 && (f[len - 1] == ' ' || f[len - 1] == '\t'))
			len--;
		base = len > 0 ? pnstrdup(f, len) : psprintf("column_%d", i + 1);
		names[i] = base;
		(*bases)[i] = base;
		for (k = 0; k < i; k++)
		{
			if (strcmp(names[k], names[i]) == 0)
			{
				names[i] = psprintf("%s (%d)", base, ++dup);
				k = -1;			/* check the new name from the start */
			}
		}
	}
	return names;
}

void
IngestParseCsv(const char *body, size_t len, const IngestProfile *profile,
			   Relation staging, IngestStager *st, IngestParseResult *res)
{
	EcCsvScan	sc;
	EcCsvStatus status;
	CopyFromState cstate;
	List	   *options;
	char		delim[2] = {'\0', '\0'};
	char	  **fields;
	int			nfields;
	int			ncols;
	int			width;
	char	  **names;
	char	  **bases;
	IngestTarget *targets;
	int		   *numbers;
	IngestRow	row;
	const char **raw_keys;
	MemoryContext rowcxt;
	ErrorContextCallback errcb;
	int64		rownum = 0;
	int		   *xorder;
	int			nx;
	int			i,
				k;

	memset(res, 0, sizeof(*res));
	/* a lone CR at the very end (a CRLF whose LF was trimmed) ends the last line */
	if (len > 0 && body[len - 1] == '\r')
		len--;
	delim[0] = ec_csv_sniff_delimiter(body, len, profile->delimiter, '"');
	status = ec_csv_scan(body, len, delim[0], '"', &sc);
	if (status != EC_CSV_OK)
	{
		res->reason = ec_csv_status_reason(status);
		res->line = sc.line;
		switch (status)
		{
			case EC_CSV_EMPTY:
				res->detail = pstrdup("The body is empty.");
				break;
			case EC_CSV_INVALID_UTF8:
				res->detail = psprintf("Byte %zu (line %lld) is not valid UTF-8; send the file as UTF-8.",
									   sc.offset + 1, (long long) sc.line);
				break;
			case EC_CSV_NUL_BYTE:
				res->detail = psprintf("Byte %zu (line %lld) is a NUL byte.",
									   sc.offset + 1, (long long) sc.line);
				break;
			case EC_CSV_UNTERMINATED_QUOTE:
				res->detail = psprintf("The quoted field that opens on line %lld never ends.",
									   (long long) sc.line);
				break;
			case EC_CSV_MIXED_NEWLINES:
				res->detail = psprintf("Line %lld ends differently from the lines before it (LF, CRLF and CR mixed).",
									   (long long) sc.line);
				break;
			case EC_CSV_END_MARKER:
				res->detail = psprintf("Line %lld is \"\\.\", which would end the data early.",
									   (long long) sc.line);
				break;
			default:
				res->detail = pstrdup("The body cannot be read as CSV.");
				break;
		}
		return;
	}
	if (sc.max_fields > ec_ingest_max_columns)
	{
		res->reason = "too_many_columns";
		res->line = sc.max_fields_line;
		res->detail = psprintf("Line %lld has %lld fields; at most %d are read (ec.ingest_max_columns).",
							   (long long) sc.max_fields_line, (long long) sc.max_fields,
							   ec_ingest_max_columns);
		return;
	}

	ic_src = body + sc.bom_len;
	ic_len = len - sc.bom_len;
	ic_pos = 0;
	options = list_make3(makeDefElem("format", (Node *) makeString("csv"), -1),
						 makeDefElem("encoding", (Node *) makeString("UTF8"), -1),
						 makeDefElem("delimiter", (Node *) makeString(delim), -1));
	cstate = BeginCopyFrom(NULL, staging, NULL, NULL, false, IngestCopyRead, NIL, options);
	ic_cstate = cstate;
	errcb.callback = IngestCopyErrorContext;
	errcb.arg = NULL;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	/* BeginCopyFrom started COPY's progress report: add ours */
	pgstat_progress_update_param(PROGRESS_COPY_BYTES_TOTAL, (int64) ic_len);
	IngestProgressPhase(INGEST_PHASE_PARSING);

	/* the header */
	ingest_in_parser = true;
	if (!NextCopyFromRawFields(cstate, &fields, &nfields))
		nfields = 0;
	ingest_in_parser = false;
	ncols = nfields;
	width = (int) Max(sc.max_fields, ncols);
	names = IngestColumnNames(fields, nfields, width, &bases);
	targets = palloc(sizeof(IngestTarget) * width);
	numbers = palloc(sizeof(int) * width);
	for (i = 0; i < width; i++)
	{
		targets[i] = i < ncols ? IngestMatchField(profile, bases[i], strlen(bases[i]), &numbers[i])
			: IT_EXTRA;
		if (i >= ncols)
			numbers[i] = -1;
	}
	/* unmapped columns, in the order their keys take in a jsonb object */
	xorder = palloc(sizeof(int) * Max(ncols, 1));
	nx = 0;
	for (i = 0; i < ncols; i++)
	{
		if (targets[i] == IT_EXTRA)
			xorder[nx++] = i;
	}
	qsort_arg(xorder, nx, sizeof(int), IngestNameOrder, names);
	raw_keys = (const char **) names;
	row.extra_keys = palloc(sizeof(char *) * width);
	row.extra_values = palloc(sizeof(IngestValue) * width);
	row.raw_keys = raw_keys;
	row.raw_values = palloc(sizeof(IngestValue) * width);

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "ingest row", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		IngestChecked checked;
		MemoryContext old;
		bool		blank = true;
		bool		more;

		ingest_in_parser = true;
		more = NextCopyFromRawFields(cstate, &fields, &nfields);
		ingest_in_parser = false;
		if (!more)
			break;

		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < nfields && blank; i++)
		{
			const char *f = fields[i];

			while (f != NULL && (*f == ' ' || *f == '\t'))
				f++;
			blank = f == NULL || *f == '\0';
		}
		if (blank)
			continue;			/* an empty line, or only empty fields */

		rownum++;
		old = MemoryContextSwitchTo(rowcxt);
		IngestRowReset(&row);
		row.row_number = rownum;
		row.wrong_width = nfields != ncols;
		for (i = 0; i < nfields && i < width; i++)
		{
			const char *f = fields[i];
			size_t		flen = f ? strlen(f) : 0;

			row.raw_values[i].s = flen > 0 ? f : NULL;
			row.raw_values[i].len = flen;
			if (targets[i] != IT_EXTRA)
				IngestRowAdd(&row, targets[i], f, flen, numbers[i]);
		}
		for (k = 0; k < nx; k++)
		{
			int			c = xorder[k];

			if (c >= nfields || row.raw_values[c].s == NULL)
				continue;
			row.extra_keys[row.nextra] = names[c];
			row.extra_values[row.nextra] = row.raw_values[c];
			row.nextra++;
		}
		row.nraw = Min(nfields, width);
		IngestCheckRow(&row, &checked);
		MemoryContextSwitchTo(old);
		IngestStagerAdd(st, rownum, &checked);
		MemoryContextReset(rowcxt);
		pgstat_progress_update_param(INGEST_PROGRESS_ROWS, rownum);
	}
	MemoryContextDelete(rowcxt);

	error_context_stack = errcb.previous;
	ic_cstate = NULL;
	EndCopyFrom(cstate);
	IngestProgressResume(INGEST_PHASE_STAGING, rownum);
	res->rows = rownum;
	if (ncols == 0 || rownum == 0)
	{
		res->reason = "no_rows";
		res->detail = pstrdup("The body has a header but no data rows.");
	}
}
