/*
** check_frame.c — the frame model: appends (single, bulk, null), NaN→null,
** validity bitmaps, config/label/meta JSON shapes, bad input → error, the
** encoder's output (column bytes copied verbatim, split3 = 3 batches) and the
** test-frame catalogue. Decoding by Grafana's SDK is checked in tests/frames.
*/
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpx/frame.h"

START_TEST(lifecycle_zeroed_and_twice) {
  gpx_frame f;
  memset(&f, 0, sizeof f);
  gpx_frame_reset(&f);
  gpx_frame_reset(&f);
  gpx_frame_init(&f);
  ck_assert_ptr_nonnull(gpx_frame_add_field(&f, "a", GPX_FIELD_STRING, 0, NULL));
  gpx_frame_reset(&f);
  ck_assert_uint_eq(f.n_fields, 0);
  ck_assert_ptr_null(f.fields);
}
END_TEST

START_TEST(appends_and_nan_to_null) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err = {{0}};
  gpx_field *d = gpx_frame_add_field(&f, "d", GPX_FIELD_FLOAT64, 0, &err);
  ck_assert_ptr_nonnull(d);
  for (int i = 0; i < 100; i++) ck_assert_int_eq(gpx_field_append_f64(d, i, &err), 0);
  ck_assert_int_eq(d->nullable, 0);
  ck_assert_int_eq(d->has_validity, 0); /* no bitmap until the first null */
  ck_assert_int_eq(gpx_field_append_f64(d, NAN, &err), 0);
  ck_assert_int_eq(gpx_field_append_f64(d, -INFINITY, &err), 0);
  ck_assert_int_eq(gpx_field_append_f64(d, 7.25, &err), 0);
  ck_assert_int_eq(d->nullable, 1);
  ck_assert_uint_eq(d->len, 103);
  ck_assert_uint_eq(d->null_count, 2);
  for (size_t i = 0; i < 100; i++) ck_assert(!gpx_field_is_null(d, i));
  ck_assert(gpx_field_is_null(d, 100) && gpx_field_is_null(d, 101));
  ck_assert(!gpx_field_is_null(d, 102));
  double last;
  memcpy(&last, d->values.data + 102 * 8, 8);
  ck_assert(last == 7.25);
  /* Bulk: runs of finite values copied, NaN/Inf in the middle → null. */
  double arr[] = {1, 2, NAN, 4, INFINITY, 6, 7, 8, 9, 10, 11, 12};
  ck_assert_int_eq(gpx_field_append_f64s(d, arr, 12, &err), 0);
  ck_assert_uint_eq(d->len, 115);
  ck_assert_uint_eq(d->null_count, 4);
  for (size_t i = 0; i < 12; i++)
    ck_assert_int_eq(gpx_field_is_null(d, 103 + i), i == 2 || i == 4);
  memcpy(&last, d->values.data + 114 * 8, 8);
  ck_assert(last == 12);
  gpx_frame_reset(&f);
}
END_TEST

