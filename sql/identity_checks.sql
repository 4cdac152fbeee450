-- The C value checks of ec.leads and ec.pipeline_events give the answers of
-- the regular expressions they replace (src/identity/checks.c), tricky
-- inputs included: white space of every kind, non-ASCII, NULL.
CREATE TEMP TABLE samples (v text);
INSERT INTO samples VALUES
	(NULL), (''), (' '), ('a'), ('@'), ('a@'), ('@b'), ('a@b'), ('a@@b'), ('a@b@c'), ('a b@c'), ('a@b c'),
	(E'a\t@b'), (E'a@b\n'), (E'a\n@b'), (E'a@b\r'), (E'a\u000b@b'), (E'a\u001c@b'), (E'a\u007f@b'),
	('ana.lópez@example.com'), (E'a\u00a0@b'), (E'a\u3000@b'), (E'a\u2003@b'), (E'a\u200b@b'), ('josé@mañana.es'),
	('+12125551234'), ('+11125551234'), ('+12120551234'), ('+1212555123'), ('+121255512345'), ('12125551234'),
	('+1212555123a'), ('+1212555１234'), ('FL'), ('fl'), ('F'), ('FLA'), ('ÉL'), ('F1'),
	('12345'), ('1234'), ('123456'), ('1234a'), ('１２３４５'), ('0123456789'), ('012345678'), ('01234567890'),
	('dedupe_success'), ('Dedupe'), ('_x'), ('x_1'), ('1x'), ('x-y'), ('é');
SELECT count(*) AS samples,
	count(*) FILTER (WHERE ec.is_email(v) IS DISTINCT FROM (v ~ '^[^@\s]+@[^@\s]+$')) AS email_differs,
	count(*) FILTER (WHERE ec.is_us_phone(v) IS DISTINCT FROM (v ~ '^\+1[2-9][0-9]{2}[2-9][0-9]{6}$')) AS phone_differs,
	count(*) FILTER (WHERE ec.is_state_code(v) IS DISTINCT FROM (v ~ '^[A-Z]{2}$')) AS state_differs,
	count(*) FILTER (WHERE ec.is_digits5(v) IS DISTINCT FROM (v ~ '^[0-9]{5}$')) AS digits5_differs,
	count(*) FILTER (WHERE ec.is_digits10(v) IS DISTINCT FROM (v ~ '^[0-9]{10}$')) AS digits10_differs,
	count(*) FILTER (WHERE ec.is_snake_name(v) IS DISTINCT FROM (v ~ '^[a-z][a-z0-9_]*$')) AS snake_differs
FROM samples;
SELECT count(*) FILTER (WHERE ec.is_email(v)) AS emails, count(*) FILTER (WHERE ec.is_us_phone(v)) AS phones,
	count(*) FILTER (WHERE ec.is_state_code(v)) AS states, count(*) FILTER (WHERE ec.is_digits5(v)) AS digits5,
	count(*) FILTER (WHERE ec.is_digits10(v)) AS digits10, count(*) FILTER (WHERE ec.is_snake_name(v)) AS names
FROM samples;
