-- Lead identity, part 6: the CHECK constraints of ec.leads through the kept
-- writers (src/common/bulk_insert.c, EcConstraintsCheck). leads_values_check
-- is run with the row's values instead of a composite of the row; every
-- other CHECK and NOT NULL as the executor runs them, in the executor's
-- order, with the executor's errors. Each case runs twice: under READ
-- COMMITTED (the kept writers) and under SERIALIZABLE (the SQL statements
-- they stand for); the two answers must be the same.
\set VERBOSITY terse
CREATE TABLE rc_setting (what text PRIMARY KEY, value text);
-- a BEFORE trigger that writes what rc_setting says into the row
CREATE FUNCTION rc_spoil() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	s text;
BEGIN
	IF NEW.property_address NOT LIKE '% ROWCHECK WAY' THEN
		RETURN NEW;
	END IF;
	SELECT value INTO s FROM rc_setting WHERE what = 'email';
	IF FOUND THEN NEW.email := s; END IF;
	SELECT value INTO s FROM rc_setting WHERE what = 'zip';
	IF FOUND THEN NEW.property_zip := s; END IF;
	SELECT value INTO s FROM rc_setting WHERE what = 'emails';
	IF FOUND THEN NEW.emails := NULL; END IF;
	SELECT value INTO s FROM rc_setting WHERE what = 'age';
	IF FOUND THEN NEW.owner_age := s::int; END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER zz_spoil BEFORE INSERT OR UPDATE ON ec.leads FOR EACH ROW EXECUTE FUNCTION rc_spoil();

-- (each case is a transaction of its own, rolled back)
\set lead '{"property_address": "1 Rowcheck Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701", "owner_age": 70}'
-- new leads of a batch, then merges of a batch
\set nbatch '[{"property_address": "6 Rowcheck Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}, {"property_address": "7 Rowcheck Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}]'
\set mbatch '[{"property_address": "2 Rowcheck Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701", "years_owned": 20}, {"property_address": "3 Rowcheck Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701", "years_owned": 20}]'
\set batch '[{"property_address": "2 Rowcheck Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}, {"property_address": "3 Rowcheck Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}]'

-- a valid row passes, written by the kept writers
SELECT ec.upsert_lead(:'lead', 'rctest') ->> 'action' AS one;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 12}', 'rctest') ->> 'action' AS merge;
SELECT ec.upsert_leads(:'batch', 'rctest') ->> 'inserted' AS batch;
SELECT property_address, property_zip, owner_age, years_owned FROM ec.leads
WHERE sources @> '{rctest}' ORDER BY property_address;

-- leads_values_check: its own error, naming the column
INSERT INTO rc_setting VALUES ('email', 'not an email');
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_lead('{"property_address": "4 Rowcheck Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT ec.upsert_lead('{"property_address": "4 Rowcheck Way", "property_city": "Austin", "property_state": "TX", "property_zip": "78701"}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 13}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 13}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_leads(:'nbatch', 'rctest') - 'results';
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_leads(:'mbatch', 'rctest') - 'results';
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT ec.upsert_leads(:'nbatch', 'rctest') - 'results';
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT ec.upsert_leads(:'mbatch', 'rctest') - 'results';
ROLLBACK;
DELETE FROM rc_setting;

-- NOT NULL comes first, with the executor's error
INSERT INTO rc_setting VALUES ('emails', 'null'), ('email', 'not an email');
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 14}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 14}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_leads(:'nbatch', 'rctest') - 'results';
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_leads(:'mbatch', 'rctest') - 'results';
ROLLBACK;
DELETE FROM rc_setting;

-- other CHECKs are evaluated in the executor's order (by name): one before
-- leads_values_check is reported before it, one after is not
ALTER TABLE ec.leads ADD CONSTRAINT a_rctest_zip CHECK (property_zip <> '78799');
ALTER TABLE ec.leads ADD CONSTRAINT z_rctest_age CHECK (owner_age IS NULL OR owner_age < 100);
INSERT INTO rc_setting VALUES ('zip', '78799'), ('email', 'not an email');
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 15}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 15}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_leads(:'nbatch', 'rctest') - 'results';
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_leads(:'mbatch', 'rctest') - 'results';
ROLLBACK;
DELETE FROM rc_setting;
INSERT INTO rc_setting VALUES ('age', '110'), ('email', 'not an email');
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 16}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 16}', 'rctest');
ROLLBACK;
DELETE FROM rc_setting;
-- each alone: the executor's error for the other CHECKs
INSERT INTO rc_setting VALUES ('age', '110');
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 17}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 17}', 'rctest');
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_leads(:'nbatch', 'rctest') - 'results';
ROLLBACK;
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT ec.upsert_leads(:'mbatch', 'rctest') - 'results';
ROLLBACK;
DELETE FROM rc_setting;
ALTER TABLE ec.leads DROP CONSTRAINT a_rctest_zip, DROP CONSTRAINT z_rctest_age;

