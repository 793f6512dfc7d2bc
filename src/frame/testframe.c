/*
** testframe.c — deterministic test frames (case list in gpx/frame.h).
**
** Used by tools/frame_gen (golden files and the property test checked by the
** Grafana SDK's decoder) and, through a test-only query type, by the gRPC
** layer so the Go harness can check frames end to end. The "random" case
** records every value it appends into a JSON description *as it generates
** it*, so the description never comes from the frame buffers or the Arrow
** path it is used to check.
**
** This is test support, not product code: no query path may call it.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpx/frame.h"

#define CK(expr)                          \
  do {                                    \
    int ck__rc = (expr);                  \
    if (ck__rc) return ck__rc;            \
  } while (0)

static const int64_t T0 = 1700000000000000000LL; /* 2023-11-14, in ns */

static gpx_field *add(gpx_frame *f, const char *name, gpx_field_type t, int nullable,
                      gpx_error *err) {
  return gpx_frame_add_field(f, name, t, nullable, err);
}

#define ADD(var, ...)                           \
  gpx_field *var = add(f, __VA_ARGS__, err);    \
  if (var == NULL) return ENOMEM

/* ---- golden cases -------------------------------------------------------- */

/* One field per type; `nulls` puts a null in row 1 (and row 3 for some). */
static int all_types(gpx_frame *f, int nullable, int nulls, gpx_error *err) {
  size_t rows = nulls ? 4 : 3;
  ADD(t, "time", GPX_FIELD_TIME, nullable);
  ADD(d, "value", GPX_FIELD_FLOAT64, nullable);
  ADD(i, "count", GPX_FIELD_INT64, nullable);
  ADD(s, "symbol", GPX_FIELD_STRING, nullable);
  ADD(b, "win", GPX_FIELD_BOOL, nullable);
  ADD(j, "extra", GPX_FIELD_JSON, nullable);
  static const int64_t tv[] = {T0, T0 + 1000000000LL, -1, INT64_MAX};
  static const double dv[] = {1.5, -2.25, 0.0, 1e300};
  static const int64_t iv[] = {0, -9007199254740993LL, INT64_MIN, 42};
  static const char *const sv[] = {"BTC-USD", "", "ETH-USD", "x"};
  static const int bv[] = {1, 0, 1, 1};
  static const char *const jv[] = {"{\"a\":1}", "[1,2,3]", "\"s\"", "null"};
  for (size_t r = 0; r < rows; r++) {
    if (nulls && (r == 1 || r == 3)) {
      /* row 1 null everywhere; row 3 null only in odd-numbered fields */
      int odd_only = (r == 3);
      gpx_field *fs[] = {t, d, i, s, b, j};
      for (int k = 0; k < 6; k++) {
        if (!odd_only || (k % 2)) {
          CK(gpx_field_append_null(fs[k], err));
          continue;
        }
        switch (k) {
          case 0: CK(gpx_field_append_time(t, tv[r], err)); break;
          case 2: CK(gpx_field_append_i64(i, iv[r], err)); break;
          case 4: CK(gpx_field_append_bool(b, bv[r], err)); break;
        }
      }
      continue;
    }
    CK(gpx_field_append_time(t, tv[r], err));
    CK(gpx_field_append_f64(d, dv[r], err));
    CK(gpx_field_append_i64(i, iv[r], err));
    CK(gpx_field_append_str(s, sv[r], strlen(sv[r]), err));
    CK(gpx_field_append_bool(b, bv[r], err));
    CK(gpx_field_append_json(j, jv[r], strlen(jv[r]), err));
  }
  return 0;
}

static int zero_rows(gpx_frame *f, gpx_error *err) {
  ADD(a, "time", GPX_FIELD_TIME, 0);
  ADD(b, "value", GPX_FIELD_FLOAT64, 1);
  ADD(c, "count", GPX_FIELD_INT64, 0);
  ADD(d, "symbol", GPX_FIELD_STRING, 1);
  ADD(e, "win", GPX_FIELD_BOOL, 0);
  ADD(g, "extra", GPX_FIELD_JSON, 1);
  (void)a, (void)b, (void)c, (void)d, (void)e, (void)g;
  return 0;
}

