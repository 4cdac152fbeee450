/*-------------------------------------------------------------------------
 *
 * jsonb_write.c
 *		jsonb written in its binary form directly (src/common/jsonb_write.h).
 *
 * The layout, as jsonb_util.c's convertJsonb* functions write it: a
 * container is int-aligned, and the padding before it counts as part of it.
 * Its header holds the count and the kind (JB_FOBJECT, JB_FARRAY); then one
 * JEntry per element (an object's keys first, then its values), each a
 * length, or every JB_OFFSET_STRIDE'th the end offset of its data; then the
 * data: a string's bytes, a numeric int-aligned with its varlena header, a
 * bool or a null nothing, a container as above.  An object's keys are
 * sorted as jsonb sorts them: shorter first, then bytewise.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/numeric.h"

#include "common/jsonb_write.h"

/* Pads b to an int boundary; returns the padding's length. */
int
EcJbPad(StringInfo b)
{
	int			pad = INTALIGN(b->len) - b->len;

	if (pad > 0)
		appendBinaryStringInfo(b, "\0\0\0", pad);
	return pad;
}

/* Room for n JEntries; returns where they go. */
int
EcJbReserve(StringInfo b, int n)
{
	int			off = b->len;

	enlargeStringInfo(b, (int) sizeof(JEntry) * n);
	memset(b->data + off, 0, sizeof(JEntry) * n);
	b->len += (int) sizeof(JEntry) * n;
	return off;
}

static void
CheckTotal(uint64 total)
{
	if (total > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb elements exceeds the maximum of %u bytes",
						JENTRY_OFFLENMASK)));
}

/* The i'th JEntry of the container whose JEntries are at b + at. */
void
EcJbEntry(StringInfo b, int at, int i, JEntry meta, uint32 *total)
{
	CheckTotal((uint64) *total + JBE_OFFLENFLD(meta));
	*total += JBE_OFFLENFLD(meta);
	if ((i % JB_OFFSET_STRIDE) == 0)
		meta = (meta & JENTRY_TYPEMASK) | *total | JENTRY_HAS_OFF;
	memcpy(b->data + at + sizeof(JEntry) * i, &meta, sizeof(JEntry));
}

/* An array of scalars. */
static JEntry
WriteArray(StringInfo b, const JsonbValue *v)
{
	int			base = b->len;
	int			n = v->val.array.nElems;
	uint32		header = (uint32) n | JB_FARRAY;
	uint32		total = 0;
	int			at;
	int			i;

	EcJbPad(b);
	appendBinaryStringInfo(b, (const char *) &header, sizeof(header));
	at = EcJbReserve(b, n);
	for (i = 0; i < n; i++)
	{
		if (!IsAJsonbScalar(&v->val.array.elems[i]))
			elog(ERROR, "only scalars are written as array elements");
		EcJbEntry(b, at, i, EcJbWriteValue(b, &v->val.array.elems[i]), &total);
	}
	return JENTRY_ISCONTAINER | (uint32) (b->len - base);
}

