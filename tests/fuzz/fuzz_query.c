/*
** fuzz_query.c — query JSON → gpx_query_parse → every SQL builder.
**
** The input is the query JSON exactly as Grafana would hand it in
** (DataQuery.json). A few keys the parser ignores steer the harness, so a
** seed stays one readable JSON file: "_from"/"_to" (epoch ms),
** "_interval", "_maxPoints", "_pbQueryType" (DataQuery.queryType),
** "_allowTest", "_settings" (a jsonData object for the data source) and
** "_q"/"_limit" (a resource's substring filter and limit).
**
** Properties, beyond "no crash, no leak, no undefined behaviour":
**  - gpx_query_kind_find answers -1 or the index of exactly that name, and
**    never a test-only kind unless allowed;
**  - a refused query has a message, valid UTF-8;
**  - a parsed query is in range (kind, groupBy, metrics, limit, time range
**    whose ends and span fit in int64 nanoseconds);
**  - every statement builds; its text has balanced quotes and only $1..$n
**    outside them, each parameter used;
**  - values are parameters: rewriting every data string of the JSON (the
**    strategies/symbols/accounts entries, the adhocFilters values other
**    than "(none)", and the timezone) to a different
**    string of another length, or shifting the time range, leaves every
**    SQL text byte-identical with the same number of parameters;
**  - identifiers are quoted: with the settings' table, schema and column
**    names replaced by "x", each text is the same once quoted identifiers
**    are blanked out.
*/
#include <jansson.h>

#include "fuzz/fuzz_util.h"
#include "query/query_int.h"

enum { NDEF = 8, NSTMT = NDEF + 1 + GPX_COL_COUNT + 1 }; /* statements, days, distinct per column, count/span */

typedef struct built {
  char *text[NSTMT];
  int nparams[NSTMT];
  char *params[NSTMT][GPX_SQL_MAX_PARAMS];
} built;

static void built_reset(built *b) {
  for (int i = 0; i < NSTMT; i++) {
    free(b->text[i]);
    for (int k = 0; k < b->nparams[i]; k++) free(b->params[i][k]);
  }
  memset(b, 0, sizeof *b);
}

static void keep(built *b, int i, gpx_sql *sql) {
  b->text[i] = strdup(gpx_sql_cstr(sql));
  FUZZ_CHECK(b->text[i] != NULL, "out of memory");
  b->nparams[i] = sql->n;
  for (int k = 0; k < sql->n; k++) b->params[i][k] = strdup(sql->params[k]);
}

/* Lexical sanity of one statement: quotes balanced, $k only for 1..n outside
   quotes, every parameter referenced. */
static void check_text(const char *name, const char *t, int n) {
  int used[GPX_SQL_MAX_PARAMS + 1] = {0};
  char q = 0;
  for (const char *p = t; *p; p++) {
    if (q) {
      if (*p == q) {
        if (p[1] == q) p++; /* doubled quote inside */
        else q = 0;
      }
      continue;
    }
    if (*p == '"' || *p == '\'') {
      q = *p;
    } else if (*p == '$') {
      char *end;
      long k = strtol(p + 1, &end, 10);
      FUZZ_CHECK(end != p + 1 && k >= 1 && k <= n, "%s: bad parameter reference near \"%.40s\" (n=%d)\n%s", name, p, n,
                 t);
      used[k] = 1;
      p = end - 1;
    } else {
      FUZZ_CHECK(*p != ';', "%s: a ';' outside quotes\n%s", name, t);
    }
  }
  FUZZ_CHECK(q == 0, "%s: unbalanced %c quote\n%s", name, q, t);
  for (int k = 1; k <= n; k++) FUZZ_CHECK(used[k], "%s: parameter $%d is never used\n%s", name, k, t);
}

