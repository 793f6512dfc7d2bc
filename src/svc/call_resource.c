/*
** call_resource.c — Resource/CallResource: small JSON endpoints for the
** query editors and dashboard variables (docs/query-model.md):
**   GET strategies|symbols|accounts|sides|exchanges|entry_tags|exit_reasons
**       [?q=substring&limit=n] → ["a","b",…]
**   GET schema → the mapping check as JSON.
**   GET kinds → the query kinds (registry rows); needs no database.
**   GET tag-keys → the mapped dimensions, ad-hoc filter keys; no database.
** The reply is one stream message whose `code` is a valid HTTP status
** (Grafana passes it to WriteHeader) with a JSON body and Content-Type.
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "backend.pb-c.h"
#include "gpx/ds.h"
#include "gpx/pg.h"
#include "gpx/query.h"
#include "gpx/svc.h"

/* Seconds a value list is answered from memory (gpx_ds_memo), and the
   most values the memory holds per column: a dashboard opening asks every
   variable's and editor's list at once, and a list need not cost a table
   scan each time. */
#define GPX__VALUES_MEMO_S 30.0
#define GPX__VALUES_MAX 1000

static void gpx__send_text(gpx_rpc_reply *reply, int code, const char *js) {
  Pluginv2__CallResourceResponse out = PLUGINV2__CALL_RESOURCE_RESPONSE__INIT;
  Pluginv2__StringList ct = PLUGINV2__STRING_LIST__INIT;
  char *ctv[1] = {"application/json"};
  ct.n_values = 1;
  ct.values = ctv;
  Pluginv2__CallResourceResponse__HeadersEntry he = PLUGINV2__CALL_RESOURCE_RESPONSE__HEADERS_ENTRY__INIT;
  he.key = "Content-Type";
  he.value = &ct;
  Pluginv2__CallResourceResponse__HeadersEntry *hp[1] = {&he};
  out.code = code;
  out.n_headers = 1;
  out.headers = hp;
  out.body.data = (uint8_t *)(js ? js : "null");
  out.body.len = strlen(js ? js : "null");
  gpx_svc_pack(&out.base, reply);
}

static void gpx__send(gpx_rpc_reply *reply, int code, json_t *body /* stolen */) {
  char *js = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(body);
  gpx__send_text(reply, code, js);
  free(js);
}

static void gpx__error(gpx_rpc_reply *reply, int code, const char *msg) {
  char m[1100];
  snprintf(m, sizeof m, "%s", msg);
  gpx_utf8_scrub(m); /* Postgres' text is echoed; JSON needs UTF-8 */
  gpx__send(reply, code, json_pack("{s:s}", "error", m));
}

/* A Postgres failure through the query layer's one mapping. */
static void gpx__pg_error(gpx_rpc_reply *reply, const gpx_pg_error *pe, int timeout_s) {
  gpx_query_error e;
  gpx_query_error_from_pg(pe, timeout_s, &e);
  gpx__error(reply, e.status, e.message);
}

static int gpx__hex(int c) {
  return isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

/* Value of `key` in the URL's query string, percent-decoded; 0 if found. */
static int gpx__query_param(const char *url, const char *key, char *out, size_t cap) {
  const char *q = url ? strchr(url, '?') : NULL;
  if (q == NULL) return -1;
  size_t kl = strlen(key);
  for (const char *p = q + 1; *p;) {
    const char *end = strchr(p, '&');
    if (end == NULL) end = p + strlen(p);
    if ((size_t)(end - p) > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
      size_t o = 0;
      for (const char *v = p + kl + 1; v < end && o + 1 < cap; v++) {
        if (*v == '+') out[o++] = ' ';
        else if (*v == '%' && v + 2 < end && gpx__hex(v[1]) >= 0 && gpx__hex(v[2]) >= 0) {
          out[o++] = (char)(gpx__hex(v[1]) * 16 + gpx__hex(v[2]));
          v += 2;
        } else out[o++] = *v;
      }
      out[o] = '\0';
      return 0;
    }
    p = *end ? end + 1 : end;
  }
  return -1;
}

static int gpx__ascii(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80) return 0;
  return 1;
}

