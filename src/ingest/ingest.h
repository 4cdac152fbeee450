/*-------------------------------------------------------------------------
 *
 * ingest.h
 *		Uploads of leads (issue #7): profiles, parsing, validation, staging.
 *
 * The path of one upload (ingest.c drives it):
 *
 *   body ─ verify (signing) ─ pre-scan (core/csvscan.c) ─ parse
 *        (csv.c: PostgreSQL's COPY machinery from memory; json.c: jsonb)
 *        ─ map fields with the profile (profile.c) ─ validate and build the
 *        record (rowcheck.c, core/fieldcheck.c) ─ stage (stage.c) ─ upsert
 *        (identity) ─ answer.
 *
 * Parsing and staging run in a subtransaction: a body that turns out to be
 * unreadable half way leaves no staged row behind, and its upload row and
 * answer are still recorded.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_INGEST_H
#define EC_INGEST_H

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

/* Settings (ingest.c). */
extern int	ec_ingest_max_columns;
extern int	ec_ingest_rejected_shown;
extern int	ec_ingest_batch_rows;
extern int	ec_ingest_dedupe;

#define INGEST_DEDUPE_INLINE	0
#define INGEST_DEDUPE_DEFERRED	1

/* True while COPY or jsonb_in reads the body: their errors are the body's. */
extern bool ingest_in_parser;

extern void IngestInit(void);

/* What a source field becomes (ec.ingest_profile_fields.target). */
typedef enum IngestTarget
{
	IT_EXTRA = 0,				/* named by no rule: kept under "extra" */
	IT_IGNORE,
	IT_FIRST_NAME,
	IT_LAST_NAME,
	IT_EMAIL,
	IT_PHONE,
	IT_PHONE_DNC,
	IT_PROPERTY_ADDRESS,
	IT_PROPERTY_UNIT,
	IT_PROPERTY_CITY,
	IT_PROPERTY_STATE,
	IT_PROPERTY_ZIP,
	IT_COUNTY_FIPS,
	IT_APN,
	IT_MAK,
	IT_OWNER_AGE,
	IT_OWNER_OCCUPIED,
	IT_ESTIMATED_VALUE,
	IT_ESTIMATED_EQUITY,
	IT_YEARS_OWNED,
	IT_LAST_SALE_DATE,
	IT_ASSIGNED_BROKER_ID,
	IT_VERIFICATION_CODES,
	IT_COUNT
} IngestTarget;

/* One rule of a profile: an exact field or a "{n}" pattern. */
typedef struct IngestRule
{
	char	   *field;			/* folded: lower case, single spaces */
	bool		pattern;
	int			prefix_len;		/* pattern: bytes before "{n}" */
	char	   *suffix;			/* pattern: what follows "{n}" */
	IngestTarget target;
} IngestRule;

typedef struct IngestProfile
{
	char	   *name;
	char		delimiter;
	int			npath;
	char	  **records_path;
	int			nrules;
	IngestRule *rules;
} IngestProfile;

/* profile.c */
extern IngestProfile *IngestLoadProfile(const char *name);
extern IngestTarget IngestMatchField(const IngestProfile *profile, const char *field,
									 size_t len, int *number);
extern const char *IngestTargetName(IngestTarget target);

/* Why a row was refused, or what was dropped from a kept row. */
typedef enum IngestReason
{
	/* the row is rejected */
	IR_MISSING_ADDRESS = 0,
	IR_MISSING_STATE,
	IR_BAD_STATE,
	IR_MISSING_ZIP,
	IR_BAD_ZIP,
	IR_WRONG_FIELD_COUNT,
	IR_NOT_AN_OBJECT,
	IR_LAST_REJECTING = IR_NOT_AN_OBJECT,
	/* the row is kept without the field */
	IR_INVALID_EMAIL,
	IR_INVALID_PHONE,
	IR_PHONE_ON_DNC,
	IR_OWNER_AGE_OUT_OF_RANGE,
	IR_BAD_OWNER_AGE,
	IR_BAD_OWNER_OCCUPIED,
	IR_BAD_ESTIMATED_VALUE,
	IR_BAD_ESTIMATED_EQUITY,
	IR_BAD_YEARS_OWNED,
	IR_BAD_LAST_SALE_DATE,
	IR_BAD_COUNTY_FIPS,
	IR_BAD_MAK,
	IR_BAD_ASSIGNED_BROKER_ID,
	IR_BAD_VERIFICATION_CODE,
	IR_TOO_MANY_CONTACTS,
	IR_FIELD_TRUNCATED,
	IR_COUNT
} IngestReason;

extern const char *IngestReasonName(IngestReason reason);