/* The text with every double-quoted identifier blanked to "". */
static char *skeleton(const char *t) {
  char *o = malloc(strlen(t) + 1), *w = o;
  FUZZ_CHECK(o != NULL, "out of memory");
  for (const char *p = t; *p; p++) {
    *w++ = *p;
    if (*p == '\'') { /* copy literals verbatim */
      for (p++; *p; p++) {
        *w++ = *p;
        if (*p == '\'' && p[1] != '\'') break;
        if (*p == '\'') *w++ = *++p;
      }
      if (!*p) break;
    } else if (*p == '"') {
      for (p++; *p; p++) {
        if (*p == '"' && p[1] == '"') p++;
        else if (*p == '"') break;
      }
      *w++ = '"';
      if (!*p) break;
    }
  }
  *w = 0;
  return o;
}

static const char *const stmt_names[NSTMT] = {"base",   "buckets", "trade stream", "daily", "slippage",
                                             "trades", "stats stream", "stats legs", "days"};

/* Build every statement for (s, q) into b. */
static void build_all(const gpx_ds_settings *s, const gpx_query *q, const char *substr, int limit, built *b) {
  const gpx_stmt_def *defs[NDEF] = {&gpx_stmt_base,   &gpx_stmt_buckets,      &gpx_stmt_trade_stream,
                                    &gpx_stmt_daily,  &gpx_stmt_slippage,     &gpx_stmt_trades,
                                    &gpx_stmt_stats_stream, &gpx_stmt_stats_legs};
  int64_t width = gpx_query_bucket_ns(q);
  FUZZ_CHECK(width >= 1, "bucket width %lld", (long long)width);
  gpx_stmt st = {0};
  for (int i = 0; i < NDEF; i++) {
    int rc = gpx_stmt_build(&st, defs[i], s, q, width, q->limit);
    FUZZ_CHECK(rc == GPX_OK, "%s: build failed (%d)", defs[i]->name, rc);
    FUZZ_CHECK(st.first == (defs[i]->grouped && q->group_by != GPX_GROUP_NONE), "%s: first %d", defs[i]->name,
               st.first);
    check_text(defs[i]->name, gpx_sql_cstr(&st.sql), st.sql.n);
    keep(b, i, &st.sql);
    gpx_stmt_reset(&st);
  }
  FUZZ_CHECK(gpx_sql_days(&st, q) == GPX_OK, "days: build failed");
  check_text("days", gpx_sql_cstr(&st.sql), st.sql.n);
  keep(b, NDEF, &st.sql);
  gpx_stmt_reset(&st);
  gpx_sql sql = {0};
  for (int c = 0; c < GPX_COL_COUNT; c++) {
    FUZZ_CHECK(gpx_sql_distinct(&sql, s, (gpx_col)c, substr, limit) == GPX_OK, "distinct %d", c);
    check_text("distinct", gpx_sql_cstr(&sql), sql.n);
    keep(b, NDEF + 1 + c, &sql);
    gpx_sql_reset(&sql);
  }
  FUZZ_CHECK(gpx_sql_count_span(&sql, s) == GPX_OK, "count/span");
  check_text("count/span", gpx_sql_cstr(&sql), sql.n);
  keep(b, NSTMT - 1, &sql);
  gpx_sql_reset(&sql);
}

static void same_texts(const built *a, const built *b, const char *why) {
  for (int i = 0; i < NSTMT; i++) {
    const char *n = i <= NDEF ? stmt_names[i] : i < NSTMT - 1 ? "distinct" : "count/span";
    FUZZ_CHECK(strcmp(a->text[i], b->text[i]) == 0, "%s changed the SQL of %s:\n%s\n---\n%s", why, n, a->text[i],
               b->text[i]);
    FUZZ_CHECK(a->nparams[i] == b->nparams[i], "%s changed the parameter count of %s: %d vs %d", why, n,
               a->nparams[i], b->nparams[i]);
  }
}

static void same_skeletons(const built *a, const built *b) {
  for (int i = 0; i < NSTMT; i++) {
    char *x = skeleton(a->text[i]), *y = skeleton(b->text[i]);
    FUZZ_CHECK(strcmp(x, y) == 0, "identifiers leak out of their quotes:\n%s\n---\n%s", a->text[i], b->text[i]);
    free(x);
    free(y);
  }
}

