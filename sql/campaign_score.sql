-- The HECM lead score: computed by the table on insert and on any change of
-- an input, weights as data (a default row and per-broker rows), rescoring.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS equity_connect CASCADE;
RESET client_min_messages;
SET extra_float_digits = 0;

INSERT INTO ec.brokers (id, name) VALUES (801, 'Score Broker A'), (802, 'Score Broker B');
-- the default weights
SELECT broker_id, age, occupancy, equity_share, equity_amount, years_owned, email_verified, phone_verified,
	   equity_amount_full, min_age, require_hecm_eligible FROM ec.lead_score_weights;

-- scored on insert; an explicit lead_score is replaced by the computed one
INSERT INTO ec.leads (id, email, email_verified, phone, phone_verified, owner_age, owner_occupied, estimated_value,
					  estimated_equity, years_owned, assigned_broker_id, lead_score) VALUES
	(8001, 'ideal@example.com', true, '+19415550001', true, 80, true, 500000, 450000, 25, 801, 1),
	(8002, 'young@example.com', true, NULL, false, 61, true, 500000, 450000, 25, 801, 99),
	(8003, 'rental@example.com', true, NULL, false, 75, false, 500000, 450000, 25, 801, 0),
	(8004, 'thin@example.com', true, NULL, false, 71, true, 500000, 200000, 10, 801, 0),
	(8005, 'unknown@example.com', false, NULL, false, NULL, NULL, NULL, NULL, NULL, 802, 0),
	(8006, 'underwater@example.com', true, NULL, false, 70, true, 300000, -20000, 3, 802, 0);
SELECT id, lead_score FROM ec.leads WHERE id BETWEEN 8001 AND 8006 ORDER BY lead_score DESC, id;
-- why a lead ranks where it does
SELECT jsonb_pretty(ec.lead_score_detail(l)) FROM ec.leads l WHERE id = 8004;

-- an input changes: the score follows (a broker editing owner_age, a verification result)
UPDATE ec.leads SET owner_age = 62 WHERE id = 8002;
UPDATE ec.leads SET phone = '+19415550005', phone_verified = true WHERE id = 8005;
SELECT id, lead_score FROM ec.leads WHERE id IN (8002, 8005) ORDER BY id;
-- other changes leave it alone
UPDATE ec.leads SET first_name = 'Ada' WHERE id = 8002;
SELECT lead_score FROM ec.leads WHERE id = 8002;
-- an input written without changing the score keeps the statement's other
-- changes (the row is not formed again); a score written by hand along with
-- an input is put back
UPDATE ec.leads SET owner_age = owner_age, first_name = 'Adele' WHERE id = 8002;
UPDATE ec.leads SET owner_age = owner_age, lead_score = 1 WHERE id = 8005;
SELECT id, first_name, lead_score, lead_score = ec.lead_score(l) AS as_computed FROM ec.leads l
 WHERE id IN (8002, 8005) ORDER BY id;
-- scores have two decimals, as numeric(6,2) keeps them
SELECT ec.lead_score_of(70, true, 400000, 201000, 10, false, false) AS a,
	   round(ec.lead_score_of(70, true, 400000, 201000, 10, false, false), 1) AS a_to_tenths,
	   scale(ec.lead_score_of(70, true, 400000, 201000, 10, false, false)) AS scale;

-- recomputed on upsert: ec.upsert_lead inserts and merges through the table
SELECT r ->> 'action' AS action FROM ec.upsert_lead('{"first_name": "Ida", "property_address": "18 Score St",
	"property_city": "Tampa", "property_state": "FL", "property_zip": "33606", "owner_age": 75, "owner_occupied": true,
	"estimated_value": 500000, "estimated_equity": 400000, "years_owned": 20, "email": "ida@example.com",
	"assigned_broker_id": 801}', 'generic') r;
SELECT lead_score FROM ec.leads WHERE email = 'ida@example.com';
SELECT r ->> 'action' AS action FROM ec.upsert_lead('{"property_address": "18 Score Street", "property_city": "Tampa",
	"property_state": "FL", "property_zip": "33606", "owner_age": 61, "email": "ida@example.com"}', 'generic') r;
SELECT owner_age, lead_score FROM ec.leads WHERE email = 'ida@example.com';
DELETE FROM ec.pipeline_events WHERE lead_id IN (SELECT id FROM ec.leads WHERE email = 'ida@example.com');
DELETE FROM ec.leads WHERE email = 'ida@example.com';

