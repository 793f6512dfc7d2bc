/*
** settings.c — parse and validate a data source's jsonData and secrets.
**
** Every rejection names the field as the user sees it in the settings page
** (jsonData.<key>), so Grafana's "Save & test" and each query error can say
** exactly what to fix. Unknown keys are ignored: Grafana and older versions
** of our own editor may store keys we do not read.
*/
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpx/ds.h"

const char *const gpx_col_names[GPX_COL_COUNT] = {
    "trade_id",   "account",     "exchange",   "strategy",
    "symbol",     "side",        "qty",        "entry_price",
    "exit_price", "expected_entry_price", "expected_exit_price", "opened_at",
    "closed_at",  "fees",        "realized_pnl", "entry_tag", "exit_reason"};

const int gpx_col_required[GPX_COL_COUNT] = {[GPX_COL_CLOSED_AT] = 1, [GPX_COL_REALIZED_PNL] = 1};

const char *const gpx_col_as_names[GPX_AS_COUNT] = {"text", "is_short", "is_long", "epoch_s", "epoch_ms", "epoch_us",
                                                    "epoch_ns"};

uint32_t gpx_ds_absent(const gpx_ds_settings *s) {
  uint32_t m = 0;
  for (int c = 0; c < GPX_COL_COUNT; c++)
    if (s->columns[c].n == 0) m |= UINT32_C(1) << c;
  return m;
}

int gpx_col_epoch(const gpx_ds_settings *s, gpx_col c) {
  return c < GPX_COL_COUNT && s->columns[c].n > 0 && s->columns[c].as >= GPX_AS_EPOCH_S;
}

int gpx_col_is_number(gpx_col c) {
  switch (c) {
    case GPX_COL_QTY:
    case GPX_COL_ENTRY_PRICE:
    case GPX_COL_EXIT_PRICE:
    case GPX_COL_EXPECTED_ENTRY_PRICE:
    case GPX_COL_EXPECTED_EXIT_PRICE:
    case GPX_COL_FEES:
    case GPX_COL_REALIZED_PNL: return 1;
    default: return 0;
  }
}

/* One column name of the mapping: a non-empty string < 128 bytes without NUL. */
static int gpx__colname(json_t *v, char *dst, const char *prefix, const char *key, const char *sub, gpx_error *err) {
  if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= GPX_COL_NAME_MAX ||
      memchr(json_string_value(v), 0, json_string_length(v)))
    return gpx_error_set(err, EINVAL, "%s%s%s: must be a column name (string, < %d characters)", prefix, key, sub,
                         GPX_COL_NAME_MAX);
  memcpy(dst, json_string_value(v), json_string_length(v) + 1);
  return GPX_OK;
}

/* One value of jsonData.columns (query-model.md, "Column mapping"):
   "name" | null | ["a", "b"] | {"column": "name", "as": "…"}. */