/* A data string of t bytes (t >= 2) unlike any the parser treats specially. */
static json_t *other_value_t(size_t t) {
  static const char fill[] = "x'\"\\;$1 --)";
  char *r = malloc(t + 3);
  FUZZ_CHECK(r != NULL, "out of memory");
  memcpy(r, "\xc3\xa9", 2); /* é: non-ASCII, 2 bytes */
  for (size_t i = 2; i < t; i++) r[i] = fill[i % (sizeof fill - 1)];
  r[t] = 0;
  json_t *v = json_stringn(r, t);
  free(r);
  FUZZ_CHECK(v != NULL, "replacement is not UTF-8");
  return v;
}

/* A different data string of another length that parses the same way. */
static json_t *other_value(const char *s, size_t len) {
  (void)s;
  return other_value_t(len < 256 ? len + 3 : len - 3);
}

static json_t *other_timezone(size_t len) {
  static const char *const tz[] = {"UTC", "Asia/Tokyo", "America/Argentina/Buenos_Aires"};
  for (int i = 0; i < 3; i++)
    if (strlen(tz[i]) != len) return json_string(tz[i]);
  return json_string("UTC");
}

/* Rewrite every data string value (list entries and timezone) in place. */
static int mutate_values(json_t *root) {
  int changed = 0;
  static const char *const lists[] = {"strategies", "symbols", "accounts"};
  for (int l = 0; l < 3; l++) {
    json_t *a = json_object_get(root, lists[l]);
    for (size_t i = 0; json_is_array(a) && i < json_array_size(a); i++) {
      json_t *e = json_array_get(a, i);
      /* "$__all" is no filter and "(none)" the NULLs (issue 12): other SQL, not other values */
      if (!json_is_string(e) || strcmp(json_string_value(e), "$__all") == 0 ||
          strcmp(json_string_value(e), "(none)") == 0)
        continue;
      json_array_set_new(a, i, other_value(json_string_value(e), json_string_length(e)));
      changed = 1;
    }
  }
  /* ad-hoc values: "(none)" means NULL (other SQL), and a value stays within
     its limits (1000 bytes, a regex 256): longer ones shrink */
  json_t *ah = json_object_get(root, "adhocFilters");
  for (size_t i = 0; json_is_array(ah) && i < json_array_size(ah); i++) {
    json_t *v = json_object_get(json_array_get(ah, i), "value");
    if (!json_is_string(v) || strcmp(json_string_value(v), "(none)") == 0) continue;
    size_t len = json_string_length(v);
    json_object_set_new(json_array_get(ah, i), "value", other_value_t(len >= 200 ? len - 3 : len + 3));
    changed = 1;
  }
  json_t *tz = json_object_get(root, "timezone");
  if (json_is_string(tz) && json_string_length(tz) > 0) {
    json_object_set_new(root, "timezone", other_timezone(json_string_length(tz)));
    changed = 1;
  }
  return changed;
}