static int unicode(gpx_frame *f, gpx_error *err) {
  static const char *const sv[] = {"", "plain", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
                                   "\xf0\x9f\x9a\x80 rocket", "", "mixed \xc3\xb1 \xe4\xb8\xad \xf0\x9f\x8e\x89"};
  ADD(s, "n\xc3\xa4me \xe2\x82\xac", GPX_FIELD_STRING, 0);
  ADD(n, "text?", GPX_FIELD_STRING, 1);
  CK(gpx_field_set_label(s, "l\xc3\xa4" "bel", "\xe5\x80\xa4", err));
  for (size_t r = 0; r < sizeof sv / sizeof sv[0]; r++) {
    CK(gpx_field_append_str(s, sv[r], strlen(sv[r]), err));
    if (r == 2)
      CK(gpx_field_append_null(n, err));
    else
      CK(gpx_field_append_str(n, sv[r], strlen(sv[r]), err));
  }
  return 0;
}

static int labels_config(gpx_frame *f, gpx_error *err) {
  ADD(t, "time", GPX_FIELD_TIME, 0);
  ADD(v, "equity", GPX_FIELD_FLOAT64, 0);
  CK(gpx_field_set_label(v, "strategy", "momentum", err));
  CK(gpx_field_set_label(v, "symbol", "BTC-USD", err));
  CK(gpx_field_set_unit(v, "currencyUSD", err));
  CK(gpx_field_set_display_name_from_ds(v, "Portfolio value", err));
  CK(gpx_field_set_decimals(v, 2, err));
  CK(gpx_field_set_min(v, -10.0, err));
  CK(gpx_field_set_max(v, 10.5, err));
  CK(gpx_field_set_description(v, "Equity after each trade", err));
  CK(gpx_field_add_threshold(v, 0, 0, 0, "red", err));
  CK(gpx_field_add_threshold(v, 0, 1, 100000, "green", err));
  CK(gpx_frame_set_type(f, GPX_FRAME_TYPE_TIMESERIES_MULTI, 0, 1, err));
  CK(gpx_frame_set_executed_query(f, "SELECT closed_at, realized_pnl FROM trades WHERE strategy = $1", err));
  CK(gpx_frame_add_notice(f, GPX_NOTICE_WARNING, "row limit reached", err));
  CK(gpx_frame_add_notice(f, GPX_NOTICE_INFO, "2 trades", err));
  json_t *custom = json_pack("{s:i, s:{s:[i,i]}}", "rows", 2, "nested", "a", 1, 2);
  CK(gpx_frame_set_custom(f, custom, err));
  CK(gpx_field_append_time(t, T0, err));
  CK(gpx_field_append_time(t, T0 + 60000000000LL, err));
  CK(gpx_field_append_f64(v, 100000.0, err));
  CK(gpx_field_append_f64(v, 100250.5, err));
  return 0;
}

static int nan_to_null(gpx_frame *f, gpx_error *err) {
  ADD(v, "value", GPX_FIELD_FLOAT64, 0);
  ADD(w, "bulk", GPX_FIELD_FLOAT64, 0);
  const double vals[] = {1.5, NAN, INFINITY, -INFINITY, -2.25};
  for (size_t r = 0; r < 5; r++) CK(gpx_field_append_f64(v, vals[r], err));
  CK(gpx_field_append_f64s(w, vals, 5, err));
  return 0;
}

static int split3(gpx_frame *f, gpx_error *err) {
  ADD(t, "time", GPX_FIELD_TIME, 0);
  ADD(d, "value", GPX_FIELD_FLOAT64, 1);
  ADD(s, "row", GPX_FIELD_STRING, 0);
  ADD(b, "flag", GPX_FIELD_BOOL, 0);
  char txt[32];
  for (int64_t i = 0; i < 20000; i++) {
    CK(gpx_field_append_time(t, T0 + i * 1000000000LL, err));
    if (i % 5 == 0)
      CK(gpx_field_append_null(d, err));
    else
      CK(gpx_field_append_f64(d, (double)i / 8.0, err));
    int n = snprintf(txt, sizeof txt, "row-%05d", (int)i);
    CK(gpx_field_append_str(s, txt, (size_t)n, err));
    CK(gpx_field_append_bool(b, i % 3 == 0, err));
  }
  /* ≈29.25 body bytes per row, 585 kB in all: 200 kB per batch → 3 batches. */
  f->max_batch_bytes = 200000;
  return 0;
}

