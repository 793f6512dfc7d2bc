-- live_notify.sql — install once per trade table so that live queries are
-- pushed as soon as a change commits (issue 13). Without it the plugin polls
-- a watermark (max closed_at) every livePollSeconds, and then sees only
-- trades closed at or after the newest one; updates and deletes of older
-- rows wait for the panel's next refresh.
--
--   psql -v schema=public -v table=trades -f sql/live_notify.sql
--
-- One NOTIFY per statement (not per row: a bulk insert of 100,000 trades
-- is one notification), on channel gpx_live_<the table's oid>, which the
-- plugin LISTENs on. Needs the right to create a trigger on the table (its
-- owner). Re-running it replaces the trigger; to remove it:
--   DROP TRIGGER gpx_live_notify ON public.trades;
\set ON_ERROR_STOP on
\if :{?schema}
\else
\set schema public
\endif
\if :{?table}
\else
\set table trades
\endif

CREATE OR REPLACE FUNCTION gpx_live_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gpx_live_' || TG_RELID::text, TG_OP);
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS gpx_live_notify ON :"schema".:"table";
CREATE TRIGGER gpx_live_notify
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON :"schema".:"table"
  FOR EACH STATEMENT EXECUTE FUNCTION gpx_live_notify();