static int64_t jint(json_t *root, const char *key, int64_t def) {
  json_t *v = json_object_get(root, key);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static void check_kind_find(const char *name) {
  for (int allow = 0; allow < 2; allow++) {
    int k = gpx_query_kind_find(name, allow);
    if (k < 0) {
      FUZZ_CHECK(k == -1, "kind_find returned %d", k);
      continue;
    }
    FUZZ_CHECK((size_t)k < gpx_query_kind_count(), "kind_find returned %d of %zu", k, gpx_query_kind_count());
    FUZZ_CHECK(strcmp(gpx_query_kinds[k].name, name) == 0, "kind_find(\"%s\") = %s", name, gpx_query_kinds[k].name);
    FUZZ_CHECK(allow || !(gpx_query_kinds[k].flags & GPX_QKIND_TEST_ONLY), "test-only kind %s found", name);
  }
}

static void check_query(const gpx_query *q, const gpx_ds_settings *s, const gpx_query_input *in) {
  FUZZ_CHECK(q->kind >= 0 && (size_t)q->kind < gpx_query_kind_count(), "kind %d", q->kind);
  FUZZ_CHECK(in->allow_test || !(gpx_query_kinds[q->kind].flags & GPX_QKIND_TEST_ONLY), "test-only kind parsed");
  if (gpx_query_kinds[q->kind].flags & GPX_QKIND_NO_DATASOURCE) return; /* reads its own JSON */
  FUZZ_CHECK(q->group_by >= GPX_GROUP_NONE && q->group_by < GPX_GROUP_COUNT, "groupBy %d", (int)q->group_by);
  FUZZ_CHECK(q->n_metrics >= 1 && q->n_metrics <= GPX_STATS_NFIELDS, "n_metrics %d", q->n_metrics);
  for (int i = 0; i < q->n_metrics; i++) {
    FUZZ_CHECK(q->metrics[i] >= 0 && q->metrics[i] < GPX_STATS_NFIELDS, "metric %d", q->metrics[i]);
    for (int k = 0; k < i; k++) FUZZ_CHECK(q->metrics[k] != q->metrics[i], "metric %d twice", q->metrics[i]);
  }
  FUZZ_CHECK(q->limit >= 1 && q->limit <= s->row_limit, "limit %lld (rowLimit %d)", (long long)q->limit, s->row_limit);
  FUZZ_CHECK(q->from_ms <= q->to_ms, "from after to");
  /* the runners compute from·10⁶, to·10⁶ and (to − from)·10⁶ + 1 in int64 */
  int64_t ns;
  FUZZ_CHECK(!__builtin_mul_overflow(q->from_ms, 1000000, &ns) && !__builtin_mul_overflow(q->to_ms, 1000000, &ns) &&
                 !__builtin_mul_overflow(q->to_ms - q->from_ms, 1000000, &ns) && ns < INT64_MAX,
             "time range [%lld, %lld] ms does not fit in int64 ns", (long long)q->from_ms, (long long)q->to_ms);
  FUZZ_CHECK(q->interval_ms > 0 && q->max_points >= 1 && q->max_points <= 100000, "interval/maxPoints");
  FUZZ_CHECK(gpx_ds_timezone_valid(q->a.timezone), "timezone \"%s\"", q->a.timezone);
  for (int i = 0; i < GPX_DIM_COUNT; i++) {
    const char *f = q->filter[i];
    if (f == NULL) continue;
    size_t n = strlen(f);
    FUZZ_CHECK(n >= 4 && f[0] == '{' && f[1] == '"' && f[n - 2] == '"' && f[n - 1] == '}', "filter %s", f);
  }
  for (int i = 0; i < GPX_DIM_COUNT; i++)
    for (int o = 0; o < GPX_ADHOC_NOPS; o++) {
      const char *f = q->adhoc[i].values[o];
      if (f == NULL) continue;
      size_t n = strlen(f);
      FUZZ_CHECK(n >= 4 && f[0] == '{' && f[1] == '"' && f[n - 2] == '"' && f[n - 1] == '}', "ad-hoc array %s", f);
    }
}

/* Settings with every identifier replaced by "x". */
static void plain_identifiers(gpx_ds_settings *s) {
  if (s->schema[0]) snprintf(s->schema, sizeof s->schema, "x");
  snprintf(s->table, sizeof s->table, "x");
  for (int c = 0; c < GPX_COL_COUNT; c++) snprintf(s->columns[c].name[0], sizeof s->columns[c].name[0], "x");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 64 * 1024) return 0;
  char *raw = malloc(size + 1);
  FUZZ_CHECK(raw != NULL, "out of memory");
  memcpy(raw, data, size);
  raw[size] = 0;
  check_kind_find(raw);

  json_error_t je;
  json_t *root = json_loadb((const char *)data, size, 0, &je);
  if (!json_is_object(root)) {
    json_decref(root);
    root = json_object();
  }
  json_t *qt = json_object_get(root, "queryType");
  if (json_is_string(qt)) check_kind_find(json_string_value(qt));

  gpx_ds_settings s;
  gpx_error err;
  json_t *sj = json_object_get(root, "_settings");
  char *sjs = json_is_object(sj) ? json_dumps(sj, JSON_COMPACT) : NULL;
  if (sjs == NULL || gpx_ds_settings_parse((const uint8_t *)sjs, strlen(sjs), NULL, 0, &s, &err) != GPX_OK)
    gpx_ds_settings_default(&s);
  free(sjs);

  gpx_query_input in = {0};
  in.ref_id = "A";
  json_t *pqt = json_object_get(root, "_pbQueryType");
  in.query_type = json_is_string(pqt) ? json_string_value(pqt) : NULL;
  if (in.query_type) check_kind_find(in.query_type);
  in.json = data;
  in.json_len = size;
  in.has_time_range = json_object_get(root, "_noTimeRange") == NULL;
  in.from_ms = jint(root, "_from", INT64_C(1700000000000));
  in.to_ms = jint(root, "_to", INT64_C(1700086400000));
  in.interval_ms = jint(root, "_interval", 1000);
  in.max_points = jint(root, "_maxPoints", 1000);
  in.allow_test = json_is_true(json_object_get(root, "_allowTest"));
  json_t *jq = json_object_get(root, "_q");
  const char *substr = json_is_string(jq) ? json_string_value(jq) : "";
  int limit = (int)jint(root, "_limit", 100);

  gpx_query q;
  memset(&err, 0, sizeof err);
  int rc = gpx_query_parse(&in, &s, &q, &err);
  if (rc != GPX_OK) {
    FUZZ_CHECK(err.msg[0] != 0, "parse failed (%d) without a message", rc);
    FUZZ_CHECK(fz_utf8_valid(err.msg, strlen(err.msg)), "message is not UTF-8: %s", err.msg);
    for (int i = 0; i < GPX_DIM_COUNT; i++) {
      FUZZ_CHECK(q.filter[i] == NULL, "filter kept after a failed parse");
      for (int o = 0; o < GPX_ADHOC_NOPS; o++) FUZZ_CHECK(q.adhoc[i].values[o] == NULL, "ad-hoc filter kept after a failed parse");
    }
  } else if (!(gpx_query_kinds[q.kind].flags & GPX_QKIND_NO_DATASOURCE)) {
    check_query(&q, &s, &in);
    built a = {0}, b = {0};
    build_all(&s, &q, substr, limit, &a);

    /* values are parameters: other data strings, same SQL */
    json_t *m = json_deep_copy(root);
    if (m && mutate_values(m)) {
      json_t *sub = json_object_get(m, "_q");
      if (json_is_string(sub) && json_string_length(sub) > 0)
        json_object_set_new(m, "_q", other_value(NULL, json_string_length(sub)));
      char *mj = json_dumps(m, JSON_COMPACT);
      FUZZ_CHECK(mj != NULL, "dump failed");
      gpx_query_input in2 = in;
      in2.json = (const uint8_t *)mj;
      in2.json_len = strlen(mj);
      gpx_query q2;
      int rc2 = gpx_query_parse(&in2, &s, &q2, &err);
      FUZZ_CHECK(rc2 == GPX_OK, "other data strings made the query invalid: %s\n%s", err.msg, mj);
      json_t *sub2 = json_object_get(m, "_q");
      build_all(&s, &q2, json_is_string(sub2) ? json_string_value(sub2) : "", limit, &b);
      same_texts(&a, &b, "other string values");
      built_reset(&b);
      gpx_query_reset(&q2);
      free(mj);
    }
    json_decref(m);

    /* the time range is a parameter too */
    if (in.to_ms < INT64_MAX / 2 / 1000000) {
      gpx_query_input in3 = in;
      in3.from_ms += 1;
      in3.to_ms += 1;
      gpx_query q3;
      FUZZ_CHECK(gpx_query_parse(&in3, &s, &q3, &err) == GPX_OK, "shifted range invalid: %s", err.msg);
      build_all(&s, &q3, substr, limit, &b);
      same_texts(&a, &b, "a shifted time range");
      built_reset(&b);
      gpx_query_reset(&q3);
    }

    /* identifiers stay inside their quotes */
    gpx_ds_settings plain = s;
    plain_identifiers(&plain);
    build_all(&plain, &q, substr, limit, &b);
    same_skeletons(&a, &b);
    built_reset(&b);
    built_reset(&a);
  }
  gpx_query_reset(&q);
  gpx_ds_settings_reset(&s);
  json_decref(root);
  free(raw);
  return 0;
}
