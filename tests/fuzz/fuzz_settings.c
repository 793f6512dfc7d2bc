/*
** fuzz_settings.c — data-source settings: jsonData + decrypted secrets →
** gpx_ds_settings_parse.
**
** The input is the jsonData object. Its "_secure" key (ignored by the
** parser, as Grafana's unknown keys are) is turned into the
** decryptedSecureJsonData entries, in order: a string value as is, any other
** value as a NULL value; one more entry with a NULL key ends the list.
**
** Properties: a parse either succeeds with every field in range (the
** documented domains of docs/query-model.md) or fails with a message
** (valid UTF-8) naming a jsonData field and keeps no secret; the secrets are the
** last non-empty value of their key and never shape a message (other
** secret values, the same outcome and message); parsing is deterministic; the same JSON through the per-query analytics parser
** (gpx_analytics_parse, shared with queries) agrees.
*/
#include <ctype.h>
#include <jansson.h>
#include <math.h>

#include "fuzz/fuzz_util.h"
#include "gpx/ds.h"

static int all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

static void check_str(const char *what, const char *s, size_t cap) {
  FUZZ_CHECK(memchr(s, 0, cap) != NULL, "%s is not NUL-terminated", what);
}

static void check_ok(const gpx_ds_settings *s) {
  check_str("host", s->host, sizeof s->host);
  check_str("database", s->database, sizeof s->database);
  check_str("user", s->user, sizeof s->user);
  check_str("sslmode", s->sslmode, sizeof s->sslmode);
  check_str("sslRootCertPath", s->ssl_root_cert_path, sizeof s->ssl_root_cert_path);
  check_str("schema", s->schema, sizeof s->schema);
  check_str("table", s->table, sizeof s->table);
  check_str("currency", s->currency, sizeof s->currency);
  check_str("timezone", s->analytics.timezone, sizeof s->analytics.timezone);
  FUZZ_CHECK(s->host[0] && s->database[0] && s->user[0] && s->table[0], "an empty required name");
  FUZZ_CHECK(s->port >= 1 && s->port <= 65535, "port %d", s->port);
  FUZZ_CHECK(!strcmp(s->sslmode, "disable") || !strcmp(s->sslmode, "require") || !strcmp(s->sslmode, "verify-ca") ||
                 !strcmp(s->sslmode, "verify-full"),
             "sslmode %s", s->sslmode);
  for (int c = 0; c < GPX_COL_COUNT; c++) {
    check_str("column", s->columns[c].name[0], sizeof s->columns[c].name[0]);
    FUZZ_CHECK(s->columns[c].n == 0 || s->columns[c].name[0][0] != 0, "column %s empty", gpx_col_names[c]);
  }
  for (const char *p = s->currency; *p; p++) FUZZ_CHECK(isalpha((unsigned char)*p), "currency %s", s->currency);
  const gpx_analytics_settings *a = &s->analytics;
  FUZZ_CHECK(isfinite(a->initial_capital) && a->initial_capital >= 1e-9 && a->initial_capital <= 1e15,
             "initialCapital %g", a->initial_capital);
  FUZZ_CHECK(isfinite(a->annualization) && a->annualization >= 1 && a->annualization <= 100000, "annualization %g",
             a->annualization);
  FUZZ_CHECK(isfinite(a->risk_free_rate) && a->risk_free_rate >= -0.99 && a->risk_free_rate <= 10, "riskFreeRate %g",
             a->risk_free_rate);
  FUZZ_CHECK(gpx_ds_timezone_valid(a->timezone), "timezone %s", a->timezone);
  FUZZ_CHECK(a->trading_days == 0 || a->trading_days == 1, "tradingDays %d", a->trading_days);
  FUZZ_CHECK(s->max_open_connections >= 1 && s->max_open_connections <= 100, "maxOpenConnections %d",
             s->max_open_connections);
  FUZZ_CHECK(s->query_timeout_s >= 1 && s->query_timeout_s <= 3600, "queryTimeoutSeconds %d", s->query_timeout_s);
  FUZZ_CHECK(s->row_limit >= 1 && s->row_limit <= 1000000, "rowLimit %d", s->row_limit);
}

/* The value the parser must keep for a secret: the last non-empty one. */
static const char *expected_secret(const gpx_ds_secret *sec, size_t n, const char *key) {
  const char *v = NULL;
  for (size_t i = 0; i < n; i++)
    if (sec[i].key && strcmp(sec[i].key, key) == 0) v = sec[i].value && *sec[i].value ? sec[i].value : NULL;
  return v;
}