static int big_1m(gpx_frame *f, gpx_error *err) {
  const int64_t n = 1000000;
  ADD(t, "time", GPX_FIELD_TIME, 0);
  ADD(d, "value", GPX_FIELD_FLOAT64, 1);
  ADD(k, "count", GPX_FIELD_INT64, 0);
  int64_t *tmp = malloc((size_t)n * sizeof *tmp);
  if (tmp == NULL) return gpx_error_set(err, ENOMEM, "testframe: out of memory");
  for (int64_t i = 0; i < n; i++) tmp[i] = T0 + i * 1000000000LL;
  int rc = gpx_field_append_i64s(t, tmp, (size_t)n, err);
  for (int64_t i = 0; i < n && !rc; i++) tmp[i] = i * i - 500000000000LL;
  if (!rc) rc = gpx_field_append_i64s(k, tmp, (size_t)n, err);
  free(tmp);
  CK(rc);
  CK(gpx_field_reserve(d, (size_t)n, err));
  for (int64_t i = 0; i < n; i++) {
    double v = i % 97 == 0 ? NAN : (double)(i % 1000) * 0.25 - 100.0;
    CK(gpx_field_append_f64(d, v, err));
  }
  return 0;
}

/* ---- random case ----------------------------------------------------------- */

typedef struct rng { uint64_t s; } rng;

