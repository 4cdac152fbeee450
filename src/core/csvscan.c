/*
 * csvscan.c - one pass over a CSV body: encoding, quotes, newlines, widths
 *
 * See csvscan.h.  Reads nothing outside [buf, buf + len), allocates nothing.
 */
#include "core/csvscan.h"

#include <string.h>

int
ec_utf8_char_len(const unsigned char *s, size_t len)
{
	unsigned char c;
	int			n;
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	int			i;

	if (len == 0)
		return 0;
	c = s[0];
	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;			/* no overlong forms */
		else if (c == 0xED)
			hi = 0x9F;			/* no UTF-16 surrogates */
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		if (c == 0xF0)
			lo = 0x90;			/* no overlong forms */
		else if (c == 0xF4)
			hi = 0x8F;			/* nothing above U+10FFFF */
	}
	else
		return 0;				/* 0x80..0xC1 and 0xF5..0xFF never start one */
	if (len < (size_t) n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
	{
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	}
	return n;
}

static inline bool
ec_csv_is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The record that started at the last record start ends here. */
static inline void
ec_csv_end_record(EcCsvScan *out, int64_t fields, int64_t record_line)
{
	out->records++;
	if (out->records == 1)
		out->header_fields = fields;
	if (fields > out->max_fields)
	{
		out->max_fields = fields;
		out->max_fields_line = record_line;
	}
}

EcCsvStatus
ec_csv_scan(const char *buf, size_t len, char delim, char quote, EcCsvScan *out)
{
	const unsigned char *s = (const unsigned char *) buf;
	size_t		i;
	bool		in_quote = false;
	bool		at_record_start = true;
	int64_t		fields = 1;
	int64_t		line = 1;
	int64_t		record_line = 1;
	size_t		quote_offset = 0;
	int64_t		quote_line = 0;
	unsigned char d = (unsigned char) delim;
	unsigned char q = (unsigned char) quote;
	bool		plain[256];

	memset(out, 0, sizeof(*out));
	/* bytes that need no look: not a control, quote, delimiter, backslash or non-ASCII */
	for (i = 0; i < 256; i++)
		plain[i] = i < 0x80 && i != 0 && i != '\r' && i != '\n' && i != '\\' && i != d && i != q;
	if (s == NULL)
		len = 0;
	if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		out->bom_len = 3;

	for (i = out->bom_len; i < len && ec_csv_is_blank(s[i]); i++)
		;
	if (i == len)
		return EC_CSV_EMPTY;

#define EC_CSV_FAIL(st, off, ln) \
	do { out->offset = (off); out->line = (ln); out->lines = line; return (st); } while (0)

	i = out->bom_len;
	while (i < len)
	{
		unsigned char c = s[i];

		if (plain[c])
		{
			/* a run of such bytes says nothing, wherever it is */
			do
				i++;
			while (i < len && plain[s[i]]);
			at_record_start = false;
			continue;
		}
		if (c >= 0x80)
		{
			int			n = ec_utf8_char_len(s + i, len - i);

			if (n == 0)
				EC_CSV_FAIL(EC_CSV_INVALID_UTF8, i, line);
			i += n;
			at_record_start = false;
			continue;
		}
		if (c == 0)
			EC_CSV_FAIL(EC_CSV_NUL_BYTE, i, line);

		/* COPY's end-of-data marker: "\." alone at the start of a record */
		if (at_record_start && c == '\\' && i + 2 < len && s[i + 1] == '.' &&
			(s[i + 2] == '\r' || s[i + 2] == '\n'))
			EC_CSV_FAIL(EC_CSV_END_MARKER, i, line);

		if (c == q)
		{
			in_quote = !in_quote;
			if (in_quote)
			{
				quote_offset = i;
				quote_line = line;
			}
			at_record_start = false;
			i++;
			continue;
		}
		if (in_quote)
		{
			/* a newline inside a quoted field is data; count the line */
			if (c == '\n' || (c == '\r' && !(i + 1 < len && s[i + 1] == '\n')))
				line++;
			at_record_start = false;
			i++;
			continue;
		}
		if (c == d)
		{
			fields++;
			at_record_start = false;
			i++;
			continue;
		}
		if (c == '\r')
		{
			bool		crlf = i + 1 < len && s[i + 1] == '\n';

			if (out->newline == EC_NL_UNKNOWN)
				out->newline = crlf ? EC_NL_CRLF : EC_NL_CR;
			else if (out->newline == EC_NL_LF ||
					 (out->newline == EC_NL_CRLF && !crlf))
				EC_CSV_FAIL(EC_CSV_MIXED_NEWLINES, i, line);
			/* in CR mode a following LF is the next line's first byte */
			i += (out->newline == EC_NL_CRLF) ? 2 : 1;
			ec_csv_end_record(out, fields, record_line);
			line++;
			record_line = line;
			fields = 1;
			at_record_start = true;
			continue;
		}
		if (c == '\n')
		{
			if (out->newline == EC_NL_CR || out->newline == EC_NL_CRLF)
				EC_CSV_FAIL(EC_CSV_MIXED_NEWLINES, i, line);
			out->newline = EC_NL_LF;
			i++;
			ec_csv_end_record(out, fields, record_line);
			line++;
			record_line = line;
			fields = 1;
			at_record_start = true;
			continue;
		}
		at_record_start = false;
		i++;
	}
	if (in_quote)
		EC_CSV_FAIL(EC_CSV_UNTERMINATED_QUOTE, quote_offset, quote_line);
	if (!at_record_start)
		ec_csv_end_record(out, fields, record_line);
	else
		line--;					/* the body ended with a newline */
	out->lines = line;
	return EC_CSV_OK;
#undef EC_CSV_FAIL
}

