-- Lead identity (issue 4): USPS address normalization, the three dedupe keys
-- (MAK, county-scoped APN, addr_hash) and ec.upsert_lead(s), all in C
-- (src/identity/, on the pure core in src/core/).

CREATE FUNCTION ec.normalize_address(line1 text, line2 text, city text, state text, zip text)
RETURNS text
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ec_normalize_address';
COMMENT ON FUNCTION ec.normalize_address(text, text, text, text, text) IS
	'USPS Publication 28 canonical one-line address "LINE[ UNIT], CITY, ST ZIP5"; NULL when there is no street line';

CREATE FUNCTION ec.addr_hash(line1 text, line2 text, city text, state text, zip text)
RETURNS bytea
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ec_addr_hash';
COMMENT ON FUNCTION ec.addr_hash(text, text, text, text, text) IS
	'SHA-256 of ec.normalize_address(...); NULL without a street line, or without a ZIP and without city + state';

CREATE FUNCTION ec.normalize_apn(apn text, state text, county_fips text)
RETURNS text
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ec_normalize_apn';
COMMENT ON FUNCTION ec.normalize_apn(text, text, text) IS
	'County-scoped APN key "ST:SSCCC:APN" (upper case, separators and leading zeros dropped); NULL when it cannot be scoped';

CREATE FUNCTION ec.normalize_mak(mak text)
RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ec_normalize_mak';
COMMENT ON FUNCTION ec.normalize_mak(text) IS
	'Melissa Address Key: the 10 digits, or NULL when it is not 10 digits';

CREATE FUNCTION ec.upsert_lead(lead jsonb, source text)
RETURNS jsonb
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ec_upsert_lead';
COMMENT ON FUNCTION ec.upsert_lead(jsonb, text) IS
	'Insert or merge one lead: cascade MAK -> county APN -> addr_hash, safe merges, conflicts recorded; {lead_id, action, matched_on, conflict}';

CREATE FUNCTION ec.upsert_leads(leads jsonb, source text)
RETURNS jsonb
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ec_upsert_leads';
COMMENT ON FUNCTION ec.upsert_leads(jsonb, text) IS
	'ec.upsert_lead over a JSON array in one call: counts and per-row results';

CREATE FUNCTION ec.upsert_staged_leads(upload_id bigint, source text)
RETURNS jsonb
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ec_upsert_staged_leads';
COMMENT ON FUNCTION ec.upsert_staged_leads(bigint, text) IS
	'ec.upsert_lead over the valid staged rows of an upload; marks them upserted with their lead_id and action';

-- The identity cache of verification_code_map is dropped when the table changes.
CREATE FUNCTION ec.verification_code_map_changed()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'ec_verification_code_map_changed';
COMMENT ON FUNCTION ec.verification_code_map_changed() IS
	'Trigger: invalidates the cached verification_code_map in every session';
CREATE TRIGGER verification_code_map_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ec.verification_code_map
	FOR EACH STATEMENT EXECUTE FUNCTION ec.verification_code_map_changed();

