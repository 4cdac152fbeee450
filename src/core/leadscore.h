/*
 * leadscore.h - the reverse-mortgage (HECM) lead score, pure C
 *
 * A lead's score (0 to 100) says how likely its owner is to qualify for, and
 * want, a Home Equity Conversion Mortgage.  It is a weighted mean of factors
 * in [0, 1], each read off the lead:
 *
 *   age            youngest owner 62 or older (HECM rule); older scores higher,
 *                  because the principal limit grows with age: 0.6 at 62,
 *                  1.0 at 80 and over; unknown 0.3
 *   occupancy      owner-occupied principal residence (HECM rule): 1; unknown 0.5
 *   equity_share   equity / value: 0 at 40% or less, 1 at 80% or more (a HECM
 *                  pays off the existing mortgage first, from a principal limit
 *                  of roughly 40-60% of value); unknown 0
 *   equity_amount  equity / equity_amount_full, capped at 1; unknown 0
 *   years_owned    years / 20, capped at 1 (long ownership: fewer liens,
 *                  often free and clear); unknown 0
 *   email_verified, phone_verified   1 when verified, else 0
 *
 *   score = 100 * sum(weight_i * factor_i) / sum(weight_i), rounded to 0.01
 *
 * A lead that a HECM cannot serve scores 0 when require_eligible is set: the
 * youngest owner is known to be under min_age, the home is known not to be
 * owner-occupied, or equity is known to be zero or negative.
 *
 * The weights are data (ec.lead_score_weights, one default row and optional
 * rows per broker); this file only computes.  No postgres.h: buffers and
 * values in, a status code out.
 */
#ifndef EC_LEADSCORE_H
#define EC_LEADSCORE_H

#include <stdbool.h>

#define EC_SCORE_OK				0
#define EC_SCORE_BAD_WEIGHTS	1	/* negative, non-finite, or all zero */
#define EC_SCORE_BAD_INPUT		2	/* non-finite value or equity */

typedef struct EcScoreWeights
{
	double		age;
	double		occupancy;
	double		equity_share;
	double		equity_amount;
	double		years_owned;
	double		email_verified;
	double		phone_verified;
	double		equity_amount_full;	/* equity (USD) that earns the full factor */
	int			min_age;		/* HECM: 62 */
	bool		require_eligible;	/* score 0 when a HECM cannot serve the lead */
} EcScoreWeights;

typedef struct EcScoreInput
{
	bool		has_age;
	int			owner_age;
	int			owner_occupied;	/* 1 yes, 0 no, -1 unknown */
	bool		has_value;
	double		estimated_value;
	bool		has_equity;
	double		estimated_equity;
	bool		has_years;
	int			years_owned;
	bool		email_verified;
	bool		phone_verified;
} EcScoreInput;

/* The factors of one lead, each in [0, 1], and whether a HECM can serve it. */
typedef struct EcScoreFactors
{
	double		age;
	double		occupancy;
	double		equity_share;
	double		equity_amount;
	double		years_owned;
	double		email_verified;
	double		phone_verified;
	bool		eligible;
} EcScoreFactors;

/* The default weights (the ones ec.lead_score_weights ships with). */
extern void ec_score_default_weights(EcScoreWeights *w);

/* Checks weights: EC_SCORE_OK or EC_SCORE_BAD_WEIGHTS. */
extern int	ec_score_check_weights(const EcScoreWeights *w);

/*
 * Computes the factors and the score (0..100, rounded to two decimals) of
 * one lead.  factors may be NULL.  Returns EC_SCORE_OK, or an error code and
 * leaves *score at 0.
 */
extern int	ec_score_lead(const EcScoreInput *in, const EcScoreWeights *w,
						  EcScoreFactors *factors, double *score);

#endif							/* EC_LEADSCORE_H */