/* Case-insensitive literal substring, as strpos(lower(v), lower(q)) > 0
   for an ASCII q. */
static int gpx__contains(const char *v, const char *q) {
  size_t n = strlen(q);
  if (n == 0) return 1;
  for (; *v; v++)
    if (strncasecmp(v, q, n) == 0) return 1;
  return 0;
}

/* The values of json array all that contain q, at most limit (new reference). */
static json_t *gpx__filter(json_t *all, const char *q, long limit) {
  json_t *out = json_array();
  for (size_t i = 0; out && i < json_array_size(all) && (long)json_array_size(out) < limit; i++) {
    json_t *v = json_array_get(all, i);
    if (json_is_string(v) && gpx__contains(json_string_value(v), q)) json_array_append(out, v);
  }
  return out;
}

/* The whole value list of col (sorted, fewer than GPX__VALUES_MAX values),
   from memory or Postgres, or NULL: the list is longer (then the caller
   asks Postgres with the filter), or Postgres failed (then reply holds
   the error). */
static json_t *gpx__value_list(gpx_rpc_ctx *ctx, gpx_ds_instance *inst, const char *path, gpx_col col,
                               gpx_rpc_reply *reply) {
  char key[96], *memo = NULL;
  snprintf(key, sizeof key, "values:%s", path);
  json_t *all = NULL;
  if (gpx_ds_memo_get(inst, key, GPX__VALUES_MEMO_S, &memo)) {
    all = json_loads(memo, 0, NULL);
    free(memo);
  } else {
    gpx_pg_session sess;
    gpx_pg_error pe;
    gpx_query_error qe;
    if (!gpx_ds_admit(inst)) {
      gpx__error(reply, 503, "too many concurrent queries for this data source; try again shortly");
      return NULL;
    }
    if (gpx_pg_acquire_light(inst->pool, &sess, gpx_rpc_cancelled_cb, ctx, gpx_rpc_deadline_ms(ctx), &pe) != GPX_OK) {
      gpx__pg_error(reply, &pe, inst->settings.query_timeout_s);
    } else {
      if (gpx_query_distinct(&sess, &inst->settings, col, "", GPX__VALUES_MAX, &all, &qe) != GPX_OK)
        gpx__error(reply, qe.status, qe.message);
      gpx_pg_release(&sess);
    }
    gpx_ds_leave(inst);
    char *js = all ? json_dumps(all, JSON_COMPACT) : NULL;
    if (js) gpx_ds_memo_put(inst, key, js);
    free(js);
  }
  if (all && json_array_size(all) >= GPX__VALUES_MAX) { /* not the whole list */
    json_decref(all);
    all = NULL;
  }
  return all;
}