static int gpx__colmap(json_t *v, gpx_col c, const char *prefix, gpx_col_map *m, gpx_error *err) {
  const char *key = gpx_col_names[c];
  char sub[32];
  if (json_is_null(v)) {
    if (gpx_col_required[c])
      return gpx_error_set(err, EINVAL, "%s%s: cannot be null: the table must have this column", prefix, key);
    m->n = 0;
    m->as = GPX_AS_PLAIN;
    return GPX_OK;
  }
  if (json_is_string(v)) {
    if (json_string_length(v) == 0) return GPX_OK; /* empty: the preset's (or default) name */
    GPX_RETURN_NOT_OK(gpx__colname(v, m->name[0], prefix, key, "", err));
    m->n = 1;
    m->as = GPX_AS_PLAIN;
    return GPX_OK;
  }
  if (json_is_array(v)) {
    if (!gpx_col_is_number(c))
      return gpx_error_set(err, EINVAL,
                           "%s%s: a list of columns to add is only allowed for qty, entry_price, exit_price, "
                           "expected_entry_price, expected_exit_price, fees and realized_pnl", prefix, key);
    size_t n = json_array_size(v);
    if (n < 1 || n > GPX_COL_MAX_PARTS)
      return gpx_error_set(err, EINVAL, "%s%s: a list of 1 to %d column names, not %zu", prefix, key, GPX_COL_MAX_PARTS, n);
    gpx_col_map t = {0};
    for (size_t i = 0; i < n; i++) {
      snprintf(sub, sizeof sub, "[%zu]", i);
      GPX_RETURN_NOT_OK(gpx__colname(json_array_get(v, i), t.name[i], prefix, key, sub, err));
    }
    t.n = (int)n;
    *m = t;
    return GPX_OK;
  }
  if (json_is_object(v)) {
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) {
      if (strcmp(k, "column") && strcmp(k, "as"))
        return gpx_error_set(err, EINVAL, "%s%s: unknown key \"%.*s\" (expected column and as)", prefix, key,
                             (int)gpx_utf8_clip(k, 32), k);
    }
    json_t *col = json_object_get(v, "column");
    if (col == NULL) return gpx_error_set(err, EINVAL, "%s%s.column: missing (the column's name)", prefix, key);
    char name[GPX_COL_NAME_MAX];
    GPX_RETURN_NOT_OK(gpx__colname(col, name, prefix, key, ".column", err));
    gpx_col_as as = GPX_AS_PLAIN;
    json_t *a = json_object_get(v, "as");
    if (a != NULL && !json_is_null(a)) {
      const char *s = json_is_string(a) ? json_string_value(a) : "";
      int side = c == GPX_COL_SIDE, time = c == GPX_COL_OPENED_AT || c == GPX_COL_CLOSED_AT;
      if (!side && !time)
        return gpx_error_set(err, EINVAL, "%s%s.as: only side, opened_at and closed_at take \"as\"", prefix, key);
      int found = -1;
      if (side) {
        if (!strcmp(s, "text")) found = GPX_AS_PLAIN;
        else if (!strcmp(s, "is_short")) found = GPX_AS_IS_SHORT;
        else if (!strcmp(s, "is_long")) found = GPX_AS_IS_LONG;
      } else {
        if (!strcmp(s, "timestamp")) found = GPX_AS_PLAIN;
        for (int i = GPX_AS_EPOCH_S; i <= GPX_AS_EPOCH_NS; i++)
          if (!strcmp(s, gpx_col_as_names[i])) found = i;
      }
      if (found < 0)
        return gpx_error_set(err, EINVAL, side ? "%s%s.as: must be text, is_short or is_long"
                                               : "%s%s.as: must be timestamp, epoch_s, epoch_ms, epoch_us or epoch_ns",
                             prefix, key);
      as = (gpx_col_as)found;
    }
    memset(m, 0, sizeof *m);
    memcpy(m->name[0], name, strlen(name) + 1);
    m->n = 1;
    m->as = as;
    return GPX_OK;
  }
  return gpx_error_set(err, EINVAL,
                       "%s%s: must be a column name, null (no such column), a list of columns to add or "
                       "{\"column\": …, \"as\": …}", prefix, key);
}

int gpx_ds_columns_parse(json_t *cols, const char *prefix, gpx_ds_settings *s, gpx_error *err) {
  if (cols == NULL || json_is_null(cols)) return GPX_OK;
  if (!json_is_object(cols))
    return gpx_error_set(err, EINVAL, "%.*s: must be an object mapping names to columns",
                         (int)(strlen(prefix) ? strlen(prefix) - 1 : 0), prefix);
  for (int i = 0; i < GPX_COL_COUNT; i++) {
    json_t *v = json_object_get(cols, gpx_col_names[i]);
    if (v != NULL) GPX_RETURN_NOT_OK(gpx__colmap(v, (gpx_col)i, prefix, &s->columns[i], err));
  }
  return GPX_OK;
}

