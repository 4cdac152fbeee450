/*
 * test_ingest.c - unit tests of src/core/csvscan.c and fieldcheck.c
 *
 * The CSV pre-scan: BOM, CRLF / LF / CR, quoted newlines and quotes,
 * widths, and every problem it names (invalid UTF-8, NUL, unterminated
 * quote, mixed newlines, COPY's "\." marker, empty).  The field checkers:
 * each canonical form and each rejection.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdint.h>

#include "core/csvscan.h"
#include "core/fieldcheck.h"

#define SCAN(lit, out) ec_csv_scan((lit), sizeof(lit) - 1, ',', '"', (out))

static void
test_scan_ok(void)
{
	EcCsvScan	sc;

	CHECK(SCAN("a,b,c\n1,2,3\n", &sc) == EC_CSV_OK);
	CHECK(sc.records == 2 && sc.header_fields == 3 && sc.max_fields == 3);
	CHECK(sc.newline == EC_NL_LF && sc.lines == 2 && sc.bom_len == 0);

	/* no final newline */
	CHECK(SCAN("a,b\n1,2", &sc) == EC_CSV_OK);
	CHECK(sc.records == 2 && sc.lines == 2);

	/* CRLF, and a BOM */
	CHECK(SCAN("\xEF\xBB\xBF" "a,b\r\n1,2\r\n", &sc) == EC_CSV_OK);
	CHECK(sc.bom_len == 3 && sc.newline == EC_NL_CRLF && sc.records == 2);

	/* old Mac CR */
	CHECK(SCAN("a,b\r1,2\r", &sc) == EC_CSV_OK);
	CHECK(sc.newline == EC_NL_CR && sc.records == 2);

	/* quoted newlines (either style) and delimiters are data */
	CHECK(SCAN("a,b\n\"line1\nline2\",\"x,y\"\n\"p\r\nq\",2\n", &sc) == EC_CSV_OK);
	CHECK(sc.records == 3 && sc.max_fields == 2 && sc.lines == 5);

	/* doubled quotes inside quotes */
	CHECK(SCAN("a\n\"say \"\"hi\"\"\"\n", &sc) == EC_CSV_OK);
	CHECK(sc.records == 2);

	/* the widest record and where it starts */
	CHECK(SCAN("a,b\n1,2,3,4\n5\n", &sc) == EC_CSV_OK);
	CHECK(sc.header_fields == 2 && sc.max_fields == 4 && sc.max_fields_line == 2);

	/* "\." inside a field, or with more on its line, is data */
	CHECK(SCAN("a\n\\.x\n\"\\.\"\n", &sc) == EC_CSV_OK);
	/* and as the very last bytes without a newline, COPY reads it as data */
	CHECK(SCAN("a\n\\.", &sc) == EC_CSV_OK);

	/* multi-byte UTF-8 */
	CHECK(SCAN("name\nJos\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8F\xA0\n", &sc) == EC_CSV_OK);

	/* a header-only file is fine for the scan: one record */
	CHECK(SCAN("a,b,c\n", &sc) == EC_CSV_OK);
	CHECK(sc.records == 1);

	/* another delimiter */
	CHECK(ec_csv_scan("a\tb\n1\t2\n", 8, '\t', '"', &sc) == EC_CSV_OK);
	CHECK(sc.header_fields == 2);
}