-- Melissa's result codes (shared/fixtures/melissa_codes.csv); the verdict is
-- our policy: 'valid' sets email_verified / phone_verified, 'invalid' clears
-- it, 'unknown' leaves it alone. Meanings marked [unverified] still need
-- checking against Melissa's documentation.
INSERT INTO ec.verification_code_map (provider, code, kind, meaning, verdict) VALUES
	('melissa', 'ES01', 'email_status', 'Valid Email (older docs: Valid Email Domain - domain confirmed by DatabaseLookup or MXLookup)', 'valid'),
	('melissa', 'ES02', 'email_status', '[unverified] Invalid Email', 'invalid'),
	('melissa', 'ES03', 'email_status', '[unverified] Unknown Email - mailbox could not be verified (timeout/greylist)', 'unknown'),
	('melissa', 'ES04', 'email_status', 'Mobile Email Address - domain identified as mobile email, classified as not deliverable by the FCC', 'invalid'),
	('melissa', 'ES05', 'email_status', '[unverified] Disposable Domain', 'invalid'),
	('melissa', 'ES06', 'email_status', '[unverified] Spamtrap Domain', 'invalid'),
	('melissa', 'ES07', 'email_status', '[unverified] Accept All Server (catch-all)', 'unknown'),
	('melissa', 'ES08', 'email_status', '[unverified] Role Address (info@ sales@ ...)', 'unknown'),
	('melissa', 'ES09', 'email_status', '[unverified] meaning not confirmed from docs', 'unknown'),
	('melissa', 'ES10', 'email_status', '[unverified] meaning not confirmed from docs (believed: email corrected/cleansed)', 'unknown'),
	('melissa', 'EE01', 'email_error', 'Email Syntax Error - syntax error in the submitted email address', 'invalid'),
	('melissa', 'EE02', 'email_error', 'Email Domain Not Found - domain of the submitted email address was not found', 'invalid'),
	('melissa', 'EE03', 'email_error', 'Email Server Not Found - mail server of the submitted email address was not found', 'invalid'),
	('melissa', 'EE04', 'email_error', 'Invalid Email - an invalid mailbox was detected (e.g. noreply)', 'invalid'),
	('melissa', 'PS01', 'phone_status', 'Valid Phone - the phone number has been verified as valid (V3: 10-Digit Match)', 'valid'),
	('melissa', 'PS02', 'phone_status', '7-Digit Match - first 7 digits verified but activity cannot be confirmed', 'unknown'),
	('melissa', 'PS03', 'phone_status', 'Corrected Area Code - NewAreaCode contains area code corrected from the postal code', 'valid'),
	('melissa', 'PS04', 'phone_status', 'Demo Mode - number outside the range allowed by the demo', 'unknown'),
	('melissa', 'PS05', 'phone_status', 'Database Expired - the phone database is expired', 'unknown'),
	('melissa', 'PS06', 'phone_status', 'Updated Area Code - area code changed due to an area code split (see NewAreaCode)', 'valid'),
	('melissa', 'PS07', 'phone_status', 'Cellular Line - exchange type designated cellular on activation; current status not confirmed (US/CA, Premium)', 'valid'),
	('melissa', 'PS08', 'phone_status', 'Land Line - exchange type designated land line on activation; current status not confirmed (US/CA, Premium)', 'valid'),
	('melissa', 'PS09', 'phone_status', '[unverified] VOIP Line', 'valid'),
	('melissa', 'PS10', 'phone_status', 'Residential Number - the phone number belongs to a residence', 'valid'),
	('melissa', 'PS11', 'phone_status', '[unverified] Business Number', 'valid'),
	('melissa', 'PS12', 'phone_status', '[unverified] SOHO (small office / home office) Number', 'valid'),
	('melissa', 'PS18', 'phone_status', '[unverified] Do Not Call - number on DNC list', 'invalid'),
	('melissa', 'PS20', 'phone_status', '[unverified] Low Confidence result', 'unknown'),
	('melissa', 'PS22', 'phone_status', '[unverified] Possibly disconnected / not currently in service', 'unknown'),
	('melissa', 'PE01', 'phone_error', 'Invalid Phone - area code/phone number does not exist in the database or contains non-numbers', 'invalid'),
	('melissa', 'PE02', 'phone_error', 'Blank Phone - the phone number is blank', 'invalid'),
	('melissa', 'PE03', 'phone_error', 'Bad Phone - too many or too few digits', 'invalid'),
	('melissa', 'PE04', 'phone_error', 'Multiple Match - two or more possible area codes, too close to choose', 'unknown'),
	('melissa', 'PE05', 'phone_error', 'Bad Prefix/Prefix +1 - the prefix or first 7 digits do not exist in the database', 'invalid'),
	('melissa', 'PE06', 'phone_error', 'Bad Postal Code - the input postal code is invalid', 'unknown'),
	('melissa', 'PE08', 'phone_error', 'No Country Input - input country blank and number has no ''+'' (Global Phone)', 'invalid'),
	('melissa', 'PE09', 'phone_error', 'Out of Range Suffix - subscriber number suffix out of range (Global Phone)', 'invalid'),
	('melissa', 'PE10', 'phone_error', 'Invalid Input Country - the input country is not valid (Global Phone)', 'invalid'),
	('melissa', 'AS01', 'address_status', 'Address Fully Verified - valid and deliverable according to official postal agencies', 'valid'),
	('melissa', 'AS02', 'address_status', '[unverified] Street/building matched but suite/unit (sub-premise) not verified', 'unknown'),
	('melissa', 'AS03', 'address_status', '[unverified] Non-USPS address match (valid address not serviced by USPS)', 'unknown'),
	('melissa', 'AS14', 'address_status', 'Suite Appended - US only; suite appended by SuiteLink using address and company name', 'valid'),
	('melissa', 'AE01', 'address_error', '[unverified] Postal/ZIP code error - postal code could not be verified or does not exist', 'invalid'),
	('melissa', 'AE02', 'address_error', '[unverified] Unknown Street - street could not be matched', 'invalid'),
	('melissa', 'AE03', 'address_error', '[unverified] Component Mismatch - address components do not match each other', 'invalid'),
	('melissa', 'AE05', 'address_error', '[unverified] Multiple Match - address matched multiple records', 'unknown'),
	('melissa', 'AE07', 'address_error', '[unverified] Missing Minimum Address - not enough input to verify', 'invalid');

-- Merges rewrite a lead in place: room on its page lets PostgreSQL keep the
-- new version there without touching the indexes (HOT) when no indexed
-- column changed, which is the common merge.
ALTER TABLE ec.leads SET (fillfactor = 85);
