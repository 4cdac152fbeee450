/*
 * test_leadscore.c - unit tests of src/core/leadscore.c, the HECM lead score
 *
 * Boundaries of each factor (age 61/62/80, equity share 40%/80%, years 20),
 * the eligibility gate, weights that do not add up, and the extremes.
 */
#include "unit.h"

#include <math.h>

#include "core/leadscore.h"

#define CHECK_NEAR(got, want) CHECK(fabs((got) - (want)) < 0.0001)

/* A lead with everything known and strong. */
static EcScoreInput
strong_lead(void)
{
	EcScoreInput in;

	in.has_age = true;
	in.owner_age = 80;
	in.owner_occupied = 1;
	in.has_value = true;
	in.estimated_value = 500000;
	in.has_equity = true;
	in.estimated_equity = 450000;
	in.has_years = true;
	in.years_owned = 25;
	in.email_verified = true;
	in.phone_verified = true;
	return in;
}

static double
score_of(const EcScoreInput *in, const EcScoreWeights *w)
{
	double		s = -1;

	CHECK(ec_score_lead(in, w, NULL, &s) == EC_SCORE_OK);
	return s;
}

static void
test_extremes(void)
{
	EcScoreWeights w;
	EcScoreInput in = strong_lead();
	EcScoreInput none = {0};

	ec_score_default_weights(&w);
	CHECK(ec_score_check_weights(&w) == EC_SCORE_OK);
	CHECK_NEAR(score_of(&in, &w), 100.0);

	/* nothing known: age 0.3*25 + occupancy 0.5*15 = 15 */
	none.owner_occupied = -1;
	CHECK_NEAR(score_of(&none, &w), 15.0);
}

static void
test_age(void)
{
	EcScoreWeights w;
	EcScoreInput in = strong_lead();
	EcScoreFactors f;
	double		s;

	ec_score_default_weights(&w);
	in.owner_age = 62;
	CHECK(ec_score_lead(&in, &w, &f, &s) == EC_SCORE_OK);
	CHECK_NEAR(f.age, 0.6);
	CHECK_NEAR(s, 90.0);		/* 100 - 0.4 * 25 */
	in.owner_age = 71;
	CHECK(ec_score_lead(&in, &w, &f, &s) == EC_SCORE_OK);
	CHECK_NEAR(f.age, 0.8);
	in.owner_age = 95;
	CHECK(ec_score_lead(&in, &w, &f, &s) == EC_SCORE_OK);
	CHECK_NEAR(f.age, 1.0);
	/* under 62: a HECM cannot serve the lead */
	in.owner_age = 61;
	CHECK(ec_score_lead(&in, &w, &f, &s) == EC_SCORE_OK);
	CHECK(!f.eligible);
	CHECK_NEAR(s, 0.0);
	/* unless the broker turned the gate off */
	w.require_eligible = false;
	CHECK_NEAR(score_of(&in, &w), 75.0);
}

static void
test_occupancy_and_equity(void)
{
	EcScoreWeights w;
	EcScoreInput in = strong_lead();
	EcScoreFactors f;
	double		s;

	ec_score_default_weights(&w);
	in.owner_occupied = 0;
	CHECK_NEAR(score_of(&in, &w), 0.0);
	in.owner_occupied = -1;
	CHECK_NEAR(score_of(&in, &w), 92.5);

	in = strong_lead();
	in.estimated_equity = 200000;	/* 40%: no share credit, half the amount */
	CHECK(ec_score_lead(&in, &w, &f, &s) == EC_SCORE_OK);
	CHECK_NEAR(f.equity_share, 0.0);
	CHECK_NEAR(f.equity_amount, 0.5);
	CHECK_NEAR(s, 67.5);
	in.estimated_equity = 300000;	/* 60%: half the share credit */
	CHECK(ec_score_lead(&in, &w, &f, &s) == EC_SCORE_OK);
	CHECK_NEAR(f.equity_share, 0.5);
	in.estimated_equity = -5000;	/* under water */
	CHECK(ec_score_lead(&in, &w, &f, &s) == EC_SCORE_OK);
	CHECK(!f.eligible);
	CHECK_NEAR(s, 0.0);
	in.has_value = false;
	in.estimated_equity = 400000;	/* amount known, share unknown */
	CHECK(ec_score_lead(&in, &w, &f, &s) == EC_SCORE_OK);
	CHECK_NEAR(f.equity_share, 0.0);
	CHECK_NEAR(f.equity_amount, 1.0);
	in.has_value = true;
	in.estimated_value = 0;		/* value 0: no share, no division */
	CHECK(ec_score_lead(&in, &w, &f, &s) == EC_SCORE_OK);
	CHECK_NEAR(f.equity_share, 0.0);
	in.estimated_value = NAN;
	CHECK(ec_score_lead(&in, &w, &f, &s) == EC_SCORE_BAD_INPUT);
	CHECK_NEAR(s, 0.0);
}

static void
test_years_and_contacts(void)
{
	EcScoreWeights w;
	EcScoreInput in = strong_lead();

	ec_score_default_weights(&w);
	in.years_owned = 10;
	CHECK_NEAR(score_of(&in, &w), 95.0);
	in.has_years = false;
	CHECK_NEAR(score_of(&in, &w), 90.0);
	in.email_verified = false;
	in.phone_verified = false;
	CHECK_NEAR(score_of(&in, &w), 80.0);
}

static void
test_weights(void)
{
	EcScoreWeights w;
	EcScoreInput in = strong_lead();
	double		s = 7;

	ec_score_default_weights(&w);
	w.age = -1;
	CHECK(ec_score_check_weights(&w) == EC_SCORE_BAD_WEIGHTS);
	CHECK(ec_score_lead(&in, &w, NULL, &s) == EC_SCORE_BAD_WEIGHTS);
	CHECK_NEAR(s, 0.0);

	ec_score_default_weights(&w);
	w.age = w.occupancy = w.equity_share = w.equity_amount = 0;
	w.years_owned = w.email_verified = w.phone_verified = 0;
	CHECK(ec_score_check_weights(&w) == EC_SCORE_BAD_WEIGHTS);

	ec_score_default_weights(&w);
	w.equity_amount_full = 0;
	CHECK(ec_score_check_weights(&w) == EC_SCORE_BAD_WEIGHTS);
	w.equity_amount_full = INFINITY;
	CHECK(ec_score_check_weights(&w) == EC_SCORE_BAD_WEIGHTS);

	/* only equity counts: the score is the equity share factor */
	ec_score_default_weights(&w);
	w.age = w.occupancy = w.equity_amount = w.years_owned = 0;
	w.email_verified = w.phone_verified = 0;
	in.estimated_equity = 300000;
	CHECK_NEAR(score_of(&in, &w), 50.0);

	/* scores round to two decimals: 1/3 */
	ec_score_default_weights(&w);
	w.age = w.occupancy = w.equity_share = w.equity_amount = 0;
	w.email_verified = w.phone_verified = 0;
	w.years_owned = 3;
	in = strong_lead();
	in.years_owned = 6;			/* 0.3 */
	w.email_verified = 6;		/* (3 * 0.3 + 6) / 9 = 76.666.. */
	CHECK_NEAR(score_of(&in, &w), 76.67);
}

int
main(void)
{
	test_extremes();
	test_age();
	test_occupancy_and_equity();
	test_years_and_contacts();
	test_weights();
	UNIT_DONE();
}
