/*-------------------------------------------------------------------------
 *
 * jsonb_push.h
 *		Small helpers for building jsonb answers with pushJsonbValue:
 *		a key, and a key with a text, integer or null value.
 *
 * Every concern that answers with jsonb (identity, ingest, ...) builds its
 * objects this way; the helpers are written once, here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_JSONB_PUSH_H
#define EC_JSONB_PUSH_H

#include "utils/jsonb.h"
#include "utils/numeric.h"

/* An object key. */
static inline void
EcJsonbPushKey(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

/* key: text value, or null when value is NULL. */
static inline void
EcJsonbPushText(JsonbParseState **st, const char *key, const char *value)
{
	JsonbValue	v;

	EcJsonbPushKey(st, key);
	if (value)
	{
		v.type = jbvString;
		v.val.string.val = (char *) value;
		v.val.string.len = strlen(value);
	}
	else
		v.type = jbvNull;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* key: integer value. */
static inline void
EcJsonbPushInt(JsonbParseState **st, const char *key, int64 value)
{
	JsonbValue	v;

	EcJsonbPushKey(st, key);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(value);
	pushJsonbValue(st, WJB_VALUE, &v);
}

#endif							/* EC_JSONB_PUSH_H */