START_TEST(bool_and_string_columns) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_field *b = gpx_frame_add_field(&f, "b", GPX_FIELD_BOOL, 0, NULL);
  gpx_field *s = gpx_frame_add_field(&f, "s", GPX_FIELD_STRING, 1, NULL);
  for (int i = 0; i < 1000; i++) {
    if (i % 10 == 9) {
      ck_assert_int_eq(gpx_field_append_null(b, NULL), 0);
      ck_assert_int_eq(gpx_field_append_null(s, NULL), 0);
    } else {
      ck_assert_int_eq(gpx_field_append_bool(b, i % 3 == 0, NULL), 0);
      char t[16];
      int n = snprintf(t, sizeof t, "%d", i);
      ck_assert_int_eq(gpx_field_append_str(s, t, (size_t)n, NULL), 0);
    }
  }
  ck_assert_uint_eq(b->len, 1000);
  ck_assert_uint_eq(b->null_count, 100);
  ck_assert_uint_eq(b->values.len, 125);
  for (int i = 0; i < 1000; i++) {
    ck_assert_int_eq(gpx_field_is_null(b, (size_t)i), i % 10 == 9);
    int bit = (b->values.data[i / 8] >> (i % 8)) & 1;
    ck_assert_int_eq(bit, i % 10 != 9 && i % 3 == 0);
  }
  const int32_t *o = (const int32_t *)(const void *)s->offsets.data;
  ck_assert_uint_eq(s->offsets.len, 1001 * 4);
  for (int i = 0; i < 1000; i++) {
    ck_assert_int_le(o[i], o[i + 1]);
    if (i % 10 == 9) {
      ck_assert_int_eq(o[i], o[i + 1]); /* null = empty slot */
    } else {
      char t[16];
      int n = snprintf(t, sizeof t, "%d", i);
      ck_assert_int_eq(o[i + 1] - o[i], n);
      ck_assert_mem_eq(s->values.data + o[i], t, (size_t)n);
    }
  }
  gpx_frame_reset(&f);
}
END_TEST

START_TEST(bad_input_is_an_error) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err = {{0}};
  ck_assert_ptr_null(gpx_frame_add_field(&f, NULL, GPX_FIELD_TIME, 0, &err));
  ck_assert_ptr_null(gpx_frame_add_field(&f, "x", (gpx_field_type)99, 0, &err));
  ck_assert(strstr(err.msg, "unknown type") != NULL);
  gpx_field *t = gpx_frame_add_field(&f, "t", GPX_FIELD_TIME, 0, &err);
  gpx_field *j = gpx_frame_add_field(&f, "j", GPX_FIELD_JSON, 0, &err);
  err.msg[0] = 0;
  ck_assert_int_eq(gpx_field_append_f64(t, 1.0, &err), EINVAL);
  ck_assert(strstr(err.msg, "cannot take") != NULL);
  ck_assert_int_eq(gpx_field_append_str(t, "x", 1, &err), EINVAL);
  ck_assert_int_eq(gpx_field_append_json(j, "{bad", 4, &err), EINVAL);
  ck_assert(strstr(err.msg, "invalid JSON") != NULL);
  ck_assert_int_eq(gpx_field_append_json(j, "[1,{\"a\":null}]", 14, &err), 0);
  ck_assert_uint_eq(t->len, 0);
  ck_assert_int_eq(gpx_field_set_decimals(t, -1, &err), EINVAL);
  ck_assert_int_eq(gpx_field_set_decimals(t, 65536, &err), EINVAL);
  ck_assert_int_eq(gpx_field_set_min(t, NAN, &err), EINVAL);
  ck_assert_int_eq(gpx_field_set_max(t, INFINITY, &err), EINVAL);
  ck_assert_int_eq(gpx_field_add_threshold(t, 0, 1, NAN, "red", &err), EINVAL);
  ck_assert_int_eq(gpx_frame_add_notice(&f, (gpx_notice_severity)7, "x", &err), EINVAL);
  ck_assert_int_eq(gpx_frame_set_type(&f, (gpx_frame_type)42, 0, 1, &err), EINVAL);
  ck_assert_ptr_null(t->config); /* nothing half-written */
  /* Fields of different lengths cannot be encoded. */
  gpx_buf out;
  gpx_buf_init(&out);
  gpx_buf_append(&out, "abc", 3);
  ck_assert_int_eq(gpx_frame_encode(&f, &out, &err), EINVAL);
  ck_assert(strstr(err.msg, "rows") != NULL);
  ck_assert_uint_eq(out.len, 3);
  gpx_buf_reset(&out);
  gpx_frame_reset(&f);
}
END_TEST

