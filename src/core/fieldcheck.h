/*
 * fieldcheck.h - validate and clean one field of an uploaded lead
 * (pure C, no postgres.h)
 *
 * Each checker takes a buffer and a length (not NUL-terminated), ignores
 * surrounding whitespace, and writes a canonical form into a caller's
 * buffer of the documented size.  It returns EC_FIELD_EMPTY for a value
 * that is blank, EC_FIELD_INVALID for one that cannot be read, and
 * EC_FIELD_OUT_OF_RANGE for a well-formed value outside its bounds.
 *
 * What "canonical" means per field:
 *   email    lower case, syntax of RFC 5321 dot-atom local part @ domain of
 *            at least two labels and an alphabetic (or xn--) top level
 *   phone    NANP in E.164: "+1" NPA NXX XXXX (NPA and NXX start 2-9, are
 *            not N11; NPA's middle digit is not 9); punctuation and a
 *            leading 1 / +1 dropped; an extension or another country code
 *            is invalid
 *   zip      five digits (ZIP+4 accepted; the +4 returned apart)
 *   state    USPS two-letter code, from a code or a full name
 *   money    plain decimal: optional '-', digits, optional '.' and up to
 *            two digits; '$', ',' and spaces dropped, "(1,000)" negative
 *   integer  within [min, max]; "75.0" reads as 75
 *   boolean  yes/no, y/n, true/false, t/f, 1/0 (any case)
 *   date     MM/DD/YYYY, M/D/YYYY, YYYY-MM-DD (a time after it ignored)
 *   digits   exactly n digits (MAK: 10; county FIPS: 5, or 4 whose leading
 *            zero a spreadsheet dropped)
 *   text     whitespace runs folded to one space, at most the buffer
 */
#ifndef EC_FIELDCHECK_H
#define EC_FIELDCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EC_EMAIL_MAX		254		/* out buffer: EC_EMAIL_MAX + 1 */
#define EC_PHONE_LEN		12		/* "+1" and 10 digits; out buffer: 13 */
#define EC_MONEY_MAX		24		/* out buffer: EC_MONEY_MAX + 1 */
#define EC_MONEY_INT_DIGITS	12		/* numeric(14,2) */

typedef enum EcFieldStatus
{
	EC_FIELD_OK = 0,
	EC_FIELD_EMPTY,
	EC_FIELD_INVALID,
	EC_FIELD_OUT_OF_RANGE
} EcFieldStatus;

/* Narrow [*s, *s + *len) by ASCII whitespace (and U+00A0) at both ends. */
extern void ec_field_trim(const char **s, size_t *len);

extern EcFieldStatus ec_field_email(const char *s, size_t len, char out[EC_EMAIL_MAX + 1]);
extern EcFieldStatus ec_field_phone(const char *s, size_t len, char out[EC_PHONE_LEN + 1]);
extern EcFieldStatus ec_field_zip(const char *s, size_t len, char zip5[6], char zip4[5]);
extern EcFieldStatus ec_field_state(const char *s, size_t len, char code[3]);
extern EcFieldStatus ec_field_money(const char *s, size_t len, char out[EC_MONEY_MAX + 1]);
extern EcFieldStatus ec_field_int(const char *s, size_t len, int64_t min, int64_t max, int64_t *v);
extern EcFieldStatus ec_field_bool(const char *s, size_t len, bool *v);
extern EcFieldStatus ec_field_date(const char *s, size_t len, int *y, int *m, int *d);
extern EcFieldStatus ec_field_digits(const char *s, size_t len, int n, char *out);

/*
 * Whole years from y1-m1-d1 to y2-m2-d2 (both valid dates); negative when
 * the first is later.
 */
extern int	ec_field_years_between(int y1, int m1, int d1, int y2, int m2, int d2);

/*
 * Text with whitespace folded; at most outsize - 1 bytes are written (cut
 * at a UTF-8 character boundary) and *truncated tells whether it was cut.
 * Returns the length written.
 */
extern size_t ec_field_text(const char *s, size_t len, char *out, size_t outsize, bool *truncated);

#endif							/* EC_FIELDCHECK_H */
