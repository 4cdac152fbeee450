/*-------------------------------------------------------------------------
 *
 * jsonb_write.h
 *		jsonb values written in jsonb's binary form directly, as
 *		jsonb_util.c's convertJsonbObject / convertJsonbArray /
 *		convertJsonbScalar lay them out, without building pushJsonbValue's
 *		tree of values first.
 *
 * Answers of many rows (ec.upsert_leads: one object per lead) were a tree of
 * about a kilobyte a lead before being serialized; written directly, an
 * answer costs its own bytes.  The layout is jsonb's on-disk format, which
 * PostgreSQL cannot change without breaking pg_upgrade.
 *
 *		EcJbPair	p[2] = {{"lead_id", ...}, {"action", ...}};
 *		Jsonb	   *one = EcJbObjectJsonb(p, 2);
 *
 *		EcJbArray	a;
 *		EcJbArrayInit(&a);
 *		for each row: EcJbArrayAddObject(&a, pairs, n);
 *		value = EcJbArrayValue(&a);		(a jbvBinary, for an outer object)
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_JSONB_WRITE_H
#define EC_JSONB_WRITE_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/*
 * One key and its value: a scalar (jbvString, jbvNumeric, jbvBool, jbvNull),
 * an array of scalars (jbvArray), or a container already in binary form
 * (jbvBinary, not a raw scalar).  Keys need not be in jsonb's order; they
 * must be distinct.
 */
typedef struct EcJbPair
{
	const char *key;
	JsonbValue	value;
} EcJbPair;

/* An array of objects, written element by element. */
typedef struct EcJbArray
{
	StringInfoData data;		/* the elements, each int-aligned */
	JEntry	   *entries;
	int			n;
	int			cap;
} EcJbArray;

/* Low-level pieces, for writers of their own containers (src/ingest). */
extern int	EcJbPad(StringInfo b);
extern int	EcJbReserve(StringInfo b, int n);
extern void EcJbEntry(StringInfo b, int at, int i, JEntry meta, uint32 *total);

extern JEntry EcJbWriteValue(StringInfo b, const JsonbValue *v);
extern JEntry EcJbWriteObject(StringInfo b, EcJbPair *pairs, int n);
extern Jsonb *EcJbObjectJsonb(EcJbPair *pairs, int n);

extern void EcJbArrayInit(EcJbArray *a);
extern void EcJbArrayAddObject(EcJbArray *a, EcJbPair *pairs, int n);
extern JsonbValue EcJbArrayValue(EcJbArray *a);

/* Values for pairs. */
static inline JsonbValue
EcJbText(const char *s)
{
	JsonbValue	v;

	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	return v;
}

static inline JsonbValue
EcJbNumeric(Numeric n)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = n;
	return v;
}

static inline JsonbValue
EcJbNull(void)
{
	JsonbValue	v;

	v.type = jbvNull;
	return v;
}

static inline JsonbValue
EcJbContainer(Jsonb *j)
{
	JsonbValue	v;

	v.type = jbvBinary;
	v.val.binary.data = &j->root;
	v.val.binary.len = VARSIZE(j) - VARHDRSZ;
	return v;
}

#endif							/* EC_JSONB_WRITE_H */
