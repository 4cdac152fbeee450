/*
 * lead_keys.c - APN and MAK normalization (see lead_keys.h).
 *
 * Pure C: no postgres.h.
 */
#include "core/lead_keys.h"
#include "core/usps_tables.h"

#include <stdbool.h>
#include <string.h>

static inline bool
IsDigit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
IsSpace(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* trim ASCII white space from both ends */
static void
Trim(const char **s, size_t *len)
{
	while (*len > 0 && IsSpace((unsigned char) (*s)[0]))
	{
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && IsSpace((unsigned char) (*s)[*len - 1]))
		(*len)--;
}

const char *
EcStateCode(const char *state, size_t len)
{
	char		key[64];
	size_t		i,
				n = 0;
	bool		space = false;

	if (state == NULL)
		return NULL;
	Trim(&state, &len);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) state[i];

		if (c >= 'a' && c <= 'z')
			c = (unsigned char) (c - 32);
		if (c >= 'A' && c <= 'Z')
		{
			if (space && n > 0)
			{
				if (n == sizeof(key))
					return NULL;
				key[n++] = ' ';
			}
			space = false;
			if (n == sizeof(key))
				return NULL;
			key[n++] = (char) c;
		}
		else if (c == '.' && n > 0 && (n == 1 || key[n - 2] == ' '))
			;					/* initials: N.Y. -> NY */
		else
			space = true;
	}
	return EcWordMapLookup(ec_usps_states, ec_usps_states_count, key, n);
}

EcKeyStatus
EcCountyFips(const char *state, size_t state_len,
			 const char *county_fips, size_t county_len,
			 char *fips, const char **state_code)
{
	const char *code = NULL;
	const char *state_fips = NULL;
	size_t		i;

	fips[0] = '\0';
	*state_code = NULL;
	if (state != NULL && state_len > 0)
	{
		code = EcStateCode(state, state_len);
		if (code)
			state_fips = EcWordMapLookup(ec_state_fips, ec_state_fips_count,
										 code, strlen(code));
	}
	if (county_fips == NULL)
		return EC_KEY_NO_SCOPE;
	Trim(&county_fips, &county_len);
	if (county_len == 0)
		return EC_KEY_NO_SCOPE;
	for (i = 0; i < county_len; i++)
		if (!IsDigit((unsigned char) county_fips[i]))
			return EC_KEY_NO_SCOPE;
	if (county_len == 5 || county_len == 4)
	{
		size_t		pad = 5 - county_len;

		for (i = 0; i < 5; i++)
			fips[i] = i < pad ? '0' : county_fips[i - pad];
		fips[5] = '\0';
		if (state_fips && memcmp(state_fips, fips, 2) != 0)
		{
			fips[0] = '\0';
			return EC_KEY_SCOPE_MISMATCH;
		}
	}
	else if (county_len <= 3 && state_fips)
	{
		size_t		pad = 3 - county_len;

		fips[0] = state_fips[0];
		fips[1] = state_fips[1];
		for (i = 0; i < 3; i++)
			fips[2 + i] = i < pad ? '0' : county_fips[i - pad];
		fips[5] = '\0';
	}
	else
		return EC_KEY_NO_SCOPE;

	if (code == NULL)
	{
		/* the state the county belongs to */
		for (i = 0; i < ec_state_fips_count; i++)
			if (memcmp(ec_state_fips[i].std, fips, 2) == 0)
				code = ec_state_fips[i].word;
		if (code == NULL)
		{
			fips[0] = '\0';
			return EC_KEY_NO_SCOPE;
		}
	}
	*state_code = code;
	return EC_KEY_OK;
}

EcKeyStatus
EcApnNormalize(const char *apn, size_t apn_len,
			   const char *state, size_t state_len,
			   const char *county_fips, size_t county_len,
			   char *out)
{
	char		key[EC_APN_INPUT_MAX + 1];
	char		fips[6];
	size_t		i,
				n = 0,
				nd = 0;
	const char *code = NULL;
	EcKeyStatus st;

	out[0] = '\0';
	if (apn == NULL)
		return EC_KEY_EMPTY;
	if (apn_len > EC_APN_INPUT_MAX)
		return EC_KEY_TOO_LONG;
	for (i = 0; i < apn_len; i++)
	{
		unsigned char c = (unsigned char) apn[i];

		if (c >= 'a' && c <= 'z')
			c = (unsigned char) (c - 32);
		if (IsDigit(c) || (c >= 'A' && c <= 'Z'))
		{
			if (n == 0 && c == '0')
			{
				nd++;			/* a leading zero, dropped */
				continue;
			}
			key[n++] = (char) c;
		}
		else if (IsSpace(c) || c == '-' || c == '.' || c == '/' || c == ',' ||
				 c == ':' || c == '_')
			continue;
		else
			return EC_KEY_BAD_CHARS;
	}
	if (n == 0 && nd > 0)
		key[n++] = '0';			/* all zeros */
	if (n == 0)
		return EC_KEY_EMPTY;
	key[n] = '\0';

	st = EcCountyFips(state, state_len, county_fips, county_len, fips, &code);
	if (st != EC_KEY_OK)
		return st;
	memcpy(out, code, 2);
	out[2] = ':';
	memcpy(out + 3, fips, 5);
	out[8] = ':';
	memcpy(out + 9, key, n + 1);
	return EC_KEY_OK;
}

EcKeyStatus
EcMakNormalize(const char *mak, size_t len, char *out)
{
	size_t		i;

	out[0] = '\0';
	if (mak == NULL)
		return EC_KEY_EMPTY;
	Trim(&mak, &len);
	if (len == 0)
		return EC_KEY_EMPTY;
	for (i = 0; i < len; i++)
		if (!IsDigit((unsigned char) mak[i]))
			return EC_KEY_BAD_CHARS;
	if (len != EC_MAK_LEN)
		return EC_KEY_BAD_LENGTH;
	memcpy(out, mak, EC_MAK_LEN);
	out[EC_MAK_LEN] = '\0';
	return EC_KEY_OK;
}

const char *
EcKeyStatusReason(EcKeyStatus status)
{
	switch (status)
	{
		case EC_KEY_OK:
			return "ok";
		case EC_KEY_EMPTY:
			return "key_empty";
		case EC_KEY_TOO_LONG:
			return "key_too_long";
		case EC_KEY_BAD_CHARS:
			return "key_bad_characters";
		case EC_KEY_NO_SCOPE:
			return "apn_without_county";
		case EC_KEY_SCOPE_MISMATCH:
			return "apn_county_state_mismatch";
		case EC_KEY_BAD_LENGTH:
			return "mak_not_10_digits";
	}
	return "key_unknown_status";
}
