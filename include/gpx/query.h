/*
** query.h — one DataQuery from JSON to frames.
**
** The query module parses and validates the query model (docs/query-model.md),
** builds parameterised SQL (query/sql.c), runs it through pg/, feeds the
** columns to trading/ and encodes frames. Every failure becomes the refId's
** error with a status that names the field; nothing here returns a gRPC
** error.
*/
#ifndef GPX_QUERY_H
#define GPX_QUERY_H

#include <jansson.h>

#include "backend.pb-c.h"
#include "gpx/ds.h"
#include "gpx/pg.h"
#include "gpx/rpc.h"
#include "gpx/svc.h"

/** The query types the plugin serves, NULL-terminated. */
extern const char *const gpx_query_types[];

/**
 * Answer one query into dr (initialised by the caller). `headers` are the
 * request headers (e.g. FromAlert). Thread-safe; blocks on Postgres; polls
 * gpx_rpc_cancelled(ctx) and cancels the SQL when the call goes away.
 */
void gpx_query_execute(gpx_app *app, gpx_rpc_ctx *ctx, const Pluginv2__PluginContext *pctx,
                       const Pluginv2__DataQuery *q, gpx_data_response *dr);

/**
 * Check the table and column mapping; *out (new reference) is the JSON of the
 * `schema` resource: {ok, table, tableExists, columns:[{name, column, type,
 * required, ok, error}], trades, from, to}. Postgres failures → non-zero
 * with pe filled.
 */
int gpx_schema_check(gpx_pg_session *sess, const gpx_ds_settings *s, json_t **out, gpx_pg_error *pe);

#endif /* GPX_QUERY_H */