static uint64_t next(rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
static uint64_t below(rng *r, uint64_t n) { return n ? next(r) % n : 0; }

/* Random UTF-8 text of 0..maxcp code points (never NUL, never surrogates). */
static void rand_text(rng *r, size_t maxcp, gpx_buf *b) {
  b->len = 0;
  size_t n = below(r, maxcp + 1);
  for (size_t i = 0; i < n; i++) {
    uint32_t cp;
    switch (below(r, 10)) {
      case 0: cp = 0xA0 + (uint32_t)below(r, 0x17F - 0xA0); break;
      case 1: cp = 0x4E00 + (uint32_t)below(r, 0x5200); break;
      case 2: cp = 0x1F300 + (uint32_t)below(r, 0x350); break;
      default: cp = 0x20 + (uint32_t)below(r, 0x5F); break;
    }
    uint8_t u[4];
    size_t k;
    if (cp < 0x80) { u[0] = (uint8_t)cp; k = 1; }
    else if (cp < 0x800) { u[0] = (uint8_t)(0xC0 | cp >> 6); u[1] = (uint8_t)(0x80 | (cp & 0x3F)); k = 2; }
    else if (cp < 0x10000) {
      u[0] = (uint8_t)(0xE0 | cp >> 12); u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
      u[2] = (uint8_t)(0x80 | (cp & 0x3F)); k = 3;
    } else {
      u[0] = (uint8_t)(0xF0 | cp >> 18); u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
      u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (uint8_t)(0x80 | (cp & 0x3F)); k = 4;
    }
    gpx_buf_append(b, u, k);
  }
  gpx_buf_terminate(b);
}

static json_t *rand_json(rng *r, int depth, gpx_buf *tb) {
  switch (below(r, depth > 2 ? 4 : 6)) {
    case 0: return json_integer((json_int_t)(next(r) >> 12) - ((json_int_t)1 << 51));
    case 1: rand_text(r, 8, tb); return json_stringn((const char *)tb->data, tb->len);
    case 2: return json_boolean(below(r, 2));
    case 3: return json_null();
    case 4: {
      json_t *a = json_array();
      for (uint64_t i = below(r, 4); i > 0; i--) json_array_append_new(a, rand_json(r, depth + 1, tb));
      return a;
    }
    default: {
      json_t *o = json_object();
      for (uint64_t i = below(r, 4); i > 0; i--) {
        char key[16];
        snprintf(key, sizeof key, "k%u", (unsigned)below(r, 100));
        json_object_set_new(o, key, rand_json(r, depth + 1, tb));
      }
      return o;
    }
  }
}

static const char *const TYPE_NAMES[] = {NULL, "time", "float64", "int64", "string", "bool", "json"};

static int random_frame(gpx_frame *f, uint64_t seed, json_t *desc, gpx_error *err) {
  rng r = {seed * 0x2545F4914F6CDD1DULL + 1};
  gpx_buf tb;
  gpx_buf_init(&tb);
  int rc = 0;
  json_t *dfields = json_array();
  json_object_set_new(desc, "fields", dfields);
  rand_text(&r, 12, &tb);
  if ((rc = gpx_frame_set_name(f, (const char *)tb.data, err))) goto out;
  json_object_set_new(desc, "name", json_string((const char *)tb.data));
  char ref[3] = {(char)('A' + below(&r, 26)), below(&r, 2) ? (char)('A' + below(&r, 26)) : 0, 0};
  if ((rc = gpx_frame_set_ref_id(f, ref, err))) goto out;
  json_object_set_new(desc, "refId", json_string(ref));
  static const uint64_t scales[] = {11, 101, 1001, 10001};
  size_t rows = below(&r, scales[below(&r, 4)]);
  size_t nfields = below(&r, 10) == 0 ? 0 : 1 + below(&r, 6);
  if (below(&r, 3) == 0) f->max_batch_bytes = 64 + below(&r, 16384);
  for (size_t fi = 0; fi < nfields && !rc; fi++) {
    gpx_field_type ty = (gpx_field_type)(1 + below(&r, 6));
    int nullable = (int)below(&r, 2);
    static const uint64_t null_pm[] = {0, 50, 500, 1000};
    uint64_t npm = nullable ? null_pm[below(&r, 4)] : 0;
    uint64_t nan_pm = (ty == GPX_FIELD_FLOAT64 && below(&r, 4) == 0) ? 20 : 0;
    rand_text(&r, 10, &tb);
    gpx_field *fl = gpx_frame_add_field(f, (const char *)tb.data, ty, nullable, err);
    if (fl == NULL) { rc = ENOMEM; break; }
    json_t *df = json_object(), *vals = json_array(), *labels = json_object();
    json_array_append_new(dfields, df);
    json_object_set_new(df, "name", json_string((const char *)tb.data));
    json_object_set_new(df, "type", json_string(TYPE_NAMES[ty]));
    json_object_set_new(df, "labels", labels);
    for (uint64_t li = below(&r, 4); li > 0 && !rc; li--) {
      char key[24];
      snprintf(key, sizeof key, "l%u", (unsigned)below(&r, 1000));
      rand_text(&r, 6, &tb);
      rc = gpx_field_set_label(fl, key, (const char *)tb.data, err);
      json_object_set_new(labels, key, json_string((const char *)tb.data));
    }
    int saw_null = 0;
    int time_mode = (int)below(&r, 2);
    for (size_t i = 0; i < rows && !rc; i++) {
      if (npm && below(&r, 1000) < npm) {
        rc = gpx_field_append_null(fl, err);
        json_array_append_new(vals, json_null());
        saw_null = 1;
        continue;
      }
      switch (ty) {
        case GPX_FIELD_TIME: {
          int64_t v = time_mode ? T0 + (int64_t)i * 60000000000LL : (int64_t)next(&r);
          rc = gpx_field_append_time(fl, v, err);
          json_array_append_new(vals, json_integer(v));
          break;
        }
        case GPX_FIELD_FLOAT64: {
          double v;
          if (nan_pm && below(&r, 1000) < nan_pm) {
            static const double bad[] = {NAN, INFINITY, -INFINITY};
            v = bad[below(&r, 3)];
          } else if (below(&r, 3) == 0) {
            uint64_t bits;
            do { bits = next(&r); memcpy(&v, &bits, 8); } while (!isfinite(v));
          } else {
            v = ((double)below(&r, 2000001) - 1000000.0) / 64.0;
          }
          rc = gpx_field_append_f64(fl, v, err);
          json_array_append_new(vals, isfinite(v) ? json_real(v) : json_null());
          if (!isfinite(v)) saw_null = 1;
          break;
        }
        case GPX_FIELD_INT64: {
          int64_t v = (int64_t)next(&r);
          rc = gpx_field_append_i64(fl, v, err);
          json_array_append_new(vals, json_integer(v));
          break;
        }
        case GPX_FIELD_STRING:
          rand_text(&r, 20, &tb);
          rc = gpx_field_append_str(fl, (const char *)tb.data, tb.len, err);
          json_array_append_new(vals, json_stringn((const char *)tb.data, tb.len));
          break;
        case GPX_FIELD_BOOL: {
          int v = (int)below(&r, 2);
          rc = gpx_field_append_bool(fl, v, err);
          json_array_append_new(vals, json_boolean(v));
          break;
        }
        case GPX_FIELD_JSON: {
          gpx_buf jb;
          gpx_buf_init(&jb);
          json_t *j = rand_json(&r, 0, &jb);
          char *txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
          json_decref(j);
          gpx_buf_reset(&jb);
          if (txt == NULL) { rc = gpx_error_set(err, ENOMEM, "testframe: out of memory"); break; }
          rc = gpx_field_append_json(fl, txt, strlen(txt), err);
          json_array_append_new(vals, json_string(txt));
          free(txt);
          break;
        }
      }
    }
    /* Nullable as the generator sees it: declared, or given a null/NaN. */
    json_object_set_new(df, "nullable", json_boolean(nullable || saw_null));
    json_object_set_new(df, "values", vals);
  }
out:
  gpx_buf_reset(&tb);
  return rc;
}

/* ---- dispatch ------------------------------------------------------------ */

int gpx_testframe_build_described(const char *case_name, uint64_t seed, gpx_frame *out,
                                  json_t **expected, gpx_error *err) {
  if (expected) *expected = NULL;
  gpx_frame_reset(out);
  if (case_name == NULL) return gpx_error_set(err, EINVAL, "testframe: NULL case name");
  gpx_frame *f = out;
  int rc;
  CK(gpx_frame_set_name(f, case_name, err));
  CK(gpx_frame_set_ref_id(f, "A", err));
  if (!strcmp(case_name, "all_types")) rc = all_types(f, 0, 0, err);
  else if (!strcmp(case_name, "all_types_nulls")) rc = all_types(f, 1, 1, err);
  else if (!strcmp(case_name, "nullable_no_nulls")) rc = all_types(f, 1, 0, err);
  else if (!strcmp(case_name, "empty")) rc = 0;
  else if (!strcmp(case_name, "zero_rows")) rc = zero_rows(f, err);
  else if (!strcmp(case_name, "unicode")) rc = unicode(f, err);
  else if (!strcmp(case_name, "labels_config")) rc = labels_config(f, err);
  else if (!strcmp(case_name, "nan_to_null")) rc = nan_to_null(f, err);
  else if (!strcmp(case_name, "split3")) rc = split3(f, err);
  else if (!strcmp(case_name, "big_1m")) rc = big_1m(f, err);
  else if (!strcmp(case_name, "random")) {
    json_t *desc = json_object();
    if (desc == NULL) return gpx_error_set(err, ENOMEM, "testframe: out of memory");
    rc = random_frame(f, seed, desc, err);
    if (rc == 0 && expected) *expected = desc;
    else json_decref(desc);
  } else {
    return gpx_error_set(err, EINVAL, "testframe: unknown case %s", case_name);
  }
  if (rc) gpx_frame_reset(out);
  return rc;
}

int gpx_testframe_build(const char *case_name, uint64_t seed, gpx_frame *out, gpx_error *err) {
  return gpx_testframe_build_described(case_name, seed, out, NULL, err);
}