#define INGEST_MAX_CONTACTS	16	/* emails, phones, codes kept per row */

typedef struct IngestValue
{
	const char *s;
	size_t		len;
	int			number;			/* the "{n}" of the rule, or -1 */
} IngestValue;

/*
 * One source row, mapped: the values of each target, the fields no rule
 * names (CSV), the raw record (JSON).  Values point into the parser's
 * buffers and live until the next row.
 */
typedef struct IngestRow
{
	int64		row_number;		/* 1 = the first data row */
	IngestValue scalar[IT_COUNT];	/* first non-empty value of each scalar target */
	int			nemails;
	IngestValue emails[INGEST_MAX_CONTACTS];
	int			nphones;
	IngestValue phones[INGEST_MAX_CONTACTS];
	int			ndnc;
	IngestValue dnc[INGEST_MAX_CONTACTS];
	int			ncodes;
	IngestValue codes[INGEST_MAX_CONTACTS];
	bool		overflow;		/* more contacts than kept */
	int			nextra;
	const char **extra_keys;	/* CSV: unmapped headers (caller's array) */
	IngestValue *extra_values;
	/* everything as read, for a rejected row (CSV: all fields) */
	int			nraw;
	const char **raw_keys;
	IngestValue *raw_values;
	Jsonb	   *payload;		/* JSON: the record */
	bool		not_object;		/* JSON: the record is not an object */
	bool		wrong_width;	/* CSV: field count differs from the header */
} IngestRow;

extern void IngestRowReset(IngestRow *row);
extern void IngestRowAdd(IngestRow *row, IngestTarget target, const char *s, size_t len,
						 int number);

/* The checked row: status, reasons (a bit per IngestReason), record. */
typedef struct IngestChecked
{
	bool		rejected;
	uint32		reasons;
	Jsonb	   *record;
} IngestChecked;

extern void IngestCheckRow(const IngestRow *row, IngestChecked *out);
/* jsonb's order of object keys: by length, then bytes */
extern int	IngestJsonbKeyCmp(const char *a, size_t alen, const char *b, size_t blen);

/* Staging (stage.c): rows are buffered and written in batches. */
typedef struct IngestStager IngestStager;

/* What identity's bulk path did with the valid rows (ec.upsert_staged_leads). */
typedef struct IngestUpsertCounts
{
	int64		inserted;
	int64		merged;
	int64		unchanged;
	int64		rejected;
	int64		conflicts;
} IngestUpsertCounts;

extern IngestStager *IngestStagerBegin(int64 upload_id, const char *source, bool dedupe);
/* the upload's valid rows through identity now (ec.ingest_finish) */
extern void IngestStagerUpsertWaiting(IngestStager *st);
extern void IngestStagerAdd(IngestStager *st, int64 row_number, const IngestChecked *checked);
extern void IngestStagerFinish(IngestStager *st);
extern int64 IngestStagerRows(const IngestStager *st);
extern int64 IngestStagerRejected(const IngestStager *st);
/* rows marked duplicate_in_file as the inline dedupe answered */
extern int64 IngestStagerDuplicates(const IngestStager *st);
extern const IngestUpsertCounts *IngestStagerCounts(const IngestStager *st);

/* Parsers: feed every row to the stager; return NULL or a reason code. */
typedef struct IngestParseResult
{
	const char *reason;			/* NULL when the body could be read */
	char	   *detail;			/* a sentence for the sender */
	int64		line;			/* where, when known */
	int64		rows;			/* data rows read */
} IngestParseResult;

extern void IngestParseCsv(const char *body, size_t len, const IngestProfile *profile,
						   Relation staging, IngestStager *st, IngestParseResult *res);
extern void IngestParseJson(const char *body, size_t len, const IngestProfile *profile,
							IngestStager *st, IngestParseResult *res);

/* Progress (ingest.c): phases and the COPY progress slots we use. */
#define INGEST_PROGRESS_UPLOAD_ID	6
#define INGEST_PROGRESS_PHASE		7
#define INGEST_PROGRESS_ROWS		8
#define INGEST_PROGRESS_REJECTED	9
#define INGEST_PROGRESS_UPSERTED	10

#define INGEST_PHASE_VERIFYING		1
#define INGEST_PHASE_PARSING		2
#define INGEST_PHASE_STAGING		3
#define INGEST_PHASE_DEDUPLICATING	4
#define INGEST_PHASE_SKIPTRACE		5

extern void IngestProgressStart(int64 upload_id, int phase, int64 bytes_total);
extern void IngestProgressPhase(int phase);
extern void IngestProgressResume(int phase, int64 rows);

#endif							/* EC_INGEST_H */