char
ec_csv_sniff_delimiter(const char *buf, size_t len, char expected, char quote)
{
	static const char cands[] = {',', ';', '\t', '|'};
	size_t		count[sizeof(cands)] = {0};
	size_t		expected_count = 0;
	bool		in_quote = false;
	size_t		i;
	size_t		k;
	size_t		best = 0;

	for (i = 0; buf != NULL && i < len; i++)
	{
		char		c = buf[i];

		if (c == quote)
			in_quote = !in_quote;
		else if (!in_quote && (c == '\n' || c == '\r'))
			break;
		else if (!in_quote)
		{
			if (c == expected)
				expected_count++;
			for (k = 0; k < sizeof(cands); k++)
			{
				if (c == cands[k])
					count[k]++;
			}
		}
	}
	if (expected_count > 0)
		return expected;
	for (k = 1; k < sizeof(cands); k++)
	{
		if (count[k] > count[best])
			best = k;
	}
	return count[best] > 0 ? cands[best] : expected;
}

EcCsvStatus
ec_text_scan(const char *buf, size_t len, EcCsvScan *out)
{
	const unsigned char *s = (const unsigned char *) buf;
	size_t		i;
	int64_t		line = 1;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		len = 0;
	if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		out->bom_len = 3;
	for (i = out->bom_len; i < len && ec_csv_is_blank(s[i]); i++)
		;
	if (i == len)
		return EC_CSV_EMPTY;
	for (i = out->bom_len; i < len;)
	{
		int			n;

		if (s[i] == '\n')
			line++;
		if (s[i] > 0 && s[i] < 0x80)
		{
			i++;
			continue;
		}
		n = ec_utf8_char_len(s + i, len - i);
		if (n == 0)
		{
			out->offset = i;
			out->line = line;
			return s[i] == 0 ? EC_CSV_NUL_BYTE : EC_CSV_INVALID_UTF8;
		}
		i += n;
	}
	out->lines = line;
	return EC_CSV_OK;
}

const char *
ec_csv_status_reason(EcCsvStatus status)
{
	switch (status)
	{
		case EC_CSV_OK:
			return "ok";
		case EC_CSV_EMPTY:
			return "empty_body";
		case EC_CSV_INVALID_UTF8:
			return "invalid_utf8";
		case EC_CSV_NUL_BYTE:
			return "nul_byte";
		case EC_CSV_UNTERMINATED_QUOTE:
			return "unterminated_quote";
		case EC_CSV_MIXED_NEWLINES:
			return "mixed_newlines";
		case EC_CSV_END_MARKER:
			return "end_of_data_marker";
	}
	return "unknown";
}