static void
test_scan_problems(void)
{
	EcCsvScan	sc;

	CHECK(SCAN("", &sc) == EC_CSV_EMPTY);
	CHECK(SCAN("\xEF\xBB\xBF", &sc) == EC_CSV_EMPTY);
	CHECK(SCAN(" \r\n\t\n", &sc) == EC_CSV_EMPTY);
	CHECK(ec_csv_scan(NULL, 0, ',', '"', &sc) == EC_CSV_EMPTY);

	CHECK(SCAN("a\n\xFF\n", &sc) == EC_CSV_INVALID_UTF8);
	CHECK(sc.offset == 2 && sc.line == 2);
	CHECK(SCAN("a\nb\nc\xC3(\n", &sc) == EC_CSV_INVALID_UTF8);
	CHECK(sc.offset == 5 && sc.line == 3);
	CHECK(SCAN("\xC0\xAF", &sc) == EC_CSV_INVALID_UTF8);		/* overlong '/' */
	CHECK(SCAN("\xED\xA0\x80", &sc) == EC_CSV_INVALID_UTF8);	/* surrogate */
	CHECK(SCAN("\xF4\x90\x80\x80", &sc) == EC_CSV_INVALID_UTF8);	/* > U+10FFFF */
	CHECK(SCAN("ab\xE2\x82", &sc) == EC_CSV_INVALID_UTF8);	/* cut short */
	CHECK(SCAN("caf\xE9\n", &sc) == EC_CSV_INVALID_UTF8);	/* Latin-1 */

	{
		const char	nul[] = "a,b\n1,\0002\n";

		CHECK(ec_csv_scan(nul, sizeof(nul) - 1, ',', '"', &sc) == EC_CSV_NUL_BYTE);
		CHECK(sc.offset == 6 && sc.line == 2);
	}

	CHECK(SCAN("a,b\n1,\"open\n2,3\n", &sc) == EC_CSV_UNTERMINATED_QUOTE);
	CHECK(sc.line == 2 && sc.offset == 6);
	CHECK(SCAN("\"", &sc) == EC_CSV_UNTERMINATED_QUOTE);
	CHECK(SCAN("a\n\"x\"\"\n", &sc) == EC_CSV_UNTERMINATED_QUOTE);

	CHECK(SCAN("a\r\nb\nc\r\n", &sc) == EC_CSV_MIXED_NEWLINES);
	CHECK(sc.line == 2);
	CHECK(SCAN("a\nb\r\n", &sc) == EC_CSV_MIXED_NEWLINES);
	CHECK(SCAN("a\rb\r\n", &sc) == EC_CSV_MIXED_NEWLINES);
	CHECK(SCAN("a\r\nb\rc\r\n", &sc) == EC_CSV_MIXED_NEWLINES);

	CHECK(SCAN("a\n1\n\\.\n2\n", &sc) == EC_CSV_END_MARKER);
	CHECK(sc.line == 3);
	CHECK(SCAN("\\.\r\n", &sc) == EC_CSV_END_MARKER);

	CHECK(ec_csv_sniff_delimiter("a,b;c\n", 6, ',', '"') == ',');
	CHECK(ec_csv_sniff_delimiter("a;b;c\n1,2\n", 10, ',', '"') == ';');
	CHECK(ec_csv_sniff_delimiter("a\tb\n", 4, ',', '"') == '\t');
	CHECK(ec_csv_sniff_delimiter("\"a,b\";c\n", 8, ',', '"') == ';');
	CHECK(ec_csv_sniff_delimiter("abc\n", 4, ',', '"') == ',');
	CHECK(ec_csv_sniff_delimiter("a|b|c;d", 7, ',', '"') == '|');

	CHECK_STR(ec_csv_status_reason(EC_CSV_UNTERMINATED_QUOTE), "unterminated_quote");
	CHECK_STR(ec_csv_status_reason(EC_CSV_EMPTY), "empty_body");
}

static void
test_utf8(void)
{
	EcCsvScan	sc;

	CHECK(ec_text_scan("[{\"a\": \"\xC3\xA9\"}]", 12, &sc) == EC_CSV_OK);
	CHECK(ec_text_scan("\xEF\xBB\xBF  \n", 6, &sc) == EC_CSV_EMPTY);
	CHECK(ec_text_scan("[\n\"\xFF\"]", 5, &sc) == EC_CSV_INVALID_UTF8);
	CHECK(sc.offset == 3 && sc.line == 2);
	CHECK(ec_text_scan("[\"\0\"]", 5, &sc) == EC_CSV_NUL_BYTE);
	CHECK(sc.offset == 2 && sc.line == 1);

	CHECK(ec_utf8_char_len((const unsigned char *) "A", 1) == 1);
	CHECK(ec_utf8_char_len((const unsigned char *) "\xC3\xA9", 2) == 2);
	CHECK(ec_utf8_char_len((const unsigned char *) "\xC3\xA9", 1) == 0);
	CHECK(ec_utf8_char_len((const unsigned char *) "\xE0\x80\x80", 3) == 0);
	CHECK(ec_utf8_char_len((const unsigned char *) "\xF0\x9F\x8F\xA0", 4) == 4);
	CHECK(ec_utf8_char_len((const unsigned char *) "", 1) == 0);
	CHECK(ec_utf8_char_len((const unsigned char *) "x", 0) == 0);
}

