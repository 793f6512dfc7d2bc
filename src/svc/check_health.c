/*
** check_health.c — Diagnostics/CheckHealth ("Save & test").
**
** Connects with the instance's settings and says precisely what is wrong:
** invalid settings (naming the field), host unreachable, authentication
** failed, database missing, table missing, each missing or mistyped mapped
** column — or, when healthy, how many trades and the span they cover.
** jsonDetails carries the schema check as a JSON object.
*/
#include <stdio.h>
#include <stdlib.h>

#include "backend.pb-c.h"
#include "gpx/ds.h"
#include "gpx/pg.h"
#include "gpx/query.h"
#include "gpx/svc.h"

static void gpx__reply(gpx_rpc_reply *reply, int ok, char *msg, json_t *details) {
  Pluginv2__CheckHealthResponse out = PLUGINV2__CHECK_HEALTH_RESPONSE__INIT;
  out.status = ok ? PLUGINV2__CHECK_HEALTH_RESPONSE__HEALTH_STATUS__OK
                  : PLUGINV2__CHECK_HEALTH_RESPONSE__HEALTH_STATUS__ERROR;
  gpx_utf8_scrub(msg); /* names, hosts and Postgres' text are echoed */
  out.message = (char *)msg;
  char *js = details ? json_dumps(details, JSON_COMPACT) : NULL;
  if (js) {
    out.jsondetails.data = (uint8_t *)js;
    out.jsondetails.len = strlen(js);
  }
  gpx_svc_pack(&out.base, reply);
  free(js);
}

/* Which change detection live queries use (issue 13): the running
   listener's mode, else whether the trigger of sql/live_notify.sql is on
   the table. Appended to the message and as details.live. */
static void gpx__live_health(gpx_rpc_ctx *ctx, gpx_app *app, gpx_ds_instance *inst, json_t *details, char *msg,
                             size_t cap) {
  int channels = 0;
  const char *mode = app->live ? gpx_live_status(app->live, inst, &channels) : NULL;
  int trigger = -1;
  if (mode == NULL || strcmp(mode, "connecting") == 0) {
    /* remembered like the schema check: a busy dashboard's health checks
       must not queue for the light lane once more each */
    char *memo = NULL;
    if (gpx_ds_memo_get(inst, "live:trigger", GPX_SVC_SCHEMA_MEMO_S, &memo)) {
      trigger = atoi(memo);
      free(memo);
    } else {
      gpx_pg_session sess;
      gpx_pg_error pe;
      if (gpx_pg_acquire_light(inst->pool, &sess, gpx_rpc_cancelled_cb, ctx, gpx_rpc_deadline_ms(ctx), &pe) == GPX_OK) {
        trigger = gpx_live_probe(&sess, &inst->settings, &pe);
        gpx_pg_release(&sess);
      }
      if (trigger >= 0) gpx_ds_memo_put(inst, "live:trigger", trigger ? "1" : "0");
    }
    if (mode == NULL) mode = trigger == 1 ? "notify" : trigger == 0 ? "poll" : "unknown";
  }
  int ps = inst->settings.live_poll_s;
  if (strcmp(mode, "notify") == 0)
    snprintf(msg, cap, ". Live queries: change notifications (trigger gpx_live_notify)");
  else if (strcmp(mode, "poll") == 0)
    snprintf(msg, cap, ". Live queries: polling every %d s (install sql/live_notify.sql for instant updates)", ps);
  else
    snprintf(msg, cap, ". Live queries: change detection %s", mode);
  if (details)
    json_object_set_new(details, "live", json_pack("{s:s, s:i, s:i, s:i}", "mode", mode, "channels", channels,
                                                   "pollSeconds", ps, "maxChannels", inst->settings.max_live_channels));
}

