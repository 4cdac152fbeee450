-- Row security on plain PostgreSQL: a role granted ec_broker, identified by
-- request.jwt.claims as PostgREST sets it, sees and writes only its own leads.
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE ROLE rls_api LOGIN;
GRANT ec_broker TO rls_api;
CREATE ROLE rls_nobody LOGIN;
INSERT INTO ec.brokers (id, name, auth_user_id) VALUES
	(101, 'Broker One', '11111111-1111-1111-1111-111111111111'),
	(102, 'Broker Two', '22222222-2222-2222-2222-222222222222');
INSERT INTO ec.leads (id, first_name, assigned_broker_id, property_state) VALUES
	(1001, 'Ada', 101, 'CA'), (1002, 'Bea', 101, 'CA'), (1003, 'Cy', 102, 'FL');
SELECT setval(pg_get_serial_sequence('ec.leads', 'id'), 5000) > 0 AS ok;
INSERT INTO ec.calls (lead_id, broker_id, vapi_call_id) VALUES (1001, 101, 'call-1'), (1003, 102, 'call-3');

SET ROLE rls_api;
-- no claims: nothing
SELECT count(*) FROM ec.leads;
SELECT set_config('request.jwt.claims', '{"sub":"11111111-1111-1111-1111-111111111111","role":"authenticated"}', false);
SELECT ec.current_broker_id();
SELECT id, first_name FROM ec.leads ORDER BY id;
SELECT vapi_call_id FROM ec.calls;
SELECT name FROM ec.brokers;
SELECT broker_id, campaign_status, leads FROM ec.broker_funnel;
-- the other broker's lead cannot be touched or taken
UPDATE ec.leads SET first_name = 'X' WHERE id = 1003;
UPDATE ec.leads SET first_name = 'Adah' WHERE id = 1001;
UPDATE ec.leads SET assigned_broker_id = 102 WHERE id = 1001;
INSERT INTO ec.leads (first_name, assigned_broker_id) VALUES ('Sneaky', 102);
INSERT INTO ec.leads (first_name, assigned_broker_id) VALUES ('Dee', 101);
SELECT first_name FROM ec.leads ORDER BY id;
-- nor can consent or verification be set by a broker
UPDATE ec.leads SET consent = true, consented_at = now(), consent_method = 'form' WHERE id = 1001;
UPDATE ec.leads SET email_verified = true WHERE id = 1001;
DELETE FROM ec.leads WHERE id = 1001;
SELECT * FROM ec.mv_contactable_leads;
SELECT * FROM ec.leads_staging;
-- the older per-claim setting identifies the broker too
SELECT set_config('request.jwt.claims', '', false);
SELECT set_config('request.jwt.claim.sub', '22222222-2222-2222-2222-222222222222', false);
SELECT id, first_name FROM ec.leads ORDER BY id;
RESET ROLE;

-- a role without ec_broker has nothing at all
SET ROLE rls_nobody;
SELECT count(*) FROM ec.leads;
SELECT ec.current_broker_id();
RESET ROLE;
SELECT set_config('request.jwt.claim.sub', '', false);
SELECT id, first_name, assigned_broker_id FROM ec.leads ORDER BY id;
DROP OWNED BY rls_api, rls_nobody;
DROP ROLE rls_api;
DROP ROLE rls_nobody;