START_TEST(config_and_meta_json) {
  gpx_frame f;
  gpx_frame_init(&f);
  ck_assert_ptr_null(gpx_frame_meta_json(&f)); /* no meta → key omitted */
  gpx_field *v = gpx_frame_add_field(&f, "v", GPX_FIELD_FLOAT64, 0, NULL);
  ck_assert_int_eq(gpx_field_set_unit(v, "percentunit", NULL), 0);
  ck_assert_int_eq(gpx_field_set_decimals(v, 3, NULL), 0);
  ck_assert_int_eq(gpx_field_add_threshold(v, 1, 0, 0, "green", NULL), 0);
  ck_assert_int_eq(gpx_field_add_threshold(v, 0, 1, 80, "red", NULL), 0);
  char *c = json_dumps(v->config, JSON_COMPACT | JSON_SORT_KEYS);
  ck_assert_str_eq(c, "{\"decimals\":3,\"thresholds\":{\"mode\":\"percentage\",\"steps\":"
                      "[{\"color\":\"green\",\"value\":null},{\"color\":\"red\",\"value\":80.0}]},"
                      "\"unit\":\"percentunit\"}");
  free(c);
  ck_assert_int_eq(gpx_frame_set_type(&f, GPX_FRAME_TYPE_NUMERIC_WIDE, 0, 1, NULL), 0);
  ck_assert_int_eq(gpx_frame_add_notice(&f, GPX_NOTICE_ERROR, "boom", NULL), 0);
  ck_assert_int_eq(gpx_frame_set_executed_query(&f, "SELECT 1", NULL), 0);
  json_t *m = gpx_frame_meta_json(&f);
  c = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
  ck_assert_str_eq(c, "{\"executedQueryString\":\"SELECT 1\",\"notices\":[{\"severity\":\"error\","
                      "\"text\":\"boom\"}],\"type\":\"numeric-wide\",\"typeVersion\":[0,1]}");
  free(c);
  json_decref(m);
  gpx_frame_reset(&f);
  /* meta.dataTopic alone is a meta: an annotation frame routes on it */
  gpx_frame_init(&f);
  gpx_error err;
  ck_assert_int_eq(gpx_frame_set_data_topic(&f, "series", &err), EINVAL);
  ck_assert_int_eq(gpx_frame_set_data_topic(&f, "annotations", &err), 0);
  m = gpx_frame_meta_json(&f);
  c = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
  ck_assert_str_eq(c, "{\"dataTopic\":\"annotations\",\"typeVersion\":[0,0]}");
  free(c);
  json_decref(m);
  gpx_frame_reset(&f);
}
END_TEST

/* Find `needle` in the encoded file: column bytes must appear verbatim. */
static int contains(const gpx_buf *b, const void *needle, size_t n) {
  return memmem(b->data, b->len, needle, n) != NULL;
}

START_TEST(encode_copies_columns_verbatim) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err = {{0}};
  gpx_frame_set_name(&f, "n", NULL);
  gpx_field *t = gpx_frame_add_field(&f, "time", GPX_FIELD_TIME, 0, NULL);
  gpx_field *v = gpx_frame_add_field(&f, "value", GPX_FIELD_FLOAT64, 0, NULL);
  gpx_field_set_label(v, "strategy", "momentum", NULL);
  enum { N = 5000 };
  int64_t *ts = malloc(N * sizeof *ts);
  double *vs = malloc(N * sizeof *vs);
  for (int i = 0; i < N; i++) ts[i] = 1700000000000000000LL + i, vs[i] = i * 1.25;
  ck_assert_int_eq(gpx_field_append_i64s(t, ts, N, &err), 0);
  ck_assert_int_eq(gpx_field_append_f64s(v, vs, N, &err), 0);
  gpx_buf out;
  gpx_buf_init(&out);
  size_t nb = 0;
  ck_assert_int_eq(gpx_frame_encode_ex(&f, &out, &nb, &err), 0);
  ck_assert_uint_eq(nb, 1);
  ck_assert(contains(&out, ts, N * 8));
  ck_assert(contains(&out, vs, N * 8));
  ck_assert(contains(&out, "{\"strategy\":\"momentum\"}", 23));
  ck_assert(contains(&out, "tstype", 6));
  ck_assert(!contains(&out, "\0meta", 5)); /* no meta key without meta */
  /* Overhead is small metadata only. */
  ck_assert_uint_lt(out.len, 2 * N * 8 + 2048);
  ck_assert_mem_eq(out.data, "ARROW1", 6);
  ck_assert_mem_eq(out.data + out.len - 6, "ARROW1", 6);
  free(ts);
  free(vs);
  gpx_buf_reset(&out);
  gpx_frame_reset(&f);
}
END_TEST

