-- Row security as PostgREST requests see it on Supabase: SET ROLE plus
-- request.jwt.claims, two brokers, anon and the service role.
BEGIN;
SELECT plan(17);

INSERT INTO ec.brokers (id, name, auth_user_id) VALUES
	(901, 'North Star Lending', 'aaaaaaaa-0000-0000-0000-000000000001'),
	(902, 'Sunbelt Reverse', 'bbbbbbbb-0000-0000-0000-000000000002');
INSERT INTO ec.leads (id, first_name, assigned_broker_id, email) VALUES
	(90001, 'Ruth', 901, 'ruth@example.com'),
	(90002, 'Otis', 901, 'otis@example.com'),
	(90003, 'Lena', 902, 'lena@example.com');
INSERT INTO ec.invoices (broker_id, period_start, period_end) VALUES (901, '2026-10-01', '2026-11-01'),
	(902, '2026-10-01', '2026-11-01');
INSERT INTO ec.lead_consent_audit (lead_id, action, reason) VALUES (90001, 'granted', 'ok'), (90003, 'granted', 'ok');

-- broker 901
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub":"aaaaaaaa-0000-0000-0000-000000000001","role":"authenticated"}', true);
SELECT is(ec.current_broker_id(), 901::bigint, 'the JWT identifies broker 901');
SELECT is(auth.uid(), 'aaaaaaaa-0000-0000-0000-000000000001'::uuid, 'the same subject auth.uid() reads');
SELECT results_eq('SELECT id FROM ec.leads ORDER BY id', ARRAY[90001, 90002]::bigint[], 'broker 901 sees its two leads');
SELECT results_eq('SELECT broker_id FROM ec.invoices', ARRAY[901]::bigint[], 'and only its invoice');
SELECT results_eq('SELECT lead_id FROM ec.lead_consent_audit', ARRAY[90001]::bigint[], 'and its own consent evidence');
SELECT lives_ok($$UPDATE ec.leads SET first_name = 'Ruthie' WHERE id = 90001$$, 'updates its own lead');
SELECT is((SELECT count(*)::int FROM (SELECT 1 FROM ec.leads WHERE id = 90003) s), 0, 'cannot see the other broker''s lead');
SELECT throws_ok($$INSERT INTO ec.leads (first_name, assigned_broker_id) VALUES ('Mallory', 902)$$,
	'42501', NULL, 'cannot insert a lead for another broker');
SELECT throws_ok($$UPDATE ec.leads SET consent = true, consented_at = now(), consent_method = 'form' WHERE id = 90001$$,
	'42501', NULL, 'cannot grant consent itself');

-- broker 902, same session, other claims
SELECT set_config('request.jwt.claims', '{"sub":"bbbbbbbb-0000-0000-0000-000000000002","role":"authenticated"}', true);
SELECT results_eq('SELECT id FROM ec.leads ORDER BY id', ARRAY[90003]::bigint[], 'broker 902 sees only its lead');
SELECT results_eq($$SELECT first_name FROM ec.leads WHERE id = 90003$$, ARRAY['Lena'], 'its data untouched');

-- an authenticated user that is no broker
SELECT set_config('request.jwt.claims', '{"sub":"cccccccc-0000-0000-0000-000000000003","role":"authenticated"}', true);
SELECT is((SELECT count(*)::int FROM ec.leads), 0, 'an unknown user sees no lead');

-- anon: nothing at all
RESET ROLE;
SET LOCAL ROLE anon;
SELECT throws_ok('SELECT count(*) FROM ec.leads', '42501', NULL, 'anon cannot read leads');
SELECT throws_ok('SELECT ec.current_broker_id()', '42501', NULL, 'anon cannot call our functions');

-- the service role: everything
RESET ROLE;
SET LOCAL ROLE service_role;
SELECT set_config('request.jwt.claims', '{"role":"service_role"}', true);
SELECT is((SELECT count(*)::int FROM ec.leads WHERE id BETWEEN 90001 AND 90003), 3, 'the service role sees every lead');
SELECT lives_ok($$UPDATE ec.leads SET assigned_broker_id = 902 WHERE id = 90002$$, 'and may reassign');
RESET ROLE;
SELECT is((SELECT first_name FROM ec.leads WHERE id = 90001), 'Ruthie', 'the broker''s own update landed');

SELECT * FROM finish();
ROLLBACK;
