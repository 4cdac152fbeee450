/*
 * lead_keys.h - the two identity keys besides addr_hash: the county-scoped
 * Assessor's Parcel Number and the Melissa Address Key.
 *
 * Pure C: no postgres.h.  Buffers and lengths in, EcKeyStatus out.
 */
#ifndef EC_LEAD_KEYS_H
#define EC_LEAD_KEYS_H

#include <stddef.h>

/* longest raw APN accepted, and longest normalized key "ST:SSCCC:APN" */
#define EC_APN_INPUT_MAX	64
#define EC_APN_KEY_MAX		(2 + 1 + 5 + 1 + EC_APN_INPUT_MAX)
#define EC_MAK_LEN			10

typedef enum EcKeyStatus
{
	EC_KEY_OK = 0,
	EC_KEY_EMPTY,				/* nothing but separators */
	EC_KEY_TOO_LONG,
	EC_KEY_BAD_CHARS,			/* a character that has no place in the key */
	EC_KEY_NO_SCOPE,			/* APN without a usable county FIPS code */
	EC_KEY_SCOPE_MISMATCH,		/* county FIPS code of another state */
	EC_KEY_BAD_LENGTH			/* MAK that is not 10 digits */
} EcKeyStatus;

/*
 * Normalize an APN and scope it to its state and county:
 * "CA:06037:5555001002".
 *
 * The parcel number is upper-cased; spaces, dashes, dots, slashes, commas,
 * colons and underscores are dropped; leading zeros are dropped (a
 * spreadsheet drops them from numeric APNs, and within one county's fixed
 * format they carry nothing).  The scope is the 5-digit county FIPS code:
 * county_fips may be 5 digits (state + county; 4 when a spreadsheet dropped
 * the leading zero) or 3 digits with state giving the state (code or name).
 * When both are given they must agree; a county FIPS code of no known state
 * is no scope.  out must hold EC_APN_KEY_MAX + 1
 * bytes.
 */
extern EcKeyStatus EcApnNormalize(const char *apn, size_t apn_len,
								  const char *state, size_t state_len,
								  const char *county_fips, size_t county_len,
								  char *out);

/*
 * The 5-digit county FIPS code from county_fips (5 digits, 4 when a
 * spreadsheet dropped the leading zero, or 3 with the state) and the state
 * (code or name, may be absent); fips must hold 6 bytes.  *state_code is
 * set to the county's state.
 */
extern EcKeyStatus EcCountyFips(const char *state, size_t state_len,
								const char *county_fips, size_t county_len,
								char *fips, const char **state_code);

/*
 * Validate a Melissa Address Key: exactly 10 digits after trimming white
 * space, kept as text.  out must hold EC_MAK_LEN + 1 bytes.
 */
extern EcKeyStatus EcMakNormalize(const char *mak, size_t len, char *out);

/*
 * The two-letter code for a state given as code or name ("California",
 * "calif.", "CA"), or NULL.
 */
extern const char *EcStateCode(const char *state, size_t len);

extern const char *EcKeyStatusReason(EcKeyStatus status);

#endif							/* EC_LEAD_KEYS_H */
