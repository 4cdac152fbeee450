/*
 * usps_tables.h - static lookup tables from USPS Publication 28.
 *
 * Pure C (no postgres.h).  The data lives in usps_tables.c; every table is
 * sorted by key in strcmp() order so that the lookups can bsearch it.
 */
#ifndef EC_USPS_TABLES_H
#define EC_USPS_TABLES_H

#include <stddef.h>

typedef struct EcWordMap
{
	const char *word;			/* upper-case spelling, words separated by
								 * one space */
	const char *std;			/* standard form */
} EcWordMap;

typedef struct EcUnitDesignator
{
	const char *word;			/* upper-case spelling */
	const char *std;			/* Publication 28 approved abbreviation */
	int			ranged;			/* 1: requires a secondary range (APT 4) */
} EcUnitDesignator;

extern const EcWordMap ec_usps_suffixes[];
extern const size_t ec_usps_suffixes_count;
extern const EcUnitDesignator ec_usps_units[];
extern const size_t ec_usps_units_count;
extern const EcWordMap ec_usps_states[];
extern const size_t ec_usps_states_count;
extern const EcWordMap ec_state_fips[];
extern const size_t ec_state_fips_count;

/*
 * Look up a word of len bytes (not NUL-terminated) in a sorted EcWordMap;
 * returns the standard form or NULL.
 */
extern const char *EcWordMapLookup(const EcWordMap *map, size_t count,
								   const char *word, size_t len);
extern const EcUnitDesignator *EcUnitLookup(const char *word, size_t len);

#endif							/* EC_USPS_TABLES_H */
