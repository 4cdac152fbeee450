/*
 * leadscore.c - the reverse-mortgage (HECM) lead score (see leadscore.h)
 */
#include "core/leadscore.h"

#include <math.h>				/* isfinite (a macro: no libm) */
#include <stddef.h>

/* Full credit for age at this age (principal limit factors flatten out). */
#define EC_SCORE_AGE_FULL	80
/* Equity share: no credit at or below LOW, full credit at or above HIGH. */
#define EC_SCORE_SHARE_LOW	0.40
#define EC_SCORE_SHARE_HIGH	0.80
/* Years owned that earn the full factor. */
#define EC_SCORE_YEARS_FULL	20.0

static double
clamp01(double x)
{
	if (x < 0.0)
		return 0.0;
	if (x > 1.0)
		return 1.0;
	return x;
}

void
ec_score_default_weights(EcScoreWeights *w)
{
	w->age = 25;
	w->occupancy = 15;
	w->equity_share = 25;
	w->equity_amount = 15;
	w->years_owned = 10;
	w->email_verified = 5;
	w->phone_verified = 5;
	w->equity_amount_full = 400000;
	w->min_age = 62;
	w->require_eligible = true;
}

int
ec_score_check_weights(const EcScoreWeights *w)
{
	const double parts[] = {w->age, w->occupancy, w->equity_share, w->equity_amount,
	w->years_owned, w->email_verified, w->phone_verified};
	double		sum = 0;
	size_t		i;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
	{
		if (!isfinite(parts[i]) || parts[i] < 0)
			return EC_SCORE_BAD_WEIGHTS;
		sum += parts[i];
	}
	if (!(sum > 0) || !isfinite(sum))
		return EC_SCORE_BAD_WEIGHTS;
	if (!isfinite(w->equity_amount_full) || !(w->equity_amount_full > 0))
		return EC_SCORE_BAD_WEIGHTS;
	if (w->min_age < 0 || w->min_age > 120)
		return EC_SCORE_BAD_WEIGHTS;
	return EC_SCORE_OK;
}

int
ec_score_lead(const EcScoreInput *in, const EcScoreWeights *w,
			  EcScoreFactors *factors, double *score)
{
	EcScoreFactors f;
	double		sum,
				total;
	int			rc;

	*score = 0;
	rc = ec_score_check_weights(w);
	if (rc != EC_SCORE_OK)
		return rc;
	if ((in->has_value && !isfinite(in->estimated_value)) ||
		(in->has_equity && !isfinite(in->estimated_equity)))
		return EC_SCORE_BAD_INPUT;

	f.eligible = true;

	/* age of the youngest owner */
	if (!in->has_age)
		f.age = 0.3;
	else if (in->owner_age < w->min_age)
	{
		f.age = 0;
		f.eligible = false;
	}
	else
	{
		int			span = EC_SCORE_AGE_FULL - w->min_age;

		f.age = span <= 0 ? 1.0 :
			0.6 + 0.4 * clamp01((double) (in->owner_age - w->min_age) / span);
	}

	/* principal residence */
	if (in->owner_occupied > 0)
		f.occupancy = 1;
	else if (in->owner_occupied == 0)
	{
		f.occupancy = 0;
		f.eligible = false;
	}
	else
		f.occupancy = 0.5;

	/* equity, as a share of value and as an amount */
	f.equity_share = 0;
	f.equity_amount = 0;
	if (in->has_equity)
	{
		if (in->estimated_equity <= 0)
			f.eligible = false;
		else
		{
			f.equity_amount = clamp01(in->estimated_equity / w->equity_amount_full);
			if (in->has_value && in->estimated_value > 0)
				f.equity_share = clamp01((in->estimated_equity / in->estimated_value - EC_SCORE_SHARE_LOW) /
										 (EC_SCORE_SHARE_HIGH - EC_SCORE_SHARE_LOW));
		}
	}

	f.years_owned = in->has_years ? clamp01(in->years_owned / EC_SCORE_YEARS_FULL) : 0;
	f.email_verified = in->email_verified ? 1 : 0;
	f.phone_verified = in->phone_verified ? 1 : 0;

	total = w->age + w->occupancy + w->equity_share + w->equity_amount +
		w->years_owned + w->email_verified + w->phone_verified;
	sum = w->age * f.age + w->occupancy * f.occupancy +
		w->equity_share * f.equity_share + w->equity_amount * f.equity_amount +
		w->years_owned * f.years_owned + w->email_verified * f.email_verified +
		w->phone_verified * f.phone_verified;

	if (factors != NULL)
		*factors = f;
	if (w->require_eligible && !f.eligible)
		*score = 0;
	else
		*score = (double) (long long) (10000.0 * sum / total + 0.5) / 100.0;
	if (*score > 100)
		*score = 100;
	return EC_SCORE_OK;
}