-- the same score for values not yet stored (NULL is unknown)
SELECT ec.lead_score_of(80, true, 500000, 450000, 25, true, true) AS ideal,
	   ec.lead_score_of(NULL, NULL, NULL, NULL, NULL, NULL, NULL) AS nothing_known,
	   ec.lead_score_of(61, true, 500000, 450000, 25, true, true) AS under_62,
	   ec.lead_score_of(70, true, 'NaN', 100, 5, true, false) AS not_a_number;

-- a broker tunes its own weights: only its leads move, after a rescore
INSERT INTO ec.lead_score_weights (broker_id, equity_share, equity_amount, email_verified) VALUES (802, 0, 0, 60);
SELECT ec.lead_score(l) AS live, lead_score AS stored FROM ec.leads l WHERE id = 8005;
SELECT ec.rescore_leads(802);
SELECT id, lead_score FROM ec.leads WHERE id BETWEEN 8001 AND 8006 ORDER BY id;
SELECT ec.rescore_leads();
-- the default changes: every broker without its own row follows
UPDATE ec.lead_score_weights SET require_hecm_eligible = false WHERE broker_id IS NULL;
SELECT ec.rescore_leads();
SELECT id, lead_score FROM ec.leads WHERE id IN (8002, 8003, 8006) ORDER BY id;
UPDATE ec.lead_score_weights SET require_hecm_eligible = true WHERE broker_id IS NULL;
SELECT ec.rescore_leads();
-- a broker's leads follow the broker when reassigned
UPDATE ec.leads SET assigned_broker_id = 801 WHERE id = 8005;
SELECT lead_score FROM ec.leads WHERE id = 8005;

-- a broker (API session) edits its lead and tunes its own weights; the score
-- uses every broker's weights whoever fired the trigger
UPDATE ec.brokers SET auth_user_id = '80100000-0000-0000-0000-000000000801' WHERE id = 801;
CREATE ROLE score_api;
GRANT ec_broker TO score_api;
SELECT ec.lead_score_of(70, true, 500000, 450000, 25, true, false, 802) AS broker_802_weights;
UPDATE ec.lead_score_weights SET age = age WHERE broker_id = 802;	-- every backend reloads
SET ROLE score_api;
SELECT set_config('request.jwt.claims', '{"sub":"80100000-0000-0000-0000-000000000801"}', false);
SELECT broker_id, age FROM ec.lead_score_weights ORDER BY broker_id NULLS FIRST;
UPDATE ec.leads SET owner_age = 66 WHERE id = 8001;
RESET ROLE;
-- the cache the broker's statement loaded holds broker 802's weights too
SELECT ec.lead_score_of(70, true, 500000, 450000, 25, true, false, 802) AS broker_802_weights;
SET ROLE score_api;
INSERT INTO ec.lead_score_weights (broker_id, age) VALUES (801, 50);
UPDATE ec.lead_score_weights SET age = 40 WHERE broker_id IS NULL;
INSERT INTO ec.lead_score_weights (broker_id, age) VALUES (802, 1);
SELECT broker_id, age FROM ec.lead_score_weights ORDER BY broker_id NULLS FIRST;
RESET ROLE;
SELECT id, lead_score FROM ec.leads WHERE id IN (8001, 8005, 8006) ORDER BY id;
SELECT set_config('request.jwt.claims', '', false);
DELETE FROM ec.lead_score_weights WHERE broker_id = 801;
DROP OWNED BY score_api;
DROP ROLE score_api;

-- weights that make no sense are refused
\set VERBOSITY terse
UPDATE ec.lead_score_weights SET age = -1 WHERE broker_id IS NULL;
UPDATE ec.lead_score_weights SET age = 0, occupancy = 0, equity_share = 0, equity_amount = 0, years_owned = 0,
	email_verified = 0, phone_verified = 0 WHERE broker_id = 802;
INSERT INTO ec.lead_score_weights (broker_id) VALUES (NULL);
UPDATE ec.lead_score_weights SET equity_amount_full = 0 WHERE broker_id IS NULL;
-- the trigger functions refuse to be called any other way
SELECT ec.leads_set_score();
-- a deleted broker takes its weights along
DELETE FROM ec.leads WHERE id BETWEEN 8001 AND 8006;
DELETE FROM ec.brokers WHERE id IN (801, 802);
SELECT count(*) FROM ec.lead_score_weights;