START_TEST(testframes_build_and_encode) {
  static const char *const cases[] = {"all_types", "all_types_nulls", "nullable_no_nulls",
                                      "empty", "zero_rows", "unicode", "labels_config",
                                      "nan_to_null", "split3", "random"};
  gpx_error err = {{0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gpx_frame f;
    gpx_frame_init(&f);
    ck_assert_msg(gpx_testframe_build(cases[i], 7, &f, &err) == 0, "%s: %s", cases[i], err.msg);
    gpx_buf out;
    gpx_buf_init(&out);
    size_t nb = 0;
    ck_assert_msg(gpx_frame_encode_ex(&f, &out, &nb, &err) == 0, "%s: %s", cases[i], err.msg);
    if (!strcmp(cases[i], "split3")) ck_assert_uint_eq(nb, 3);
    if (!strcmp(cases[i], "empty")) ck_assert_uint_eq(nb, 0);
    if (!strcmp(cases[i], "zero_rows")) ck_assert_uint_eq(nb, 1);
    gpx_buf_reset(&out);
    gpx_frame_reset(&f);
  }
  gpx_frame f;
  gpx_frame_init(&f);
  ck_assert_int_eq(gpx_testframe_build("nope", 0, &f, &err), EINVAL);
  ck_assert(strstr(err.msg, "unknown case") != NULL);
  ck_assert_int_eq(gpx_testframe_build(NULL, 0, &f, &err), EINVAL);
  gpx_frame_reset(&f);
}
END_TEST

START_TEST(random_is_deterministic_and_described) {
  for (uint64_t seed = 1; seed <= 300; seed++) { /* in-process, under ASan */
    gpx_frame a, b;
    gpx_frame_init(&a);
    gpx_frame_init(&b);
    json_t *desc = NULL;
    ck_assert_int_eq(gpx_testframe_build_described("random", seed, &a, &desc, NULL), 0);
    ck_assert_int_eq(gpx_testframe_build("random", seed, &b, NULL), 0);
    ck_assert_ptr_nonnull(desc);
    json_t *fields = json_object_get(desc, "fields");
    ck_assert_uint_eq(json_array_size(fields), a.n_fields);
    gpx_buf ea, eb;
    gpx_buf_init(&ea);
    gpx_buf_init(&eb);
    ck_assert_int_eq(gpx_frame_encode(&a, &ea, NULL), 0);
    ck_assert_int_eq(gpx_frame_encode(&b, &eb, NULL), 0);
    ck_assert_uint_eq(ea.len, eb.len);
    ck_assert_mem_eq(ea.data, eb.data, ea.len);
    for (size_t i = 0; i < a.n_fields; i++) {
      json_t *df = json_array_get(fields, i);
      ck_assert_uint_eq(json_array_size(json_object_get(df, "values")), a.fields[i]->len);
      ck_assert_int_eq(json_is_true(json_object_get(df, "nullable")), a.fields[i]->nullable);
    }
    json_decref(desc);
    gpx_buf_reset(&ea);
    gpx_buf_reset(&eb);
    gpx_frame_reset(&a);
    gpx_frame_reset(&b);
  }
}
END_TEST

/* Every string of a frame is valid UTF-8: invalid bytes become U+FFFD
   (a label from a SQL_ASCII database, a hostile notice), never an error
   that would fail the query, never passed through. */
START_TEST(strings_are_valid_utf8) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  ck_assert_int_eq(gpx_frame_set_name(&f, "n\xff", &err), 0);
  ck_assert_str_eq(f.name, "n\xEF\xBF\xBD");
  gpx_field *s = gpx_frame_add_field(&f, "s\xc3", GPX_FIELD_STRING, 1, &err);
  ck_assert_ptr_nonnull(s);
  ck_assert_str_eq(s->name, "s\xEF\xBF\xBD");
  ck_assert_int_eq(gpx_field_set_label(s, "k", "\xff\xfe", &err), 0);
  ck_assert_str_eq(json_string_value(json_object_get(s->labels, "k")), "\xEF\xBF\xBD\xEF\xBF\xBD");
  ck_assert_int_eq(gpx_field_set_display_name_from_ds(s, "caf\xe9", &err), 0);
  ck_assert_int_eq(gpx_frame_add_notice(&f, GPX_NOTICE_INFO, "\xed\xa0\x80 surrogate", &err), 0);
  ck_assert_int_eq(gpx_field_append_str(s, "ok \xc3\xa9", 5, &err), 0);
  ck_assert_int_eq(gpx_field_append_str(s, "bad \xc3", 5, &err), 0);
  ck_assert_uint_eq(s->len, 2);
  const char *v = (const char *)s->values.data;
  ck_assert_int_eq(gpx_utf8_valid(v, s->values.len), 1);
  ck_assert_uint_eq(s->values.len, 5 + 7);
  ck_assert_int_eq(memcmp(v, "ok \xc3\xa9" "bad \xEF\xBF\xBD", s->values.len), 0);
  gpx_buf out = {0};
  ck_assert_int_eq(gpx_frame_encode(&f, &out, &err), 0);
  gpx_buf_reset(&out);
  gpx_frame_reset(&f);
}
END_TEST