void gpx_ds_settings_default(gpx_ds_settings *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->host, sizeof s->host, "localhost");
  s->port = 5432;
  snprintf(s->target_session_attrs, sizeof s->target_session_attrs, "any");
  snprintf(s->database, sizeof s->database, "trading");
  snprintf(s->user, sizeof s->user, "grafana");
  snprintf(s->sslmode, sizeof s->sslmode, "disable");
  snprintf(s->table, sizeof s->table, "trades");
  for (int i = 0; i < GPX_COL_COUNT; i++) {
    snprintf(s->columns[i].name[0], sizeof s->columns[i].name[0], "%s", gpx_col_names[i]);
    s->columns[i].n = 1;
  }
  snprintf(s->currency, sizeof s->currency, "USD");
  s->analytics.initial_capital = 100000;
  snprintf(s->analytics.timezone, sizeof s->analytics.timezone, "UTC");
  s->analytics.trading_days = 0;
  s->analytics.annualization = 252;
  s->analytics.risk_free_rate = 0;
  s->max_open_connections = 5;
  s->query_timeout_s = 30;
  s->row_limit = 1000;
  s->max_queued_queries = 10;
  s->concurrent_queries = 4; /* at most max_open_connections: clamped when parsed */
  s->cache_mb = 64;
  s->idle_connection_s = 300;
  s->live_poll_s = 2;
  s->max_live_channels = 256;
}

static void gpx__free_secret(char **p) {
  if (*p) {
    /* Wipe before free: secrets should not linger in freed heap. */
    volatile char *v = *p;
    while (*v) *v++ = 0;
    free(*p);
    *p = NULL;
  }
}

void gpx_ds_settings_reset(gpx_ds_settings *s) {
  gpx__free_secret(&s->password);
  gpx__free_secret(&s->tls_ca_cert);
  gpx__free_secret(&s->tls_client_cert);
  gpx__free_secret(&s->tls_client_key);
  memset(s, 0, sizeof *s);
}

int gpx_ds_timezone_valid(const char *tz) {
  size_t n = strlen(tz);
  if (n == 0 || n >= 64) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)tz[i];
    if (!(isalnum(ch) || ch == '/' || ch == '_' || ch == '-' || ch == '+')) return 0;
  }
  return 1;
}

/* A string setting: absent/null keeps the default; empty keeps it too for
   keys whose empty value means "default" (allow_empty = 0). */
static int gpx__str(json_t *o, const char *key, char *dst, size_t cap, int allow_empty,
                    gpx_error *err) {
  json_t *v = json_object_get(o, key);
  if (v == NULL || json_is_null(v)) return GPX_OK;
  if (!json_is_string(v)) return gpx_error_set(err, EINVAL, "jsonData.%s: must be a string", key);
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n == 0 && !allow_empty) return GPX_OK;
  if (n >= cap) return gpx_error_set(err, EINVAL, "jsonData.%s: longer than %zu characters", key, cap - 1);
  if (memchr(s, '\0', n) != NULL) return gpx_error_set(err, EINVAL, "jsonData.%s: contains a NUL character", key);
  memcpy(dst, s, n + 1);
  return GPX_OK;
}

/* Numbers may arrive as JSON numbers or as numeric strings (Grafana's
   Input components store what the user typed). */
static int gpx__num(json_t *o, const char *prefix, const char *key, double *dst, double lo, double hi,
                    int integer, gpx_error *err) {
  json_t *v = json_object_get(o, key);
  if (v == NULL || json_is_null(v)) return GPX_OK;
  double d;
  if (json_is_number(v)) {
    d = json_number_value(v);
  } else if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (*s == '\0') return GPX_OK;
    char *end = NULL;
    d = strtod(s, &end);
    while (end && isspace((unsigned char)*end)) end++;
    if (end == s || (end && *end != '\0'))
      return gpx_error_set(err, EINVAL, "%s%s: \"%.*s\" is not a number", prefix, key, (int)gpx_utf8_clip(s, 40), s);
  } else {
    return gpx_error_set(err, EINVAL, "%s%s: must be a number", prefix, key);
  }
  if (!isfinite(d) || d < lo || d > hi)
    return gpx_error_set(err, EINVAL, "%s%s: %g is out of range [%g, %g]", prefix, key, d, lo, hi);
  if (integer && d != floor(d)) return gpx_error_set(err, EINVAL, "%s%s: must be a whole number", prefix, key);
  *dst = d;
  return GPX_OK;
}

