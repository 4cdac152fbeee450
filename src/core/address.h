/*
 * address.h - USPS Publication 28 address normalizer and the addr_hash key.
 *
 * Pure C: no postgres.h, no palloc, no ereport.  Callers pass buffers and
 * lengths and get an EcAddrStatus back; src/identity/ turns the codes into
 * SQL NULLs or ereports.
 *
 * The canonical form has five parts:
 *
 *	line	house number, pre-directional, street name, suffix (Appendix C1
 *			standard abbreviation), post-directional: "123 N MAIN ST"
 *	unit	secondary unit groups: every designator that takes a range (APT,
 *			UNIT, STE, BLDG, #, ... from Appendix C2) is written "#", followed
 *			by its range with hyphens removed and leading zeros dropped, so
 *			"Apt 4", "Unit 04", "#4" and "Ste 4" are all "# 4"; designators
 *			without a range keep their abbreviation ("REAR", "PH").
 *	city	upper case, SAINT/FORT/MOUNT/POINT spelled out, a leading
 *			directional spelled out ("N LAS VEGAS" -> "NORTH LAS VEGAS")
 *	state	two-letter code (names and older abbreviations mapped)
 *	zip5	five digits (ZIP+4 cut, a leading zero lost by a spreadsheet put
 *			back)
 *
 * and one line form, "LINE[ UNIT], CITY, ST ZIP5", which is what addr_hash
 * hashes (SHA-256).  Normalization is idempotent: normalizing the parts of a
 * canonical address (line as line1, unit as line2) gives the same parts.
 */
#ifndef EC_ADDRESS_H
#define EC_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* longest raw input accepted for any one part, in bytes */
#define EC_ADDR_INPUT_MAX	1024
/* longest canonical part, in bytes (excluding the NUL) */
#define EC_ADDR_FIELD_MAX	255
/* longest one-line form: line + " " + unit + ", " + city + ", " + st + " " + zip */
#define EC_ADDR_ONELINE_MAX (3 * EC_ADDR_FIELD_MAX + 2 + 2 + 2 + EC_ADDR_FIELD_MAX + 1 + 5)
#define EC_ADDR_HASH_LEN	32

typedef enum EcAddrStatus
{
	EC_ADDR_OK = 0,
	EC_ADDR_EMPTY,				/* no street line left after folding */
	EC_ADDR_TOO_LONG,			/* a raw part over EC_ADDR_INPUT_MAX or a
								 * canonical part over EC_ADDR_FIELD_MAX */
	EC_ADDR_BAD_UTF8,			/* input is not valid UTF-8 */
	EC_ADDR_INCOMPLETE			/* (hash only) neither ZIP nor city + state */
} EcAddrStatus;

/* warnings: the address normalized, but a part was not understood */
#define EC_ADDR_WARN_STATE	0x01	/* state not recognized; kept folded */
#define EC_ADDR_WARN_ZIP	0x02	/* ZIP not usable; dropped */

typedef struct EcAddress
{
	char		line[EC_ADDR_FIELD_MAX + 1];
	char		unit[EC_ADDR_FIELD_MAX + 1];
	char		city[EC_ADDR_FIELD_MAX + 1];
	char		state[EC_ADDR_FIELD_MAX + 1];
	char		zip5[6];
	unsigned int flags;			/* EC_ADDR_WARN_* */
} EcAddress;

/* Part of a caller's buffer. */
typedef struct EcSpan
{
	const char *s;
	size_t		len;
} EcSpan;

/*
 * A whole address in one line ("123 Main St, Tampa, FL 33606") split into
 * street, city, state and ZIP (zip may be empty), as EcAddressNormalize
 * splits line 1 when city, state and ZIP are all absent.  False when the
 * line does not read as one (no comma, no state, a unit where the city
 * would be).  The spans point into line.
 */
extern bool EcAddressSplitLine(const char *line, size_t len, EcSpan *street, EcSpan *city,
							   EcSpan *state, EcSpan *zip);

/*
 * Normalize an address.  Any pointer may be NULL (an absent part, same as
 * length 0).  On EC_ADDR_OK *out holds the canonical parts; on any other
 * status *out is zeroed.
 */
extern EcAddrStatus EcAddressNormalize(const char *line1, size_t line1_len,
									   const char *line2, size_t line2_len,
									   const char *city, size_t city_len,
									   const char *state, size_t state_len,
									   const char *zip, size_t zip_len,
									   EcAddress *out);

/*
 * Write the one-line canonical form into buf (NUL-terminated, truncated to
 * buflen - 1).  Returns the full length, excluding the NUL.
 */
extern size_t EcAddressFormat(const EcAddress *addr, char *buf, size_t buflen);

/*
 * SHA-256 of the one-line form.  EC_ADDR_INCOMPLETE when the address has no
 * street line, or neither a ZIP nor both city and state: such a hash would
 * join unrelated properties.
 */
extern EcAddrStatus EcAddressHash(const EcAddress *addr,
								  unsigned char hash[EC_ADDR_HASH_LEN]);

/* a short snake_case reason for a status, for jsonb answers and messages */
extern const char *EcAddrStatusReason(EcAddrStatus status);

#endif							/* EC_ADDRESS_H */