-- a failed write left nothing: the leads are as the valid calls wrote them
SELECT property_address, property_zip, owner_age, years_owned, email FROM ec.leads
WHERE sources @> '{rctest}' ORDER BY property_address;

-- leads_values_check replaced by another CHECK that calls the same function
-- over the row: still found, still the function's error
ALTER TABLE ec.leads DROP CONSTRAINT leads_values_check;
ALTER TABLE ec.leads ADD CONSTRAINT leads_values_check CHECK (ec.leads_row_ok(leads.*));
INSERT INTO rc_setting VALUES ('email', 'not an email');
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 18}', 'rctest');
DELETE FROM rc_setting;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 18}', 'rctest') ->> 'action' AS merge;


-- the writers keep the OIDs of ec's relations by name (EcRelationOid): an
-- index dropped and made again under its name between two calls is found
-- under its new OID
SELECT ec.upsert_lead(:'lead'::jsonb || '{"years_owned": 19}', 'rctest') ->> 'action' AS before_ddl;
DROP INDEX ec.leads_addr_hash_key;
CREATE UNIQUE INDEX leads_addr_hash_key ON ec.leads (addr_hash) WHERE addr_hash IS NOT NULL;
SELECT r ->> 'action' AS after_ddl, r ->> 'matched_on' AS matched_on
FROM ec.upsert_lead(:'lead'::jsonb || '{"phone": "(512) 555-0199"}', 'rctest') r;
ALTER INDEX ec.leads_addr_hash_key RENAME TO leads_addr_hash_key_renamed;
SELECT r ->> 'action' AS renamed, r ->> 'matched_on' AS matched_on
FROM ec.upsert_lead(:'lead'::jsonb || '{"phone": "(512) 555-0198"}', 'rctest') r;
ALTER INDEX ec.leads_addr_hash_key_renamed RENAME TO leads_addr_hash_key;
SELECT count(*) AS leads FROM ec.leads WHERE property_address = '1 ROWCHECK WAY';

-- a column a DBA narrowed (text to varchar(10)): the kept writers take the
-- caller's values only for columns of the caller's types, so a new lead goes
-- in by SQL and the column's own length check holds, one lead or many
BEGIN;
ALTER TABLE ec.leads ALTER COLUMN last_name TYPE varchar(10);
SAVEPOINT narrowed;
SELECT ec.upsert_lead('{"property_address": "3 Rowcheck Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "last_name": "Montgomery-Smith"}', 'rctest') ->> 'action' AS one;
ROLLBACK TO SAVEPOINT narrowed;
SELECT ec.upsert_leads('[{"property_address": "4 Rowcheck Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "last_name": "Montgomery-Smith"},
	{"property_address": "5 Rowcheck Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"},
	{"property_address": "6 Rowcheck Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701"}]', 'rctest') -> 'counts' AS many;
ROLLBACK TO SAVEPOINT narrowed;
-- a merge into an existing lead, the same
SELECT ec.upsert_lead(:'lead'::jsonb || '{"last_name": "Montgomery-Smith"}', 'rctest') ->> 'action' AS merge;
ROLLBACK TO SAVEPOINT narrowed;
SELECT ec.upsert_lead('{"property_address": "7 Rowcheck Way", "property_city": "Austin", "property_state": "TX",
	"property_zip": "78701", "last_name": "Lee"}', 'rctest') ->> 'action' AS fits;
SELECT ec.upsert_lead(:'lead'::jsonb || '{"last_name": "Lee"}', 'rctest') ->> 'action' AS merge_fits;
SELECT property_address, last_name, pg_typeof(last_name) FROM ec.leads
WHERE property_address IN ('7 ROWCHECK WAY', '1 ROWCHECK WAY') ORDER BY 1;
ROLLBACK;

DROP TRIGGER zz_spoil ON ec.leads;
DROP FUNCTION rc_spoil();
DROP TABLE rc_setting;
DELETE FROM ec.leads WHERE sources @> '{rctest}';
