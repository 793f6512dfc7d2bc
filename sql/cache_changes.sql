-- cache_changes.sql — optional: a change log that lets the plugin's fold
-- cache (docs/query-model.md "Cache") check a trade table by reading a few
-- thousand small rows instead of scanning the trades it has cached.
-- Without it the check is a fingerprint computed over the cached range (a
-- scan of the covering index); with it, one row per hour of closed_at that
-- was ever written: a refresh costs only the trades after the watermark.
--
--   psql -v schema=public -v table=trades -v closed_at=closed_at -v unit=timestamp -f sql/cache_changes.sql
--
-- unit: how closed_at is stored, as the data source's column mapping says:
-- timestamp (timestamptz or timestamp), or the seconds one unit of an epoch
-- number is: 1 (epoch_s), 0.001 (epoch_ms), 0.000001 (epoch_us),
-- 0.000000001 (epoch_ns). Needs the table's owner (triggers) and the right
-- to create a table in public. Plain tables only: a partitioned table's
-- rows can be written through its partitions, which the parent's triggers
-- do not see, so the plugin keeps the fingerprint check for those.
--
-- Every statement that inserts, updates or deletes trades bumps a version
-- per hour of closed_at it touched (old and new values), in its own
-- transaction; TRUNCATE bumps a marker row. The plugin reads the versions
-- in the same snapshot as the trades, so a change is seen exactly when its
-- rows are. The triggers are ENABLE ALWAYS, so logical replication's apply
-- fires them too; the plugin trusts the log only while all four are enabled
-- that way with these arguments (checked in every check). To remove:
--   DROP TRIGGER gpx_trade_changes_ins ON public.trades; (… _upd, _del, _trunc)
\set ON_ERROR_STOP on
\if :{?schema}
\else
\set schema public
\endif
\if :{?table}
\else
\set table trades
\endif
\if :{?closed_at}
\else
\set closed_at closed_at
\endif
\if :{?unit}
\else
\set unit timestamp
\endif

CREATE TABLE IF NOT EXISTS public.gpx_trade_changes (
  tbl     regclass NOT NULL,
  hour    bigint   NOT NULL, -- floor(epoch seconds of closed_at / 3600); -9223372036854775808: TRUNCATE
  version bigint   NOT NULL,
  PRIMARY KEY (tbl, hour)
);
GRANT SELECT ON public.gpx_trade_changes TO PUBLIC;

-- TG_ARGV: the closed_at column, its unit (above). The rows' hours, in
-- order (concurrent writers lock the same rows in the same order).
CREATE OR REPLACE FUNCTION public.gpx_trade_changes_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  h text;
  src text;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO public.gpx_trade_changes AS c (tbl, hour, version) VALUES (TG_RELID, -9223372036854775808, 1)
      ON CONFLICT (tbl, hour) DO UPDATE SET version = c.version + 1;
    RETURN NULL;
  END IF;
  IF TG_ARGV[1] = 'timestamp' THEN
    h := format('floor(extract(epoch FROM %I) / 3600)::int8', TG_ARGV[0]);
  ELSE
    h := format('floor(%I::numeric * %s / 3600)::int8', TG_ARGV[0], TG_ARGV[1]::numeric);
  END IF;
  src := CASE TG_OP WHEN 'INSERT' THEN format('SELECT %s AS h FROM gpx_new', h)
                    WHEN 'DELETE' THEN format('SELECT %s AS h FROM gpx_old', h)
                    ELSE format('SELECT %s AS h FROM gpx_old UNION SELECT %s FROM gpx_new', h, h) END;
  EXECUTE format('INSERT INTO public.gpx_trade_changes AS c (tbl, hour, version) '
                 'SELECT $1, h, 1 FROM (SELECT DISTINCT h FROM (%s) s WHERE h IS NOT NULL) d ORDER BY h '
                 'ON CONFLICT (tbl, hour) DO UPDATE SET version = c.version + 1', src) USING TG_RELID;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS gpx_trade_changes_ins ON :"schema".:"table";
DROP TRIGGER IF EXISTS gpx_trade_changes_upd ON :"schema".:"table";
DROP TRIGGER IF EXISTS gpx_trade_changes_del ON :"schema".:"table";
DROP TRIGGER IF EXISTS gpx_trade_changes_trunc ON :"schema".:"table";
CREATE TRIGGER gpx_trade_changes_ins AFTER INSERT ON :"schema".:"table" REFERENCING NEW TABLE AS gpx_new
  FOR EACH STATEMENT EXECUTE FUNCTION public.gpx_trade_changes_log(:'closed_at', :'unit');
CREATE TRIGGER gpx_trade_changes_upd AFTER UPDATE ON :"schema".:"table" REFERENCING OLD TABLE AS gpx_old NEW TABLE AS gpx_new
  FOR EACH STATEMENT EXECUTE FUNCTION public.gpx_trade_changes_log(:'closed_at', :'unit');
CREATE TRIGGER gpx_trade_changes_del AFTER DELETE ON :"schema".:"table" REFERENCING OLD TABLE AS gpx_old
  FOR EACH STATEMENT EXECUTE FUNCTION public.gpx_trade_changes_log(:'closed_at', :'unit');
CREATE TRIGGER gpx_trade_changes_trunc AFTER TRUNCATE ON :"schema".:"table"
  FOR EACH STATEMENT EXECUTE FUNCTION public.gpx_trade_changes_log(:'closed_at', :'unit');
ALTER TABLE :"schema".:"table" ENABLE ALWAYS TRIGGER gpx_trade_changes_ins;
ALTER TABLE :"schema".:"table" ENABLE ALWAYS TRIGGER gpx_trade_changes_upd;
ALTER TABLE :"schema".:"table" ENABLE ALWAYS TRIGGER gpx_trade_changes_del;
ALTER TABLE :"schema".:"table" ENABLE ALWAYS TRIGGER gpx_trade_changes_trunc;
