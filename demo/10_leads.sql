-- Step 1: the sample leads enter through ec.upsert_leads, the same C path an
-- upload takes: one lead per property (MAK, then county-scoped APN, then the
-- USPS-normalized address hash), provider codes turned into verified flags.
\echo
\echo '== Leads through ec.upsert_leads (demo/sample/leads.csv)'
SELECT r ->> 'action' AS action, count(*) AS leads
FROM jsonb_array_elements(ec.upsert_leads((
	SELECT jsonb_agg(jsonb_strip_nulls(to_jsonb(s) - 'broker' || jsonb_build_object('assigned_broker_id', b.id)))
	FROM sample_leads s JOIN ec.brokers b ON b.name = s.broker), 'demo') -> 'results') r
GROUP BY 1 ORDER BY 1;

\echo '== The same properties again, spelled as another export spells them: merged, not duplicated'
SELECT r ->> 'action' AS action, r ->> 'matched_on' AS matched_on, r ->> 'lead_id' AS lead_id
FROM jsonb_array_elements(ec.upsert_leads('[
	{"property_address": "1847 Oak Hollow Drive", "property_city": "Sarasota", "property_state": "Florida",
	 "property_zip": "34232-1107", "phone": "(941) 555-3817", "verification_codes": "ES01,PS01"},
	{"property_address": "5820 North 12th Street", "property_unit": "# 3", "property_city": "phoenix",
	 "property_state": "az", "property_zip": "85014", "email": "shirley.rossi@gmail.com"},
	{"property_address": "5820 N 12th St Unit 4", "property_city": "Phoenix", "property_state": "AZ",
	 "property_zip": "85014", "first_name": "Neighbor"}
]', 'propstream') -> 'results') r;

\echo '== A whole address in one line, as a web form sends it: split, normalized, the same lead'
SELECT ec.normalize_address('1847 Oak Hollow Dr., Sarasota, Fla. 34232', NULL, NULL, NULL, NULL) AS canonical;
SELECT r ->> 'action' AS action, r ->> 'matched_on' AS matched_on, r ->> 'lead_id' AS lead_id
FROM ec.upsert_lead('{"property_address": "1847 Oak Hollow Dr., Sarasota, Fla. 34232", "first_name": "Margaret"}',
	'web_form') r;