/* A boolean: true/false (or "true"/"false", as a form may store it). */
static int gpx__bool(json_t *o, const char *key, int *dst, gpx_error *err) {
  json_t *v = json_object_get(o, key);
  if (v == NULL || json_is_null(v)) return GPX_OK;
  if (json_is_boolean(v)) *dst = json_is_true(v);
  else if (json_is_string(v) && strcmp(json_string_value(v), "true") == 0) *dst = 1;
  else if (json_is_string(v) && strcmp(json_string_value(v), "false") == 0) *dst = 0;
  else return gpx_error_set(err, EINVAL, "jsonData.%s: must be true or false", key);
  return GPX_OK;
}

/* Shared with query parsing: the analytics keys have the same names in
   jsonData and in a query's overrides. */
int gpx_analytics_parse(json_t *o, const char *prefix, gpx_analytics_settings *a, gpx_error *err) {
  GPX_RETURN_NOT_OK(gpx__num(o, prefix, "initialCapital", &a->initial_capital, 1e-9, 1e15, 0, err));
  GPX_RETURN_NOT_OK(gpx__num(o, prefix, "annualization", &a->annualization, 1, 100000, 0, err));
  GPX_RETURN_NOT_OK(gpx__num(o, prefix, "riskFreeRate", &a->risk_free_rate, -0.99, 10, 0, err));
  json_t *tz = json_object_get(o, "timezone");
  if (tz != NULL && !json_is_null(tz)) {
    if (!json_is_string(tz)) return gpx_error_set(err, EINVAL, "%stimezone: must be a string", prefix);
    const char *s = json_string_value(tz);
    if (*s) {
      if (!gpx_ds_timezone_valid(s))
        return gpx_error_set(err, EINVAL, "%stimezone: \"%.*s\" is not a time-zone name (e.g. UTC, America/New_York)", prefix,
                             (int)gpx_utf8_clip(s, 64), s);
      snprintf(a->timezone, sizeof a->timezone, "%s", s);
    }
  }
  json_t *td = json_object_get(o, "tradingDays");
  if (td != NULL && !json_is_null(td)) {
    const char *s = json_is_string(td) ? json_string_value(td) : NULL;
    if (s == NULL) return gpx_error_set(err, EINVAL, "%stradingDays: must be \"all\" or \"weekdays\"", prefix);
    if (strcmp(s, "all") == 0) a->trading_days = 0;
    else if (strcmp(s, "weekdays") == 0) a->trading_days = 1;
    else if (*s) return gpx_error_set(err, EINVAL, "%stradingDays: must be \"all\" or \"weekdays\", not \"%.*s\"", prefix,
                                  (int)gpx_utf8_clip(s, 32), s);
  }
  return GPX_OK;
}

/* port: one number for every host, or a string listing one port per host
   of the host list ("5432,5433"), as libpq's own `port` keyword takes them.
   After host (the counts must match). */
static int gpx__port(json_t *o, gpx_ds_settings *s, gpx_error *err) {
  json_t *v = json_object_get(o, "port");
  const char *str = json_is_string(v) ? json_string_value(v) : NULL;
  if (str == NULL || strchr(str, ',') == NULL) {
    double d = s->port;
    int rc = gpx__num(o, "jsonData.", "port", &d, 1, 65535, 1, err);
    s->port = (int)d;
    return rc;
  }
  size_t hosts = 1, ports = 0, len = 0;
  for (const char *c = s->host; *c; c++) hosts += *c == ',';
  for (const char *p = str;;) {
    while (*p == ' ') p++;
    char *end = NULL;
    long n = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : 0;
    if (n < 1 || n > 65535 || len + 7 >= sizeof s->port_list)
      return gpx_error_set(err, EINVAL, "jsonData.port: \"%.*s\" is not a port number (1-65535) or a list of them "
                           "separated by commas", (int)gpx_utf8_clip(str, 60), str);
    if (ports++ == 0) s->port = (int)n;
    len += (size_t)snprintf(s->port_list + len, sizeof s->port_list - len, "%s%ld", len ? "," : "", n);
    for (p = end; *p == ' '; p++) {}
    if (*p == '\0') break;
    if (*p++ != ',')
      return gpx_error_set(err, EINVAL, "jsonData.port: \"%.*s\" is not a port number (1-65535) or a list of them "
                           "separated by commas", (int)gpx_utf8_clip(str, 60), str);
  }
  if (ports != hosts)
    return gpx_error_set(err, EINVAL, "jsonData.port: %zu ports for %zu hosts (give one port for all hosts, or one per host)",
                         ports, hosts);
  return GPX_OK;
}

