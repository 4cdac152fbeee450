-- The HTTP queue's privileges, after 99_grants.sql gave the pipeline roles
-- every table: requests and responses carry personal data and are read
-- only by the service roles and superusers (no broker grant, no policy but
-- the service role's). The queue is written only by ec.http_enqueue (as the
-- table owner) and by the worker, so the API roles may read and delete rows
-- but neither insert nor change them: a changed URL could carry an API key
-- elsewhere.
DO $http_grants$
DECLARE
	r text;
BEGIN
	FOR r IN SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN ('ec_service', 'service_role') LOOP
		EXECUTE pg_catalog.format('REVOKE INSERT, UPDATE, TRUNCATE ON ec.http_requests, ec.http_responses FROM %I', r);
	END LOOP;
END
$http_grants$;