/* Text room reserved up front: appends then fill it without growing. */
START_TEST(reserve_text_room) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  gpx_field *s = gpx_frame_add_field(&f, "s", GPX_FIELD_STRING, 1, &err);
  gpx_field *x = gpx_frame_add_field(&f, "x", GPX_FIELD_FLOAT64, 1, &err);
  ck_assert_int_eq(gpx_field_reserve(s, 100, &err), 0);
  ck_assert_int_eq(gpx_field_reserve_text(s, 500, &err), 0);
  ck_assert_uint_ge(s->values.cap, 500);
  ck_assert_uint_ge(s->offsets.cap, 100 * 4);
  uint8_t *values = s->values.data, *offsets = s->offsets.data;
  for (int i = 0; i < 100; i++) ck_assert_int_eq(gpx_field_append_str(s, "abcde", 5, &err), 0);
  ck_assert_ptr_eq(s->values.data, values);
  ck_assert_ptr_eq(s->offsets.data, offsets);
  ck_assert_uint_eq(s->values.len, 500);
  ck_assert_int_eq(gpx_field_reserve_text(x, 8, &err), EINVAL);
  gpx_frame_reset(&f);
}
END_TEST

START_TEST(utf8_helpers) {
  ck_assert_int_eq(gpx_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 1);
  ck_assert_int_eq(gpx_utf8_valid("\xc0\x80", 2), 0);         /* overlong NUL */
  ck_assert_int_eq(gpx_utf8_valid("\xed\xa0\x80", 3), 0);     /* surrogate */
  ck_assert_int_eq(gpx_utf8_valid("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
  ck_assert_int_eq(gpx_utf8_valid("\xe2\x82", 2), 0);         /* incomplete */
  /* the ASCII fast path (eight bytes at a time): a bad byte at every
     position of a longer text is still found, the text checked to its end */
  for (size_t at = 0; at < 20; at++) {
    char t[20];
    memset(t, 'a', sizeof t);
    ck_assert_int_eq(gpx_utf8_valid(t, sizeof t), 1);
    t[at] = '\xff';
    ck_assert_int_eq(gpx_utf8_valid(t, sizeof t), 0);
    ck_assert_int_eq(gpx_utf8_valid(t, at), 1); /* up to it: valid */
    if (at + 2 <= sizeof t) { /* a well-formed character there */
      t[at] = '\xc3', t[at + 1] = '\xa9';
      ck_assert_int_eq(gpx_utf8_valid(t, sizeof t), 1);
      ck_assert_int_eq(gpx_utf8_valid(t, at + 1), 0); /* cut inside it */
    }
  }
  ck_assert_int_eq(gpx_utf8_valid("abcdefgh\0jklmnop", 17), 1); /* NUL is ASCII */
  /* a cut never splits a character */
  ck_assert_uint_eq(gpx_utf8_clip("ab\xc3\xa9", 3), 2);
  ck_assert_uint_eq(gpx_utf8_clip("ab\xc3\xa9", 4), 4);
  ck_assert_uint_eq(gpx_utf8_clip("\xf0\x9f\x98\x80x", 2), 0);
  /* the case: queryType "a" + 40 × "é", cut for a message */
  char e[128] = "a";
  for (int i = 0; i < 40; i++) strcat(e, "\xc3\xa9");
  char m[64];
  snprintf(m, sizeof m, "%.*s", (int)gpx_utf8_clip(e, 62), e);
  ck_assert_int_eq(gpx_utf8_valid(m, strlen(m)), 1);
  ck_assert_uint_eq(strlen(m), 61);
  snprintf(m, sizeof m, "x\xffy\xc3\xa9\xe2\x82");
  gpx_utf8_scrub(m);
  ck_assert_str_eq(m, "x?y\xc3\xa9??"); /* each byte of no character → '?', length kept */
  gpx_error err;
  char big[600];
  memset(big, 'x', sizeof big);
  big[510] = '\xc3', big[511] = '\xa9', big[512] = 0;
  gpx_error_set(&err, EINVAL, "%s", big); /* the 512-byte buffer cuts the é in half */
  ck_assert_int_eq(gpx_utf8_valid(err.msg, strlen(err.msg)), 1);
  ck_assert_uint_eq(strlen(err.msg), 511);
  ck_assert_int_eq(err.msg[510], '?');
}
END_TEST

START_TEST(json_frame_for_live_packets) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  ck_assert_int_eq(gpx_frame_set_name(&f, "equity", &err), 0);
  ck_assert_int_eq(gpx_frame_set_ref_id(&f, "A", &err), 0);
  ck_assert_int_eq(gpx_frame_set_type(&f, GPX_FRAME_TYPE_TIMESERIES_MULTI, 0, 1, &err), 0);
  ck_assert_int_eq(gpx_frame_set_channel(&f, "ds/u1/live/0123456789abcdef/00c0ffee", &err), 0);
  gpx_field *t = gpx_frame_add_field(&f, "time", GPX_FIELD_TIME, 0, &err);
  gpx_field *v = gpx_frame_add_field(&f, "equity", GPX_FIELD_FLOAT64, 1, &err);
  gpx_field *s = gpx_frame_add_field(&f, "note", GPX_FIELD_STRING, 0, &err);
  gpx_field *b = gpx_frame_add_field(&f, "ok", GPX_FIELD_BOOL, 0, &err);
  gpx_field *j = gpx_frame_add_field(&f, "tags", GPX_FIELD_JSON, 0, &err);
  ck_assert_int_eq(gpx_field_set_label(v, "strategy", "momentum", &err), 0);
  ck_assert_int_eq(gpx_field_set_unit(v, "currencyUSD", &err), 0);
  gpx_field_append_time(t, 1700000000123456789LL, &err);
  gpx_field_append_time(t, -1500000, &err); /* before 1970: floor to ms */
  gpx_field_append_f64(v, 1.5, &err);
  gpx_field_append_f64(v, NAN, &err);
  gpx_field_append_str(s, "caf\xc3\xa9", 5, &err);
  gpx_field_append_str(s, "bad\xff", 4, &err); /* not UTF-8: repaired, never sent as is */
  gpx_field_append_bool(b, 1, &err);
  gpx_field_append_bool(b, 0, &err);
  gpx_field_append_json(j, "[\"a\"]", 5, &err);
  gpx_field_append_json(j, "{}", 2, &err);
  gpx_buf out = {0};
  ck_assert_int_eq(gpx_frame_to_json(&f, 1, &out, &err), 0);
  gpx_buf_terminate(&out);
  json_error_t je;
  json_t *root = json_loads((const char *)out.data, 0, &je);
  ck_assert_ptr_nonnull(root);
  ck_assert_int_eq(gpx_utf8_valid((const char *)out.data, out.len), 1);
  json_t *schema = json_object_get(root, "schema");
  ck_assert_str_eq(json_string_value(json_object_get(schema, "name")), "equity");
  ck_assert_str_eq(json_string_value(json_object_get(schema, "refId")), "A");
  json_t *meta = json_object_get(schema, "meta");
  ck_assert_str_eq(json_string_value(json_object_get(meta, "channel")), "ds/u1/live/0123456789abcdef/00c0ffee");
  ck_assert_str_eq(json_string_value(json_object_get(meta, "type")), "timeseries-multi");
  json_t *fields = json_object_get(schema, "fields");
  ck_assert_uint_eq(json_array_size(fields), 5);
  const char *types[] = {"time", "number", "string", "boolean", "other"};
  for (int i = 0; i < 5; i++)
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(fields, (size_t)i), "type")), types[i]);
  json_t *f1 = json_array_get(fields, 1);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f1, "labels"), "strategy")), "momentum");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(f1, "config"), "unit")), "currencyUSD");
  ck_assert(json_is_true(json_object_get(json_object_get(f1, "typeInfo"), "nullable")));
  json_t *vals = json_object_get(json_object_get(root, "data"), "values");
  ck_assert_uint_eq(json_array_size(vals), 5);
  ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(vals, 0), 0)), 1700000000123LL);
  ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(vals, 0), 1)), -2);
  ck_assert(json_real_value(json_array_get(json_array_get(vals, 1), 0)) == 1.5);
  ck_assert(json_is_null(json_array_get(json_array_get(vals, 1), 1)));
  ck_assert_str_eq(json_string_value(json_array_get(json_array_get(vals, 2), 0)), "caf\xc3\xa9");
  ck_assert_str_eq(json_string_value(json_array_get(json_array_get(vals, 2), 1)), "bad\xef\xbf\xbd");
  ck_assert(json_is_true(json_array_get(json_array_get(vals, 3), 0)));
  ck_assert(json_is_array(json_array_get(json_array_get(vals, 4), 0)));
  json_decref(root);
  /* data only */
  out.len = 0;
  ck_assert_int_eq(gpx_frame_to_json(&f, 0, &out, &err), 0);
  gpx_buf_terminate(&out);
  root = json_loads((const char *)out.data, 0, &je);
  ck_assert_ptr_null(json_object_get(root, "schema"));
  json_decref(root);
  /* ragged fields are refused, out untouched */
  gpx_field_append_f64(v, 2, &err);
  size_t len = out.len;
  ck_assert_int_eq(gpx_frame_to_json(&f, 1, &out, &err), EINVAL);
  ck_assert_uint_eq(out.len, len);
  gpx_buf_reset(&out);
  gpx_frame_reset(&f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("frame");
  TCase *tc = tcase_create("frame");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, lifecycle_zeroed_and_twice);
  tcase_add_test(tc, appends_and_nan_to_null);
  tcase_add_test(tc, bool_and_string_columns);
  tcase_add_test(tc, bad_input_is_an_error);
  tcase_add_test(tc, config_and_meta_json);
  tcase_add_test(tc, encode_copies_columns_verbatim);
  tcase_add_test(tc, testframes_build_and_encode);
  tcase_add_test(tc, random_is_deterministic_and_described);
  tcase_add_test(tc, strings_are_valid_utf8);
  tcase_add_test(tc, reserve_text_room);
  tcase_add_test(tc, utf8_helpers);
  tcase_add_test(tc, json_frame_for_live_packets);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_ENV);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