/* targetSessionAttrs: which server of the host list to settle on (libpq's
   target_session_attrs, passed as it is). */
static int gpx__target_session_attrs(json_t *o, gpx_ds_settings *s, gpx_error *err) {
  static const char *const modes[] = {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"};
  json_t *v = json_object_get(o, "targetSessionAttrs");
  if (v == NULL || json_is_null(v)) return GPX_OK;
  if (!json_is_string(v)) return gpx_error_set(err, EINVAL, "jsonData.targetSessionAttrs: must be a string");
  const char *str = json_string_value(v);
  if (*str == '\0') return GPX_OK;
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (strcmp(str, modes[i]) == 0) {
      snprintf(s->target_session_attrs, sizeof s->target_session_attrs, "%s", str);
      return GPX_OK;
    }
  return gpx_error_set(err, EINVAL,
                       "jsonData.targetSessionAttrs: must be any, read-write, read-only, primary, standby or prefer-standby, "
                       "not \"%.*s\"", (int)gpx_utf8_clip(str, 32), str);
}

static char *gpx__dup_secret(const char *v) {
  if (v == NULL || *v == '\0') return NULL;
  return strdup(v);
}

int gpx_ds_settings_parse(const uint8_t *js, size_t len, const gpx_ds_secret *secure, size_t n_secure,
                          gpx_ds_settings *s, gpx_error *err) {
  gpx_ds_settings_default(s);
  json_t *o = NULL;
  if (len > 0) {
    json_error_t je;
    o = json_loadb((const char *)js, len, 0, &je);
    if (o == NULL) return gpx_error_set(err, EINVAL, "jsonData: invalid JSON (%s)", je.text);
    if (!json_is_object(o)) {
      json_decref(o);
      return gpx_error_set(err, EINVAL, "jsonData: must be a JSON object");
    }
  } else {
    o = json_object();
  }
  int rc = GPX_OK;
  double d;
#define TRY(x) \
  if (rc == GPX_OK) rc = (x)
  TRY(gpx__str(o, "host", s->host, sizeof s->host, 0, err));
  TRY(gpx__port(o, s, err));
  TRY(gpx__target_session_attrs(o, s, err));
  TRY(gpx__str(o, "database", s->database, sizeof s->database, 0, err));
  TRY(gpx__str(o, "user", s->user, sizeof s->user, 0, err));
  TRY(gpx__str(o, "sslmode", s->sslmode, sizeof s->sslmode, 0, err));
  if (rc == GPX_OK && strcmp(s->sslmode, "disable") && strcmp(s->sslmode, "require") &&
      strcmp(s->sslmode, "verify-ca") && strcmp(s->sslmode, "verify-full"))
    rc = gpx_error_set(err, EINVAL, "jsonData.sslmode: must be disable, require, verify-ca or verify-full");
  TRY(gpx__str(o, "sslRootCertPath", s->ssl_root_cert_path, sizeof s->ssl_root_cert_path, 1, err));
  TRY(gpx__str(o, "schema", s->schema, sizeof s->schema, 1, err));
  /* the preset first: table and columns override what it fills */
  json_t *pv = json_object_get(o, "preset");
  if (rc == GPX_OK && pv != NULL && !json_is_null(pv)) {
    const char *ps = json_is_string(pv) ? json_string_value(pv) : NULL;
    int found = ps && *ps == '\0' ? GPX_PRESET_DEFAULT : -1;
    for (int i = 0; ps && i < GPX_PRESET_COUNT; i++)
      if (strcmp(ps, gpx_preset_names[i]) == 0) found = i;
    if (found < 0) rc = gpx_error_set(err, EINVAL, "jsonData.preset: must be default or freqtrade");
    else s->preset = (gpx_preset)found;
  }
  TRY(gpx_ds_preset_apply(s->preset, s, err));
  TRY(gpx__str(o, "table", s->table, sizeof s->table, 0, err));
  TRY(gpx_ds_columns_parse(json_object_get(o, "columns"), "jsonData.columns.", s, err));
  TRY(gpx__str(o, "currency", s->currency, sizeof s->currency, 0, err));
  if (rc == GPX_OK) {
    for (const char *p = s->currency; *p; p++)
      if (!isalpha((unsigned char)*p)) rc = gpx_error_set(err, EINVAL, "jsonData.currency: must be an ISO code such as USD");
  }
  TRY(gpx_analytics_parse(o, "jsonData.", &s->analytics, err));
  d = s->max_open_connections;
  TRY(gpx__num(o, "jsonData.", "maxOpenConnections", &d, 1, 100, 1, err));
  s->max_open_connections = (int)d;
  d = s->query_timeout_s;
  TRY(gpx__num(o, "jsonData.", "queryTimeoutSeconds", &d, 1, 3600, 1, err));
  s->query_timeout_s = (int)d;
  d = s->row_limit;
  TRY(gpx__num(o, "jsonData.", "rowLimit", &d, 1, 1000000, 1, err));
  s->row_limit = (int)d;
  d = s->max_queued_queries;
  TRY(gpx__num(o, "jsonData.", "maxQueuedQueries", &d, 0, 10000, 1, err));
  s->max_queued_queries = (int)d;
  /* each running query holds a connection: more at once than the pool would only wait */
  d = 0; /* stays 0 when not given: the default, clamped to the pool */
  TRY(gpx__num(o, "jsonData.", "concurrentQueries", &d, 1, 100, 1, err));
  if (rc == GPX_OK && d > s->max_open_connections)
    rc = gpx_error_set(err, EINVAL, "jsonData.concurrentQueries: %g is more than maxOpenConnections (%d)", d,
                       s->max_open_connections);
  if (d > 0) s->concurrent_queries = (int)d;
  if (s->concurrent_queries > s->max_open_connections) s->concurrent_queries = s->max_open_connections;
  d = s->idle_connection_s;
  TRY(gpx__num(o, "jsonData.", "idleConnectionSeconds", &d, 0, 86400, 1, err));
  s->idle_connection_s = (int)d;
  d = s->live_poll_s;
  TRY(gpx__num(o, "jsonData.", "livePollSeconds", &d, 1, 3600, 1, err));
  s->live_poll_s = (int)d;
  d = s->max_live_channels;
  TRY(gpx__num(o, "jsonData.", "maxLiveChannels", &d, 0, 10000, 1, err));
  s->max_live_channels = (int)d;
  d = s->cache_mb;
  TRY(gpx__num(o, "jsonData.", "cacheMegabytes", &d, 0, 65536, 1, err));
  s->cache_mb = (int)d;
  TRY(gpx__bool(o, "cacheFingerprint", &s->cache_fingerprint, err));
#undef TRY
  json_decref(o);
  for (size_t i = 0; rc == GPX_OK && i < n_secure; i++) {
    const char *k = secure[i].key, *v = secure[i].value;
    if (k == NULL) continue;
    if (strcmp(k, "password") == 0) s->password = gpx__dup_secret(v);
    else if (strcmp(k, "tlsCACert") == 0) s->tls_ca_cert = gpx__dup_secret(v);
    else if (strcmp(k, "tlsClientCert") == 0) s->tls_client_cert = gpx__dup_secret(v);
    else if (strcmp(k, "tlsClientKey") == 0) s->tls_client_key = gpx__dup_secret(v);
  }
  if (rc != GPX_OK) gpx_ds_settings_reset(s);
  return rc;
}