static void check_secret(const char *got, const char *want, const char *key) {
  if (want == NULL) FUZZ_CHECK(got == NULL, "%s set to \"%s\" without a value", key, got);
  else FUZZ_CHECK(got && strcmp(got, want) == 0, "%s not kept", key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 64 * 1024) return 0;
  json_error_t je;
  json_t *root = json_loadb((const char *)data, size, 0, &je);
  json_t *sj = json_object_get(root, "_secure");
  size_t ns = json_is_object(sj) ? json_object_size(sj) : 0;
  gpx_ds_secret *sec = calloc(ns + 1, sizeof *sec);
  FUZZ_CHECK(sec != NULL, "out of memory");
  size_t k = 0;
  const char *key;
  json_t *v;
  if (ns) json_object_foreach(sj, key, v) {
      sec[k].key = key;
      sec[k].value = json_is_string(v) ? json_string_value(v) : NULL;
      k++;
    }
  sec[k].key = NULL; /* a NULL key is skipped */
  sec[k].value = "ignored";
  k++;

  gpx_ds_settings s, s2;
  gpx_error err, err2;
  memset(&err, 0, sizeof err);
  int rc = gpx_ds_settings_parse(data, size, sec, k, &s, &err);
  int rc2 = gpx_ds_settings_parse(data, size, sec, k, &s2, &err2);
  FUZZ_CHECK(rc == rc2, "not deterministic: %d then %d", rc, rc2);
  gpx_ds_settings_reset(&s2);
  /* secrets never reach a message: other secret values, the same outcome */
  gpx_ds_secret *other = calloc(k, sizeof *other);
  FUZZ_CHECK(other != NULL, "out of memory");
  for (size_t i = 0; i < k; i++) other[i] = (gpx_ds_secret){sec[i].key, sec[i].value ? "other-secret" : NULL};
  memset(&err2, 0, sizeof err2);
  rc2 = gpx_ds_settings_parse(data, size, other, k, &s2, &err2);
  FUZZ_CHECK(rc == rc2, "the secrets' values changed the outcome: %d vs %d", rc, rc2);
  if (rc) FUZZ_CHECK(strcmp(err.msg, err2.msg) == 0, "the secrets' values changed the message:\n%s\n%s", err.msg,
                     err2.msg);
  free(other);
  if (rc != GPX_OK) {
    FUZZ_CHECK(rc == EINVAL, "rc %d", rc);
    FUZZ_CHECK(strncmp(err.msg, "jsonData", 8) == 0, "message does not name the field: %s", err.msg);
    FUZZ_CHECK(fz_utf8_valid(err.msg, strlen(err.msg)), "message is not UTF-8: %s", err.msg);
    /* defaults or zeroes, but never a secret left behind */
    FUZZ_CHECK(!s.password && !s.tls_ca_cert && !s.tls_client_cert && !s.tls_client_key, "secret kept after a failure");
  } else {
    check_ok(&s);
    check_secret(s.password, expected_secret(sec, k, "password"), "password");
    check_secret(s.tls_ca_cert, expected_secret(sec, k, "tlsCACert"), "tlsCACert");
    check_secret(s.tls_client_cert, expected_secret(sec, k, "tlsClientCert"), "tlsClientCert");
    check_secret(s.tls_client_key, expected_secret(sec, k, "tlsClientKey"), "tlsClientKey");
    /* the analytics keys parse the same way on their own (query overrides) */
    gpx_analytics_settings a;
    gpx_ds_settings d;
    gpx_ds_settings_default(&d);
    a = d.analytics;
    json_t *o = json_is_object(root) ? root : NULL;
    if (o) {
      int arc = gpx_analytics_parse(o, "jsonData.", &a, &err);
      FUZZ_CHECK(arc == GPX_OK, "analytics parse disagrees: %s", err.msg);
      FUZZ_CHECK(a.initial_capital == s.analytics.initial_capital && a.annualization == s.analytics.annualization &&
                     a.risk_free_rate == s.analytics.risk_free_rate && a.trading_days == s.analytics.trading_days &&
                     strcmp(a.timezone, s.analytics.timezone) == 0,
                 "analytics differ");
    }
    gpx_ds_settings_reset(&s);
    FUZZ_CHECK(all_zero(&s, sizeof s), "reset leaves data");
    gpx_ds_settings_reset(&s); /* safe twice */
  }
  gpx_ds_settings_reset(&s2);
  free(sec);
  json_decref(root);
  return 0;
}