void gpx_svc_call_resource(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len, gpx_rpc_reply *reply) {
  gpx_app *app = gpx_rpc_app(ctx);
  Pluginv2__CallResourceRequest *in = pluginv2__call_resource_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed CallResourceRequest");
    return;
  }
  char path[64];
  snprintf(path, sizeof path, "%s", in->path ? in->path : "");
  char *qm = strchr(path, '?');
  if (qm) *qm = '\0';
  size_t pl = strlen(path);
  while (pl && path[pl - 1] == '/') path[--pl] = '\0';
  gpx_col col = gpx_query_resource_column(path);
  int schema = !strcmp(path, "schema");
  int kinds = !strcmp(path, "kinds");
  int tag_keys = !strcmp(path, "tag-keys");
  gpx_error err;
  gpx_ds_instance *inst = NULL;
  int irc = ENOENT;
  if (col == GPX_COL_COUNT && !schema && !kinds && !tag_keys) {
    char m[400];
    snprintf(m, sizeof m, "unknown resource (available: %s, schema, kinds, tag-keys)", gpx_query_resource_names());
    gpx__error(reply, 404, m);
  } else if (in->method && in->method[0] && strcmp(in->method, "GET") != 0) {
    gpx__error(reply, 405, "only GET is supported");
  } else if (kinds) {
    /* the plugin's own registry: no data source, no connection */
    json_t *o = gpx_query_kinds_json();
    if (o) gpx__send(reply, 200, o);
    else gpx__error(reply, 500, "out of memory");
  } else if ((irc = gpx_svc_instance(app, in->plugincontext, &inst, &err)) == ENOENT) {
    gpx__error(reply, 400, "no data source in the request");
  } else if (irc != GPX_OK) {
    char m[700];
    snprintf(m, sizeof m, "data source settings: %s", err.msg);
    gpx__error(reply, 400, m);
  } else if (tag_keys) {
    /* the mapping alone says which dimensions exist: no connection */
    json_t *o = gpx_query_tag_keys_json(&inst->settings);
    if (o) gpx__send(reply, 200, o);
    else gpx__error(reply, 500, "out of memory");
    gpx_ds_release(app->ds, inst);
  } else {
    gpx_pg_session sess;
    gpx_pg_error pe;
    char q[256] = "", lim[32] = "";
    gpx__query_param(in->url, "q", q, sizeof q);
    long limit = 100;
    if (gpx__query_param(in->url, "limit", lim, sizeof lim) == 0) {
      char *end = NULL;
      limit = strtol(lim, &end, 10);
      if (end == lim || *end || limit < 1) limit = -1;
      if (limit > 1000) limit = 1000;
    }
    int admitted = 0;
    json_t *all = NULL;
    if (limit < 0) {
      gpx__error(reply, 400, "limit: must be a positive whole number");
    } else if (!schema && !gpx_col_present(&inst->settings, col)) {
      /* no such column: no values, and no SQL to ask for them */
      char m[200];
      snprintf(m, sizeof m, "%s: %s is not mapped (jsonData.columns.%s is null)", path, gpx_col_names[col],
               gpx_col_names[col]);
      gpx__error(reply, 400, m);
    } else if (schema) {
      json_t *o = NULL;
      int at_connect;
      if (gpx_svc_schema(ctx, inst, &o, &pe, &at_connect) == GPX_OK) gpx__send(reply, 200, o);
      else gpx__pg_error(reply, &pe, inst->settings.query_timeout_s);
    } else if (gpx__ascii(q) && (all = gpx__value_list(ctx, inst, path, col, reply)) != NULL) {
      /* the column's whole list (fewer than 1000 values) from memory:
         any filter and limit are answered without Postgres */
      gpx__send(reply, 200, gpx__filter(all, q, limit));
      json_decref(all);
    } else if (reply->has_body || reply->code != GPX_RPC_OK) {
      /* gpx__value_list answered already (a Postgres failure) */
    } else if (!(admitted = gpx_ds_admit(inst))) {
      gpx__error(reply, 503, "too many concurrent queries for this data source; try again shortly");
    } else if (gpx_pg_acquire_light(inst->pool, &sess, gpx_rpc_cancelled_cb, ctx, gpx_rpc_deadline_ms(ctx), &pe) != GPX_OK) {
      gpx__pg_error(reply, &pe, inst->settings.query_timeout_s);
    } else {
      /* a long list (1000 values or more), or a filter with non-ASCII
         letters (Postgres' lower() decides their case): ask Postgres */
      json_t *o = NULL;
      gpx_query_error qe;
      if (gpx_query_distinct(&sess, &inst->settings, col, q, (int)limit, &o, &qe) == GPX_OK)
        gpx__send(reply, 200, o);
      else
        gpx__error(reply, qe.status, qe.message);
      gpx_pg_release(&sess);
    }
    if (admitted) gpx_ds_leave(inst);
    gpx_ds_release(app->ds, inst);
  }
  pluginv2__call_resource_request__free_unpacked(in, NULL);
}