/* One value; returns its JEntry (a length, not yet an offset). */
JEntry
EcJbWriteValue(StringInfo b, const JsonbValue *v)
{
	int			pad;

	switch (v->type)
	{
		case jbvNull:
			return JENTRY_ISNULL;
		case jbvBool:
			return v->val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE;
		case jbvString:
			appendBinaryStringInfo(b, v->val.string.val, v->val.string.len);
			return (JEntry) v->val.string.len;
		case jbvNumeric:
			{
				int			len = VARSIZE_ANY(v->val.numeric);

				pad = EcJbPad(b);
				appendBinaryStringInfo(b, (const char *) v->val.numeric, len);
				return JENTRY_ISNUMERIC | (uint32) (pad + len);
			}
		case jbvArray:
			return WriteArray(b, v);
		case jbvBinary:
			if (JsonContainerIsScalar(v->val.binary.data))
				elog(ERROR, "a scalar container cannot be written as a value");
			pad = EcJbPad(b);
			appendBinaryStringInfo(b, (const char *) v->val.binary.data, v->val.binary.len);
			return JENTRY_ISCONTAINER | (uint32) (pad + v->val.binary.len);
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return 0;					/* keep compiler quiet */
}

/* jsonb's key order: shorter first, then bytewise */
static int
KeyCmp(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/* Appends an object container to b; returns its JEntry. */
JEntry
EcJbWriteObject(StringInfo b, EcJbPair *pairs, int n)
{
	int			base = b->len;
	uint32		header = (uint32) n | JB_FOBJECT;
	uint32		total = 0;
	int			few[16];
	int		   *lens = n <= (int) lengthof(few) ? few : palloc(sizeof(int) * n);
	int			at;
	int			i,
				j;

	for (i = 0; i < n; i++)
		lens[i] = strlen(pairs[i].key);
	/* a handful of keys: insertion sort */
	for (i = 1; i < n; i++)
	{
		EcJbPair	p = pairs[i];
		int			len = lens[i];

		for (j = i; j > 0 && KeyCmp(pairs[j - 1].key, lens[j - 1], p.key, len) > 0; j--)
		{
			pairs[j] = pairs[j - 1];
			lens[j] = lens[j - 1];
		}
		pairs[j] = p;
		lens[j] = len;
	}
	for (i = 1; i < n; i++)
	{
		if (KeyCmp(pairs[i - 1].key, lens[i - 1], pairs[i].key, lens[i]) == 0)
			elog(ERROR, "duplicate key \"%s\" in a written jsonb object", pairs[i].key);
	}

	EcJbPad(b);
	appendBinaryStringInfo(b, (const char *) &header, sizeof(header));
	at = EcJbReserve(b, 2 * n);
	for (i = 0; i < n; i++)
	{
		appendBinaryStringInfo(b, pairs[i].key, lens[i]);
		EcJbEntry(b, at, i, (JEntry) lens[i], &total);
	}
	for (i = 0; i < n; i++)
		EcJbEntry(b, at, n + i, EcJbWriteValue(b, &pairs[i].value), &total);
	if (lens != few)
		pfree(lens);
	CheckTotal((uint64) (b->len - base));
	return JENTRY_ISCONTAINER | (uint32) (b->len - base);
}

/* An object as a jsonb datum. */
Jsonb *
EcJbObjectJsonb(EcJbPair *pairs, int n)
{
	StringInfoData b;

	initStringInfo(&b);
	b.len = VARHDRSZ;			/* the varlena header, set at the end */
	(void) EcJbWriteObject(&b, pairs, n);
	SET_VARSIZE(b.data, b.len);
	return (Jsonb *) b.data;
}

void
EcJbArrayInit(EcJbArray *a)
{
	initStringInfo(&a->data);
	a->cap = 64;
	a->n = 0;
	a->entries = palloc(sizeof(JEntry) * a->cap);
}

/* One object more at the end of the array. */
void
EcJbArrayAddObject(EcJbArray *a, EcJbPair *pairs, int n)
{
	int			start = a->data.len;
	JEntry		meta;

	if (a->n == a->cap)
	{
		a->cap *= 2;
		a->entries = repalloc_huge(a->entries, sizeof(JEntry) * a->cap);
	}
	/* the data area starts int-aligned, so its offsets align as the array's */
	meta = EcJbWriteObject(&a->data, pairs, n);
	CheckTotal((uint64) a->data.len);
	/* an end offset every JB_OFFSET_STRIDE'th element, else a length */
	if ((a->n % JB_OFFSET_STRIDE) == 0)
		a->entries[a->n] = JENTRY_ISCONTAINER | JENTRY_HAS_OFF | (uint32) a->data.len;
	else
		a->entries[a->n] = JENTRY_ISCONTAINER | (uint32) (a->data.len - start);
	Assert(JBE_OFFLENFLD(meta) == (uint32) (a->data.len - start));
	(void) meta;
	a->n++;
}

/*
 * The array as a container value (jbvBinary) for an outer object; the array
 * is consumed.
 */
JsonbValue
EcJbArrayValue(EcJbArray *a)
{
	StringInfoData b;
	uint32		header = (uint32) a->n | JB_FARRAY;
	JsonbValue	v;

	initStringInfo(&b);
	enlargeStringInfo(&b, sizeof(header) + sizeof(JEntry) * a->n + a->data.len);
	appendBinaryStringInfo(&b, (const char *) &header, sizeof(header));
	appendBinaryStringInfo(&b, (const char *) a->entries, sizeof(JEntry) * a->n);
	appendBinaryStringInfo(&b, a->data.data, a->data.len);
	pfree(a->data.data);
	pfree(a->entries);
	a->data.data = NULL;
	a->entries = NULL;
	v.type = jbvBinary;
	v.val.binary.data = (JsonbContainer *) b.data;
	v.val.binary.len = b.len;
	return v;
}
