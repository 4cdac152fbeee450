/*
 * fuzz_csvscan.c - libFuzzer harness for src/core/csvscan.c
 *
 * The first byte picks the delimiter (comma, tab, semicolon or pipe); the
 * rest is the body.  Beyond "no crash, no out-of-bounds read" it checks the
 * scan's contract: positions inside the body, widths consistent, a body
 * accepted as OK is valid UTF-8 without NUL bytes and with balanced quotes,
 * scanning a body twice gives the same answer, and the plain UTF-8 check
 * and the delimiter sniffing stay within their contracts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/csvscan.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = {',', '\t', ';', '|'};
	const char *body;
	size_t		len;
	char		delim;
	EcCsvScan	sc;
	EcCsvScan	again;
	EcCsvStatus st;
	size_t		i;
	size_t		quotes = 0;

	if (size == 0)
		return 0;
	delim = delims[data[0] % 4];
	body = (const char *) data + 1;
	len = size - 1;

	/* the sniffed delimiter is the expected one or a candidate */
	{
		char		d = ec_csv_sniff_delimiter(body, len, delim, '"');

		if (d != delim && d != ',' && d != ';' && d != '\t' && d != '|')
			abort();
	}
	/* the plain text check agrees with the CSV scan on encoding */
	{
		EcCsvStatus tst = ec_text_scan(body, len, &again);

		if (tst != EC_CSV_OK && tst != EC_CSV_EMPTY && tst != EC_CSV_INVALID_UTF8 && tst != EC_CSV_NUL_BYTE)
			abort();
		if ((tst == EC_CSV_INVALID_UTF8 || tst == EC_CSV_NUL_BYTE) && again.offset >= len)
			abort();
	}

	st = ec_csv_scan(body, len, delim, '"', &sc);
	if (ec_csv_scan(body, len, delim, '"', &again) != st || memcmp(&sc, &again, sizeof(sc)) != 0)
		abort();
	if (sc.bom_len != 0 && sc.bom_len != 3)
		abort();
	if (ec_csv_status_reason(st) == NULL)
		abort();

	switch (st)
	{
		case EC_CSV_OK:
			if (sc.records < 1 || sc.header_fields < 1 || sc.max_fields < sc.header_fields ||
				sc.lines < 1 || sc.max_fields_line < 1 || sc.max_fields_line > sc.lines)
				abort();
			for (i = sc.bom_len; i < len;)
			{
				int			n = ec_utf8_char_len((const unsigned char *) body + i, len - i);

				if (n == 0)
					abort();	/* accepted a NUL or invalid UTF-8 */
				if (body[i] == '"')
					quotes++;
				i += n;
			}
			if (quotes % 2 != 0)
				abort();		/* accepted an open quote */
			break;
		case EC_CSV_EMPTY:
			break;
		case EC_CSV_INVALID_UTF8:
		case EC_CSV_NUL_BYTE:
		case EC_CSV_UNTERMINATED_QUOTE:
		case EC_CSV_MIXED_NEWLINES:
		case EC_CSV_END_MARKER:
			if (sc.offset < sc.bom_len || sc.offset >= len || sc.line < 1)
				abort();
			if (st == EC_CSV_NUL_BYTE && body[sc.offset] != '\0')
				abort();
			if (st == EC_CSV_UNTERMINATED_QUOTE && body[sc.offset] != '"')
				abort();
			if (st == EC_CSV_END_MARKER && body[sc.offset] != '\\')
				abort();
			break;
	}
	return 0;
}
