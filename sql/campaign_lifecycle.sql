-- The lead lifecycle trigger (C, transitions cached per backend): the moves
-- of ec.campaign_status_transitions pass, others are refused with the
-- lifecycle's error; a change of the table takes effect at once (in this
-- session after the statement, in others when it commits); becoming active
-- dates the lead.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS equity_connect CASCADE;
RESET client_min_messages;
\set VERBOSITY default

BEGIN;
INSERT INTO ec.leads (id, email, campaign_status) VALUES (870001, 'life1@example.com', 'new'),
	(870002, 'life2@example.com', 'queued');
-- the cache is loaded by the first move
UPDATE ec.leads SET campaign_status = 'queued' WHERE id = 870001;
-- refused: the error names the lead and both states, with a hint
SAVEPOINT s;
UPDATE ec.leads SET campaign_status = 'converted' WHERE id = 870001;
ROLLBACK TO s;
-- allow it: the next statement sees the new row of the table
INSERT INTO ec.campaign_status_transitions VALUES ('queued', 'converted');
UPDATE ec.leads SET campaign_status = 'converted' WHERE id = 870001;
-- and take it back: refused again
DELETE FROM ec.campaign_status_transitions WHERE from_status = 'queued' AND to_status = 'converted';
SAVEPOINT s;
UPDATE ec.leads SET campaign_status = 'converted' WHERE id = 870002;
ROLLBACK TO s;
-- an UPDATE of the table (not only INSERT/DELETE) is seen too
UPDATE ec.campaign_status_transitions SET to_status = 'replied' WHERE from_status = 'queued' AND to_status = 'active';
SAVEPOINT s;
UPDATE ec.leads SET campaign_status = 'active' WHERE id = 870002;
ROLLBACK TO s;
UPDATE ec.leads SET campaign_status = 'replied' WHERE id = 870002;
SELECT id, campaign_status, added_to_campaign_at IS NULL AS undated FROM ec.leads WHERE id IN (870001, 870002) ORDER BY id;
ROLLBACK;

-- a rolled-back change of the table is forgotten with it
BEGIN;
INSERT INTO ec.leads (id, email, campaign_status) VALUES (870003, 'life3@example.com', 'new');
COMMIT;
BEGIN;
DELETE FROM ec.campaign_status_transitions WHERE from_status = 'new' AND to_status = 'queued';
SAVEPOINT s;
UPDATE ec.leads SET campaign_status = 'queued' WHERE id = 870003;
ROLLBACK TO s;
ROLLBACK;
UPDATE ec.leads SET campaign_status = 'queued' WHERE id = 870003;

-- becoming active: dated now() on UPDATE (even over a date given), and on an
-- INSERT only when no date is given
BEGIN;
UPDATE ec.leads SET campaign_status = 'active', added_to_campaign_at = '2001-01-01' WHERE id = 870003;
SELECT added_to_campaign_at = now() AS dated_now FROM ec.leads WHERE id = 870003;
INSERT INTO ec.leads (id, email, campaign_status) VALUES (870004, 'life4@example.com', 'active');
INSERT INTO ec.leads (id, email, campaign_status, added_to_campaign_at)
	VALUES (870005, 'life5@example.com', 'active', '2026-01-02 03:04:05+00');
SELECT id, added_to_campaign_at = now() AS dated_now, added_to_campaign_at = '2026-01-02 03:04:05+00' AS kept
FROM ec.leads WHERE id IN (870004, 870005) ORDER BY id;
-- a status left alone fires nothing (the WHEN clause): the date stays
UPDATE ec.leads SET first_name = 'Kept' WHERE id = 870005;
SELECT added_to_campaign_at = '2026-01-02 03:04:05+00' AS kept FROM ec.leads WHERE id = 870005;
ROLLBACK;

-- the trigger function refuses to run as anything else
SELECT ec.set_added_to_campaign_at();
CREATE TEMP TABLE life_wrong (id bigint);
CREATE TRIGGER life_wrong AFTER INSERT ON life_wrong FOR EACH ROW EXECUTE FUNCTION ec.set_added_to_campaign_at();
INSERT INTO life_wrong VALUES (1);
DROP TABLE life_wrong;
DELETE FROM ec.leads WHERE id = 870003;
