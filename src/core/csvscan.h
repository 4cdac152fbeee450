/*
 * csvscan.h - one pass over an uploaded CSV body before COPY parses it
 * (pure C, no postgres.h)
 *
 * PostgreSQL's COPY machinery does the parsing (src/ingest/ingest_csv.c).
 * This scan runs first and answers, with a position, the questions COPY
 * would otherwise answer with an error in the middle of an upload (or not
 * at all):
 *
 *   - is the body valid UTF-8 (strict: no overlong forms, no surrogates,
 *     nothing above U+10FFFF), and free of NUL bytes;
 *   - does every quoted field end (RFC 4180: a field opened by the quote
 *     character ends at a quote not followed by another one);
 *   - do all records end lines the same way (LF, CRLF or CR); COPY fixes
 *     the style at the first line and refuses any other later on;
 *   - is there a line that is exactly "\." (COPY's end-of-data marker in
 *     CSV mode): COPY would silently drop everything after it;
 *   - how many records and fields there are (header width, widest record).
 *
 * The quote and newline rules mirror CopyReadLineText (PostgreSQL 15) with
 * the escape character equal to the quote character, so that a body this
 * scan accepts is one COPY reads to the end without a format error.
 *
 * A leading UTF-8 byte order mark is reported in bom_len; the caller skips
 * it.  Positions are 1-based physical lines (a newline inside a quoted field
 * counts) and 0-based byte offsets from the start of the buffer.
 */
#ifndef EC_CSVSCAN_H
#define EC_CSVSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum EcCsvStatus
{
	EC_CSV_OK = 0,
	EC_CSV_EMPTY,				/* nothing but a BOM and whitespace */
	EC_CSV_INVALID_UTF8,		/* at offset / line */
	EC_CSV_NUL_BYTE,			/* at offset / line */
	EC_CSV_UNTERMINATED_QUOTE,	/* the field opened at offset / line never ends */
	EC_CSV_MIXED_NEWLINES,		/* a newline of another style at offset / line */
	EC_CSV_END_MARKER			/* a line "\." at offset / line */
} EcCsvStatus;

typedef enum EcCsvNewline
{
	EC_NL_UNKNOWN = 0,			/* a single line without terminator */
	EC_NL_LF,
	EC_NL_CRLF,
	EC_NL_CR
} EcCsvNewline;

typedef struct EcCsvScan
{
	size_t		bom_len;		/* 3 when the body starts with EF BB BF */
	EcCsvNewline newline;
	int64_t		records;		/* logical records, header included, blank lines included */
	int64_t		header_fields;	/* fields of the first record */
	int64_t		max_fields;		/* fields of the widest record */
	int64_t		max_fields_line;	/* line where the widest record starts */
	int64_t		lines;			/* physical lines */
	/* where the problem is, when the status is not EC_CSV_OK */
	size_t		offset;
	int64_t		line;
} EcCsvScan;

/*
 * Scan buf[0 .. len) with the given delimiter and quote characters (both
 * ASCII, different, neither CR nor LF).  Always fills *out; returns the
 * first problem found, or EC_CSV_OK.
 */
extern EcCsvStatus ec_csv_scan(const char *buf, size_t len, char delim, char quote,
							   EcCsvScan *out);

/*
 * Length of the valid UTF-8 character at s[0 .. len), or 0 when the bytes
 * there do not start one (a NUL byte counts as invalid here).
 */
extern int	ec_utf8_char_len(const unsigned char *s, size_t len);

/*
 * Check a whole body (a JSON upload) for valid UTF-8 without NUL bytes.
 * Returns EC_CSV_OK, EC_CSV_EMPTY (only a BOM and whitespace),
 * EC_CSV_INVALID_UTF8 or EC_CSV_NUL_BYTE, with offset, line and bom_len
 * in *out as for ec_csv_scan (the other fields are zero).
 */
extern EcCsvStatus ec_text_scan(const char *buf, size_t len, EcCsvScan *out);

/*
 * The delimiter of a body whose header may not use the expected one: the
 * expected one when it occurs in the first record (outside quotes), else
 * whichever of comma, semicolon, tab and pipe occurs there most, else the
 * expected one.  (Spreadsheets in some locales write semicolons.)
 */
extern char ec_csv_sniff_delimiter(const char *buf, size_t len, char expected, char quote);

/* Stable snake_case reason code of a status (the upload's answer uses it). */
extern const char *ec_csv_status_reason(EcCsvStatus status);

#endif							/* EC_CSVSCAN_H */
