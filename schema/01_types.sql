-- Enumerated types: invalid states are rejected by the type itself.

-- Lifecycle of a lead (docs/data-model.md lists the transitions):
--   new            ingested, no verified contact yet
--   queued         a contact is verified: eligible for the feeder
--   active         fed to an email campaign (added_to_campaign_at set)
--   replied        answered an email
--   converted      appointment booked
--   unreachable    voice attempts exhausted (kept apart from do_not_contact:
--                  nobody asked us to stop, we could not reach them)
--   do_not_contact opted out / not interested / legal hold: terminal
CREATE TYPE ec.campaign_status AS ENUM
	('new', 'queued', 'active', 'replied', 'converted', 'unreachable', 'do_not_contact');

CREATE TYPE ec.consent_method AS ENUM ('form', 'verbal', 'written', 'email_reply');

CREATE TYPE ec.broker_status AS ENUM ('active', 'paused', 'closed');

CREATE TYPE ec.key_purpose AS ENUM ('request', 'consent', 'webhook_out', 'api');

CREATE TYPE ec.staging_status AS ENUM ('pending', 'valid', 'rejected', 'duplicate_in_file', 'upserted');

CREATE TYPE ec.assignment_status AS ENUM ('active', 'booked_locked', 'released', 'unreachable');

CREATE TYPE ec.call_status AS ENUM ('queued', 'ringing', 'in_progress', 'ended', 'failed');

CREATE TYPE ec.call_outcome AS ENUM
	('booked', 'callback', 'not_interested', 'no_answer', 'voicemail', 'failed', 'other');

CREATE TYPE ec.billing_event_type AS ENUM ('appointment_set', 'application_submitted', 'loan_funded');

CREATE TYPE ec.invoice_status AS ENUM ('draft', 'issued', 'paid', 'void');

CREATE TYPE ec.http_state AS ENUM ('pending', 'in_flight', 'succeeded', 'failed');
