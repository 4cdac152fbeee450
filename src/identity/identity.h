/*-------------------------------------------------------------------------
 *
 * identity.h
 *		Lead identity: SQL wrappers of the address normalizer and the
 *		upsert cascade (MAK -> county-scoped APN -> addr_hash).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EC_IDENTITY_H
#define EC_IDENTITY_H

#include "core/address.h"
#include "access/htup_details.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

extern void IdentityInit(void);
extern void IdentityNextCallLogsBatch(bool on);

/*
 * Normalize an address given as text datums (NULL allowed), converting from
 * the database encoding.  Returns the status; ereports nothing.
 */
extern EcAddrStatus IdentityNormalize(text *line1, text *line2, text *city,
									  text *state, text *zip, EcAddress *out);

/* ereport for TOO_LONG and BAD_UTF8; returns false for EMPTY */
extern bool IdentityCheckAddress(EcAddrStatus status);

/* verification verdicts of provider codes (codes.c) */
typedef enum EcVerdict
{
	EC_VERDICT_NONE = 0,
	EC_VERDICT_UNKNOWN,
	EC_VERDICT_VALID,
	EC_VERDICT_INVALID
} EcVerdict;

typedef enum EcCodeKind
{
	EC_CODE_OTHER = 0,
	EC_CODE_EMAIL,
	EC_CODE_PHONE
} EcCodeKind;

/* the kind and verdict of one provider code; false when unknown */
extern bool CodeLookup(const char *provider, const char *code,
					   EcCodeKind *kind, EcVerdict *verdict);
extern void CodesInit(void);

/*
 * Probing ec.leads' unique key indexes (lookup.c).  Open answers NULL when
 * the lookup must go through SQL (row security, no SELECT privilege, an
 * index not as expected).  Keys: 0 mak, 1 apn_key, 2 addr_hash.  Find
 * copies the row's id, xmin, ctid and the named columns (types as given;
 * an enum column asked for as text comes as its label).
 */
#define EC_PROBE_NKEYS 3
typedef struct EcLeadProbe EcLeadProbe;
extern EcLeadProbe *EcLeadProbeOpen(int ncols, const char *const *names, const Oid *types);
extern bool EcLeadProbeFind(EcLeadProbe *p, int key, Datum value, int64 *id, TransactionId *xmin,
							ItemPointer tid, Datum *values, bool *nulls);
extern void EcLeadProbeClose(EcLeadProbe *p);

/*
 * Where named columns are in ec.leads, found once per session and row
 * layout (the type cache's identifier of the layout, which any ALTER TABLE
 * changes): thirty name lookups per call cost as much as a probe.  attno
 * per column; enum_type the enum of a column given as text, else
 * InvalidOid; usable when every column is there with the type given and
 * "id" is a bigint.  EcLeadLayoutGet answers true when it (re)resolved l.
 */
typedef struct EcLeadLayout
{
	Oid			relid;
	uint64		layout;
	int			ncols;
	const char *const *names;	/* the caller's (static) arrays */
	const Oid  *types;
	AttrNumber	attno[MaxHeapAttributeNumber];
	Oid			enum_type[MaxHeapAttributeNumber];
	AttrNumber	id_att;
	bool		usable;
} EcLeadLayout;

extern bool EcLeadLayoutGet(EcLeadLayout *l, Relation rel, int ncols, const char *const *names,
							const Oid *types);

/*
 * Merges written into the versions of leads that were read (leadwrite.c),
 * as one "UPDATE ec.leads SET <set columns>, updated_at = now() WHERE ctid
 * = tid AND id = id AND xmin = xmin" statement writes them.  Begin answers
 * NULL when the caller must run its UPDATE (row security, privileges, ...):
 * nothing was done.  Row: 1 written; 0 that version is no longer the
 * lead's, or a BEFORE trigger skipped it.  End ends the statement (AFTER
 * triggers).  An error on the way is the caller's to roll back.
 */
typedef struct EcLeadUpdater EcLeadUpdater;
extern EcLeadUpdater *EcLeadUpdateBegin(int ncols, const char *const *names, const Oid *types,
										const bool *set);
extern int	EcLeadUpdateRow(EcLeadUpdater *u, const Datum *values, const bool *nulls,
							int64 id, TransactionId xmin, ItemPointer tid);
extern void EcLeadUpdateEnd(EcLeadUpdater *u);

#endif							/* EC_IDENTITY_H */