void gpx_svc_check_health(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  gpx_app *app = gpx_rpc_app(ctx);
  Pluginv2__CheckHealthRequest *in = pluginv2__check_health_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed CheckHealthRequest");
    return;
  }
  char msg[2048];
  gpx_error err;
  gpx_ds_instance *inst = NULL;
  int irc = gpx_svc_instance(app, in->plugincontext, &inst, &err);
  if (irc == ENOENT) {
    /* Called without a data source (e.g. plugin-level ping). */
    snprintf(msg, sizeof msg, "%s %s is running", GPX_PLUGIN_ID, GPX_VERSION);
    gpx__reply(reply, 1, msg, NULL);
    pluginv2__check_health_request__free_unpacked(in, NULL);
    return;
  }
  if (irc != GPX_OK) {
    snprintf(msg, sizeof msg, "Invalid settings: %s", err.msg);
    gpx__reply(reply, 0, msg, NULL);
    pluginv2__check_health_request__free_unpacked(in, NULL);
    return;
  }
  const gpx_ds_settings *s = &inst->settings;
  gpx_pg_error pe;
  json_t *details = NULL;
  int ok = 0, at_connect = 0;
  int src = gpx_svc_schema(ctx, inst, &details, &pe, &at_connect);
  if (src != GPX_OK && at_connect) {
    gpx_query_error qe;
    gpx_query_error_from_pg(&pe, s->query_timeout_s, &qe);
    char where[400];
    if (s->port_list[0]) snprintf(where, sizeof where, "%s ports %s", s->host, s->port_list); /* a host list */
    else snprintf(where, sizeof where, "%s:%d", s->host, s->port);
    snprintf(msg, sizeof msg, "%s (%s, database %s, user %s): %s", qe.what, where, s->database, s->user, pe.msg);
  } else {
    if (src != GPX_OK) {
      snprintf(msg, sizeof msg, "Connected, but checking the table failed: %s", pe.msg);
    } else if (!json_is_true(json_object_get(details, "tableExists"))) {
      snprintf(msg, sizeof msg, "Connected to %s, but table %s does not exist (or is not visible to %s)",
               s->database, json_string_value(json_object_get(details, "table")), s->user);
    } else {
      char bad[700] = "", warn[300] = "", unusable[700] = "";
      size_t ob = 0, ow = 0, ou = 0;
      json_t *cols = json_object_get(details, "columns");
      for (size_t i = 0; i < json_array_size(cols); i++) {
        json_t *c = json_array_get(cols, i);
        if (json_is_true(json_object_get(c, "ok"))) continue;
        const char *e = json_string_value(json_object_get(c, "error"));
        if (json_is_true(json_object_get(c, "required"))) {
          if (ob < sizeof bad) ob += (size_t)snprintf(bad + ob, sizeof bad - ob, "%s%s (mapping %s)", ob ? "; " : "", e,
                                                      json_string_value(json_object_get(c, "name")));
        } else if (e && strstr(e, "not found") == NULL) {
          /* there, but of a type the mapping cannot use: say how to map it */
          if (ou < sizeof unusable) ou += (size_t)snprintf(unusable + ou, sizeof unusable - ou, "%s%s", ou ? "; " : "", e);
        } else if (ow < sizeof warn) {
          ow += (size_t)snprintf(warn + ow, sizeof warn - ow, "%s%s", ow ? ", " : "",
                                 json_string_value(json_object_get(c, "column")));
        }
      }
      const char *hint = json_string_value(json_object_get(details, "hint"));
      const char *advice = json_string_value(json_object_get(details, "indexAdvice"));
      if (ob) {
        snprintf(msg, sizeof msg, "Table %s: %s%s%s", json_string_value(json_object_get(details, "table")), bad,
                 hint ? ". " : "", hint ? hint : "");
      } else {
        ok = 1;
        json_t *from = json_object_get(details, "from"), *to = json_object_get(details, "to");
        int est = json_is_true(json_object_get(details, "tradesEstimated"));
        int w = snprintf(msg, sizeof msg, "Connected to %s: %s%lld trades in %s", s->database, est ? "about " : "",
                         (long long)json_integer_value(json_object_get(details, "trades")),
                         json_string_value(json_object_get(details, "table")));
        if (json_is_string(from) && w > 0 && (size_t)w < sizeof msg)
          w += snprintf(msg + w, sizeof msg - (size_t)w, ", from %s to %s", json_string_value(from), json_string_value(to));
        if (ow && w > 0 && (size_t)w < sizeof msg)
          w += snprintf(msg + w, sizeof msg - (size_t)w, ". Optional columns not found (the trades table, slippage and the dimensions they hold need them): %s", warn);
        if (ou && w > 0 && (size_t)w < sizeof msg)
          w += snprintf(msg + w, sizeof msg - (size_t)w, ". Optional columns unusable: %s", unusable);
        if (advice && w > 0 && (size_t)w < sizeof msg) w += snprintf(msg + w, sizeof msg - (size_t)w, ". Advice: %s", advice);
        if (gpx_pg_pool_behind_pooler(inst->pool) && w > 0 && (size_t)w < sizeof msg)
          w += snprintf(msg + w, sizeof msg - (size_t)w,
                   ". Through a connection pooler (startup options refused or dropped, as pgbouncer does): "
                   "statement_timeout is set in each transaction");
        if (w > 0 && (size_t)w < sizeof msg) gpx__live_health(ctx, app, inst, details, msg + w, sizeof msg - (size_t)w);
      }
    }
  }
  gpx__reply(reply, ok, msg, details);
  json_decref(details);
  gpx_ds_release(app->ds, inst);
  pluginv2__check_health_request__free_unpacked(in, NULL);
}