#define EMAIL(lit, out) ec_field_email((lit), sizeof(lit) - 1, (out))
#define PHONE(lit, out) ec_field_phone((lit), sizeof(lit) - 1, (out))

static void
test_email(void)
{
	char		e[EC_EMAIL_MAX + 1];

	CHECK(EMAIL(" Margaret.Ellison@Comcast.net ", e) == EC_FIELD_OK);
	CHECK_STR(e, "margaret.ellison@comcast.net");
	CHECK(EMAIL("o'brien+leads@sub.example.co.uk", e) == EC_FIELD_OK);
	CHECK(EMAIL("x@xn--bcher-kva.example", e) == EC_FIELD_OK);
	CHECK(EMAIL("a@b.xn--p1ai", e) == EC_FIELD_OK);
	CHECK(EMAIL("", e) == EC_FIELD_EMPTY);
	CHECK(EMAIL("   ", e) == EC_FIELD_EMPTY);
	CHECK(EMAIL("not-an-email", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a@b", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a@@b.com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a@b@c.com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("@b.com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a.@b.com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL(".a@b.com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a..b@c.com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a b@c.com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a@-b.com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a@b-.com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a@b..com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a@b.c", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a@b.c0m", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("a@b.com.", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("j\xC3\xA9@b.com", e) == EC_FIELD_INVALID);
	CHECK(EMAIL("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b.com", e) == EC_FIELD_INVALID);
}

static void
test_phone(void)
{
	char		p[EC_PHONE_LEN + 1];

	CHECK(PHONE("(941) 555-3817", p) == EC_FIELD_OK);
	CHECK_STR(p, "+19415553817");
	CHECK(PHONE("941-555-3817", p) == EC_FIELD_OK);
	CHECK_STR(p, "+19415553817");
	CHECK(PHONE("+1 727 555 9021", p) == EC_FIELD_OK);
	CHECK_STR(p, "+17275559021");
	CHECK(PHONE("1.941.555.3817", p) == EC_FIELD_OK);
	CHECK(PHONE("9415553817", p) == EC_FIELD_OK);
	CHECK(PHONE("", p) == EC_FIELD_EMPTY);
	CHECK(PHONE("555-12", p) == EC_FIELD_INVALID);
	CHECK(PHONE("+44 20 7946 0958", p) == EC_FIELD_INVALID);
	CHECK(PHONE("+9415553817", p) == EC_FIELD_INVALID);
	CHECK(PHONE("29415553817", p) == EC_FIELD_INVALID);
	CHECK(PHONE("(141) 555-3817", p) == EC_FIELD_INVALID);	/* NPA starts 1 */
	CHECK(PHONE("(911) 555-3817", p) == EC_FIELD_INVALID);	/* N11 */
	CHECK(PHONE("(991) 555-3817", p) == EC_FIELD_INVALID);	/* middle 9 */
	CHECK(PHONE("(941) 155-3817", p) == EC_FIELD_INVALID);	/* NXX starts 1 */
	CHECK(PHONE("(941) 411-3817", p) == EC_FIELD_INVALID);	/* NXX N11 */
	CHECK(PHONE("941-555-3817 x12", p) == EC_FIELD_INVALID);
	CHECK(PHONE("941555381799", p) == EC_FIELD_INVALID);
	CHECK(PHONE("94+15553817", p) == EC_FIELD_INVALID);
}

static void
test_zip_state(void)
{
	char		z5[6];
	char		z4[5];
	char		st[3];

	CHECK(ec_field_zip("34232", 5, z5, z4) == EC_FIELD_OK);
	CHECK_STR(z5, "34232");
	CHECK_STR(z4, "");
	CHECK(ec_field_zip("34232-4410", 10, z5, z4) == EC_FIELD_OK);
	CHECK_STR(z5, "34232");
	CHECK_STR(z4, "4410");
	CHECK(ec_field_zip("342324410", 9, z5, z4) == EC_FIELD_OK);
	CHECK_STR(z4, "4410");
	CHECK(ec_field_zip(" 02134 ", 7, z5, z4) == EC_FIELD_OK);
	CHECK_STR(z5, "02134");
	CHECK(ec_field_zip("3420", 4, z5, z4) == EC_FIELD_INVALID);
	CHECK(ec_field_zip("00000", 5, z5, z4) == EC_FIELD_INVALID);
	CHECK(ec_field_zip("3423A", 5, z5, z4) == EC_FIELD_INVALID);
	CHECK(ec_field_zip("34232-44", 8, z5, z4) == EC_FIELD_INVALID);
	CHECK(ec_field_zip("34232_4410", 10, z5, z4) == EC_FIELD_INVALID);
	CHECK(ec_field_zip("", 0, z5, z4) == EC_FIELD_EMPTY);

	CHECK(ec_field_state("fl", 2, st) == EC_FIELD_OK);
	CHECK_STR(st, "FL");
	CHECK(ec_field_state(" Florida ", 9, st) == EC_FIELD_OK);
	CHECK_STR(st, "FL");
	CHECK(ec_field_state("new  york", 9, st) == EC_FIELD_OK);
	CHECK_STR(st, "NY");
	CHECK(ec_field_state("D.C.", 4, st) == EC_FIELD_OK);
	CHECK_STR(st, "DC");
	CHECK(ec_field_state("Puerto Rico", 11, st) == EC_FIELD_OK);
	CHECK_STR(st, "PR");
	CHECK(ec_field_state("XX", 2, st) == EC_FIELD_INVALID);
	CHECK(ec_field_state("Fla", 3, st) == EC_FIELD_INVALID);
	CHECK(ec_field_state("F1", 2, st) == EC_FIELD_INVALID);
	CHECK(ec_field_state("", 0, st) == EC_FIELD_EMPTY);
}

#define MONEY(lit, out) ec_field_money((lit), sizeof(lit) - 1, (out))

static void
test_numbers(void)
{
	char		m[EC_MONEY_MAX + 1];
	int64_t		v;
	bool		b;

	CHECK(MONEY("412000", m) == EC_FIELD_OK);
	CHECK_STR(m, "412000");
	CHECK(MONEY("$412,000.50", m) == EC_FIELD_OK);
	CHECK_STR(m, "412000.50");
	CHECK(MONEY("-50000", m) == EC_FIELD_OK);
	CHECK_STR(m, "-50000");
	CHECK(MONEY("($1,000)", m) == EC_FIELD_OK);
	CHECK_STR(m, "-1000");
	CHECK(MONEY("0", m) == EC_FIELD_OK);
	CHECK_STR(m, "0");
	CHECK(MONEY("-0.00", m) == EC_FIELD_OK);
	CHECK_STR(m, "0.00");
	CHECK(MONEY("007.5", m) == EC_FIELD_OK);
	CHECK_STR(m, "7.5");
	CHECK(MONEY(".999", m) == EC_FIELD_OK);
	CHECK_STR(m, "0.99");
	CHECK(MONEY("N/A", m) == EC_FIELD_INVALID);
	CHECK(MONEY("$--", m) == EC_FIELD_INVALID);
	CHECK(MONEY("abc", m) == EC_FIELD_INVALID);
	CHECK(MONEY("1.2.3", m) == EC_FIELD_INVALID);
	CHECK(MONEY(",100", m) == EC_FIELD_INVALID);
	CHECK(MONEY("10-", m) == EC_FIELD_INVALID);
	CHECK(MONEY("1234567890123", m) == EC_FIELD_OUT_OF_RANGE);
	CHECK(MONEY("", m) == EC_FIELD_EMPTY);

	CHECK(ec_field_int("75", 2, 18, 120, &v) == EC_FIELD_OK && v == 75);
	CHECK(ec_field_int("75.0", 4, 18, 120, &v) == EC_FIELD_OK && v == 75);
	CHECK(ec_field_int("7", 1, 18, 120, &v) == EC_FIELD_OUT_OF_RANGE);
	CHECK(ec_field_int("130", 3, 18, 120, &v) == EC_FIELD_OUT_OF_RANGE);
	CHECK(ec_field_int("-3", 2, 18, 120, &v) == EC_FIELD_OUT_OF_RANGE);
	CHECK(ec_field_int("75.5", 4, 18, 120, &v) == EC_FIELD_INVALID);
	CHECK(ec_field_int("three", 5, 0, 10, &v) == EC_FIELD_INVALID);
	CHECK(ec_field_int("-", 1, -10, 10, &v) == EC_FIELD_INVALID);
	CHECK(ec_field_int("99999999999999999999", 20, 0, 10, &v) == EC_FIELD_OUT_OF_RANGE);

	CHECK(ec_field_bool("Yes", 3, &b) == EC_FIELD_OK && b);
	CHECK(ec_field_bool("n", 1, &b) == EC_FIELD_OK && !b);
	CHECK(ec_field_bool("TRUE", 4, &b) == EC_FIELD_OK && b);
	CHECK(ec_field_bool("0", 1, &b) == EC_FIELD_OK && !b);
	CHECK(ec_field_bool("Maybe", 5, &b) == EC_FIELD_INVALID);
	CHECK(ec_field_bool("", 0, &b) == EC_FIELD_EMPTY);
}

static void
test_dates_digits_text(void)
{
	int			y,
				m,
				d;
	char		buf[16];
	char		t[8];
	bool		cut;

	CHECK(ec_field_date("03/14/2003", 10, &y, &m, &d) == EC_FIELD_OK);
	CHECK(y == 2003 && m == 3 && d == 14);
	CHECK(ec_field_date("3/4/1989", 8, &y, &m, &d) == EC_FIELD_OK);
	CHECK(y == 1989 && m == 3 && d == 4);
	CHECK(ec_field_date("2004-02-29", 10, &y, &m, &d) == EC_FIELD_OK);
	CHECK(ec_field_date("2004-02-29T10:00:00Z", 20, &y, &m, &d) == EC_FIELD_OK);
	CHECK(ec_field_date("2003-02-29", 10, &y, &m, &d) == EC_FIELD_INVALID);
	CHECK(ec_field_date("13/45/2001", 10, &y, &m, &d) == EC_FIELD_INVALID);
	CHECK(ec_field_date("19xx", 4, &y, &m, &d) == EC_FIELD_INVALID);
	CHECK(ec_field_date("03/14/03", 8, &y, &m, &d) == EC_FIELD_INVALID);
	CHECK(ec_field_date("", 0, &y, &m, &d) == EC_FIELD_EMPTY);

	CHECK(ec_field_years_between(2003, 3, 14, 2026, 3, 14) == 23);
	CHECK(ec_field_years_between(2003, 3, 14, 2026, 3, 13) == 22);
	CHECK(ec_field_years_between(2030, 1, 1, 2026, 1, 1) == -4);

	CHECK(ec_field_digits("1234567890", 10, 10, buf) == EC_FIELD_OK);
	CHECK_STR(buf, "1234567890");
	CHECK(ec_field_digits("12345", 5, 10, buf) == EC_FIELD_INVALID);
	CHECK(ec_field_digits("6037", 4, 5, buf) == EC_FIELD_OK);
	CHECK_STR(buf, "06037");
	CHECK(ec_field_digits("12a15", 5, 5, buf) == EC_FIELD_INVALID);

	CHECK(ec_field_text("  a \t b  ", 9, t, sizeof(t), &cut) == 3 && !cut);
	CHECK_STR(t, "a b");
	CHECK(ec_field_text("abcdefghij", 10, t, sizeof(t), &cut) == 7 && cut);
	CHECK_STR(t, "abcdefg");
	/* never cuts a character in two */
	CHECK(ec_field_text("abcdef\xC3\xA9", 8, t, sizeof(t), &cut) == 6 && cut);
	CHECK_STR(t, "abcdef");
}

int
main(void)
{
	test_scan_ok();
	test_scan_problems();
	test_utf8();
	test_email();
	test_phone();
	test_zip_state();
	test_numbers();
	test_dates_digits_text();
	UNIT_DONE();
}
