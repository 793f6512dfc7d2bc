/*
** check_arrow.c — byte-level checks of the flatbuffer builder and the Arrow
** IPC file writer. A tiny independent, bounds-checked flatbuffer and IPC
** *reader* (tests/support/ipc_reader.c, shared with the fuzz target
** tests/fuzz/fuzz_frame.c) walks what the builder wrote (root → vtable →
** fields), so these tests do not trust the builder to check itself. The
** decoding end-to-end check is the Go suite tests/frames (Grafana SDK
** decoder); this suite covers layout rules (magic, alignment, footer,
** blocks), the schema, split logic and bad input.
*/
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpx/arrow.h"
#include "gpx/flatbuf.h"
#include "support/ipc_reader.h"

/* ---- flatbuffer builder -------------------------------------------------- */

START_TEST(fb_table_roundtrip) {
  gpx_fb_builder b;
  gpx_fb_init(&b);
  gpx_fb_ref s = gpx_fb_string(&b, "hello", 5);
  gpx_fb_vector_start(&b, 8, 3, 8);
  for (int i = 3; i-- > 0;) gpx_fb_push_i64(&b, 100 + i);
  gpx_fb_ref v = gpx_fb_vector_end(&b, 3);
  gpx_fb_table_start(&b, 5);
  gpx_fb_add_i16(&b, 0, -7);
  gpx_fb_add_ref(&b, 1, s);
  gpx_fb_add_i64(&b, 3, INT64_MIN);
  gpx_fb_add_ref(&b, 4, v);
  gpx_fb_add_u8(&b, 2, 9);
  gpx_fb_ref t = gpx_fb_table_end(&b);
  const uint8_t *d;
  size_t n;
  gpx_error err = {{0}};
  ck_assert_int_eq(gpx_fb_finish(&b, t, &d, &n, &err), 0);
  ck_assert_uint_eq(n % 8, 0);
  ck_assert_uint_eq((uintptr_t)d % 8, 0);
  gpx_fbr r = gpx_fbr_of(d, n);
  size_t root = gpx_fbr_u32(&r, 0);
  ck_assert_uint_lt(root, n);
  ck_assert_int_eq((int16_t)gpx_fbr_u16(&r, gpx_fbr_field(&r, root, 0)), -7);
  ck_assert_int_eq(gpx_fbr_u8(&r, gpx_fbr_field(&r, root, 2)), 9);
  size_t p64 = gpx_fbr_field(&r, root, 3);
  ck_assert_uint_eq(p64 % 8, 0); /* scalars aligned to their size */
  ck_assert(gpx_fbr_i64(&r, p64) == INT64_MIN);
  size_t sp = gpx_fbr_ref(&r, root, 1);
  ck_assert_uint_eq(sp % 4, 0);
  ck_assert_uint_eq(gpx_fbr_u32(&r, sp), 5);
  ck_assert_mem_eq(d + sp + 4, "hello", 6); /* includes the NUL */
  size_t vp = gpx_fbr_ref(&r, root, 4);
  ck_assert_uint_eq(gpx_fbr_u32(&r, vp), 3);
  ck_assert_uint_eq((vp + 4) % 8, 0); /* 8-byte elements aligned */
  for (int i = 0; i < 3; i++) ck_assert_int_eq(gpx_fbr_i64(&r, vp + 4 + 8 * (size_t)i), 100 + i);
  ck_assert_int_eq(r.bad, 0); /* every read above was inside the buffer */
  gpx_fb_reset(&b);
  gpx_fb_reset(&b); /* safe twice */
}
END_TEST

START_TEST(fb_absent_fields_and_growth) {
  gpx_fb_builder b;
  gpx_fb_init(&b);
  /* Enough strings to force several regrowths (initial capacity is 256). */
  gpx_fb_ref refs[200];
  char txt[32];
  for (int i = 0; i < 200; i++) {
    int k = snprintf(txt, sizeof txt, "string-%d", i);
    refs[i] = gpx_fb_string(&b, txt, (size_t)k);
  }
  gpx_fb_vector_start(&b, 4, 200, 4);
  for (int i = 200; i-- > 0;) gpx_fb_push_ref(&b, refs[i]);
  gpx_fb_ref v = gpx_fb_vector_end(&b, 200);
  gpx_fb_table_start(&b, 7);
  gpx_fb_add_ref(&b, 5, v); /* slots 0-4 absent, 6 trailing-absent */
  gpx_fb_ref t = gpx_fb_table_end(&b);
  const uint8_t *d;
  size_t n;
  ck_assert_int_eq(gpx_fb_finish(&b, t, &d, &n, NULL), 0);
  gpx_fbr r = gpx_fbr_of(d, n);
  size_t root = gpx_fbr_u32(&r, 0);
  for (int s = 0; s < 7; s++)
    if (s != 5) ck_assert_uint_eq(gpx_fbr_field(&r, root, s), 0);
  size_t vp = gpx_fbr_ref(&r, root, 5);
  ck_assert_uint_eq(gpx_fbr_u32(&r, vp), 200);
  for (int i = 0; i < 200; i++) {
    size_t sp = gpx_fbr_deref(&r, vp + 4 + 4 * (size_t)i);
    int k = snprintf(txt, sizeof txt, "string-%d", i);
    ck_assert_uint_eq(gpx_fbr_u32(&r, sp), (uint32_t)k);
    ck_assert_mem_eq(d + sp + 4, txt, (size_t)k);
  }
  ck_assert_int_eq(r.bad, 0);
  gpx_fb_reset(&b);
}
END_TEST

START_TEST(fb_misuse_is_sticky_error) {
  gpx_fb_builder b;
  gpx_fb_init(&b);
  gpx_fb_table_start(&b, 2);
  gpx_fb_string(&b, "x", 1); /* string inside an open table */
  gpx_fb_ref t = gpx_fb_table_end(&b);
  const uint8_t *d;
  size_t n;
  gpx_error err = {{0}};
  ck_assert_int_eq(gpx_fb_finish(&b, t, &d, &n, &err), EINVAL);
  ck_assert_msg(strstr(err.msg, "flatbuffer") != NULL, "msg: %s", err.msg);
  gpx_fb_reset(&b);
  gpx_fb_init(&b);
  gpx_fb_table_start(&b, GPX_FB_MAX_SLOTS + 1);
  ck_assert_int_eq(gpx_fb_finish(&b, 0, &d, &n, &err), EINVAL);
  gpx_fb_reset(&b);
  gpx_fb_table_start(&b, 1);
  gpx_fb_add_ref(&b, 0, 12345); /* reference to nothing */
  gpx_fb_table_end(&b);
  ck_assert_int_eq(gpx_fb_finish(&b, 4, &d, &n, &err), EINVAL);
  gpx_fb_reset(&b);
}
END_TEST

/* ---- IPC file layout ------------------------------------------------------- */

/* The file layout through the shared reader: every check of
   gpx_ipc_open (magic, footer, end-of-stream marker, V5, contiguous
   8-byte-aligned blocks, bodyLength) must hold. */
typedef gpx_ipc_file parsed;

static void parse_file(const uint8_t *d, size_t n, parsed *p) {
  ck_assert_msg(gpx_ipc_open(p, d, n) == 0, "IPC layout: %s", p->err);
}

/* Row count of record batch i (RecordBatch.length). */
static int64_t batch_rows(parsed *p, size_t i) {
  int64_t r = gpx_ipc_batch_rows(p, i);
  ck_assert_msg(r >= 0, "batch %zu: %s", i, p->err);
  return r;
}

/* FieldNode j of batch i: length, null_count. */
static void batch_node(parsed *p, size_t i, size_t j, int64_t *len, int64_t *nulls) {
  ck_assert_msg(gpx_ipc_batch_node(p, i, j, len, nulls) == 0, "%s", p->err);
}

/* Buffer k of batch i: body-relative offset and length; also body start. */
static void batch_buffer(parsed *p, size_t i, size_t k, int64_t *off, int64_t *len, size_t *body) {
  ck_assert_msg(gpx_ipc_batch_buffer(p, i, k, off, len, body) == 0, "%s", p->err);
}

/* A little-endian int32 of a body buffer. */
static int32_t rd_i32(const uint8_t *b, size_t at) {
  int32_t v;
  memcpy(&v, b + at, 4);
  return v;
}

static gpx_arrow_kv TSMD[] = {{"tstype", "number"}};

START_TEST(ipc_layout_single_batch) {
  enum { N = 13 };
  int64_t ts[N];
  double v[N];
  for (int i = 0; i < N; i++) ts[i] = 1000 * i, v[i] = i * 0.5;
  gpx_arrow_column cols[] = {
      {.name = "time", .type = GPX_ARROW_TIMESTAMP_NS, .values = ts},
      {.name = "v", .type = GPX_ARROW_FLOAT64, .values = v, .metadata = TSMD, .n_metadata = 1}};
  gpx_arrow_kv md[] = {{"name", "n"}, {"refId", "A"}};
  gpx_arrow_table t = {.metadata = md, .n_metadata = 2, .columns = cols, .n_columns = 2,
                       .n_rows = N};
  gpx_buf out;
  gpx_buf_init(&out);
  gpx_buf_append(&out, "xyz", 3); /* appends after existing content */
  size_t nb = 0;
  ck_assert_int_eq(gpx_arrow_write_file(&t, &out, &nb, NULL), 0);
  ck_assert_uint_eq(nb, 1);
  const uint8_t *d = out.data + 3;
  size_t n = out.len - 3;
  parsed p;
  parse_file(d, n, &p);
  ck_assert_uint_eq(p.nblocks, 1);
  ck_assert_int_eq(batch_rows(&p, 0), N);
  /* Buffers: [validity, values] x 2; non-nullable → validity length 0. */
  int64_t off, len;
  size_t body;
  batch_buffer(&p, 0, 0, &off, &len, &body);
  ck_assert_int_eq(len, 0);
  batch_buffer(&p, 0, 1, &off, &len, &body);
  ck_assert_int_eq(len, N * 8);
  ck_assert_mem_eq(d + body + off, ts, N * 8);
  batch_buffer(&p, 0, 3, &off, &len, &body);
  ck_assert_int_eq(off % 8, 0);
  ck_assert_mem_eq(d + body + off, v, N * 8);
  gpx_buf_reset(&out);
}
END_TEST

START_TEST(ipc_split_and_bitmaps) {
  enum { N = 1003 };
  double v[N];
  uint8_t valid[(N + 7) / 8 + 1];
  uint8_t bits[(N + 7) / 8 + 1];
  memset(valid, 0xFF, sizeof valid); /* junk set bits past row N must be masked */
  memset(bits, 0, sizeof bits);
  int64_t nulls = 0;
  for (int i = 0; i < N; i++) {
    v[i] = i;
    if (i % 7 == 3) valid[i / 8] &= (uint8_t)~(1u << (i % 8)), nulls++;
    if (i % 3 == 0) bits[i / 8] |= (uint8_t)(1u << (i % 8));
  }
  gpx_arrow_column cols[] = {
      {.name = "v", .type = GPX_ARROW_FLOAT64, .nullable = 1, .validity = valid, .values = v},
      {.name = "b", .type = GPX_ARROW_BOOL, .values = bits}};
  gpx_arrow_table t = {.columns = cols, .n_columns = 2, .n_rows = N, .max_batch_bytes = 1024};
  gpx_buf out;
  gpx_buf_init(&out);
  size_t nb = 0;
  ck_assert_int_eq(gpx_arrow_write_file(&t, &out, &nb, NULL), 0);
  parsed p;
  parse_file(out.data, out.len, &p);
  ck_assert_uint_eq(p.nblocks, nb);
  ck_assert_uint_gt(nb, 5);
  int64_t rows = 0, seen_nulls = 0;
  for (size_t i = 0; i < nb; i++) {
    int64_t r = batch_rows(&p, i), len, nn;
    if (i + 1 < nb) ck_assert_int_eq(r % 8, 0); /* only the last batch is ragged */
    batch_node(&p, i, 0, &len, &nn);
    ck_assert_int_eq(len, r);
    seen_nulls += nn;
    /* Each batch body respects the budget. */
    ck_assert_int_le(gpx_ipc_batch_body_len(&p, i), 1024);
    /* Check the validity bitmap of this batch bit by bit. */
    int64_t off, blen;
    size_t body;
    batch_buffer(&p, i, 0, &off, &blen, &body);
    if (nn) {
      ck_assert_int_eq(blen, (r + 7) / 8);
      for (int64_t k = 0; k < r; k++) {
        int64_t row = rows + k;
        int bit = (out.data[body + off + k / 8] >> (k % 8)) & 1;
        ck_assert_int_eq(bit, row % 7 != 3);
      }
      if (r % 8) ck_assert_int_eq(out.data[body + off + r / 8] >> (r % 8), 0);
    }
    batch_buffer(&p, i, 3, &off, &blen, &body); /* bool values */
    for (int64_t k = 0; k < r; k++)
      ck_assert_int_eq((out.data[body + off + k / 8] >> (k % 8)) & 1, (rows + k) % 3 == 0);
    rows += r;
  }
  ck_assert_int_eq(rows, N);
  ck_assert_int_eq(seen_nulls, nulls);
  gpx_buf_reset(&out);
}
END_TEST

START_TEST(ipc_strings_rebased_per_batch) {
  enum { N = 40 };
  int32_t offs[N + 1];
  char data[N * 4];
  size_t k = 0;
  offs[0] = 0;
  for (int i = 0; i < N; i++) {
    int len = i % 4; /* 0..3 bytes of 'a'+i */
    for (int j = 0; j < len; j++) data[k++] = (char)('a' + i % 26);
    offs[i + 1] = (int32_t)k;
  }
  gpx_arrow_column cols[] = {{.name = "s", .type = GPX_ARROW_UTF8, .values = data, .offsets = offs}};
  gpx_arrow_table t = {.columns = cols, .n_columns = 1, .n_rows = N, .max_batch_bytes = 64};
  gpx_buf out;
  gpx_buf_init(&out);
  size_t nb;
  ck_assert_int_eq(gpx_arrow_write_file(&t, &out, &nb, NULL), 0);
  ck_assert_uint_gt(nb, 1);
  parsed p;
  parse_file(out.data, out.len, &p);
  int64_t row = 0;
  for (size_t i = 0; i < nb; i++) {
    int64_t r = batch_rows(&p, i), off, len;
    size_t body;
    batch_buffer(&p, i, 1, &off, &len, &body);
    ck_assert_int_eq(len, (r + 1) * 4);
    const uint8_t *o = out.data + body + off;
    ck_assert_int_eq(rd_i32(o, 0), 0); /* every batch's offsets start at 0 */
    for (int64_t j = 0; j <= r; j++)
      ck_assert_int_eq(rd_i32(o, 4 * (size_t)j), offs[row + j] - offs[row]);
    int64_t doff, dlen;
    batch_buffer(&p, i, 2, &doff, &dlen, &body);
    ck_assert_int_eq(dlen, offs[row + r] - offs[row]);
    ck_assert_mem_eq(out.data + body + doff, data + offs[row], (size_t)dlen);
    row += r;
  }
  ck_assert_int_eq(row, N);
  gpx_buf_reset(&out);
}
END_TEST

START_TEST(ipc_no_columns_and_zero_rows) {
  gpx_buf out;
  gpx_buf_init(&out);
  gpx_arrow_table t = {.n_rows = 0};
  size_t nb = 99;
  ck_assert_int_eq(gpx_arrow_write_file(&t, &out, &nb, NULL), 0);
  ck_assert_uint_eq(nb, 0);
  parsed p;
  parse_file(out.data, out.len, &p);
  ck_assert_uint_eq(p.nblocks, 0);
  gpx_buf_reset(&out);
  int32_t off0 = 0;
  gpx_arrow_column cols[] = {{.name = "s", .type = GPX_ARROW_UTF8, .offsets = &off0},
                             {.name = "x", .type = GPX_ARROW_INT64, .nullable = 1}};
  gpx_arrow_table t2 = {.columns = cols, .n_columns = 2, .n_rows = 0};
  ck_assert_int_eq(gpx_arrow_write_file(&t2, &out, &nb, NULL), 0);
  ck_assert_uint_eq(nb, 1);
  parse_file(out.data, out.len, &p);
  ck_assert_int_eq(batch_rows(&p, 0), 0);
  gpx_buf_reset(&out);
}
END_TEST

START_TEST(ipc_schema_in_message_and_footer) {
  int64_t iv[2] = {1, 2};
  double dv[2] = {0.5, 1.5};
  uint8_t bits[1] = {1};
  int32_t offs[3] = {0, 1, 3};
  gpx_arrow_kv fmd[] = {{"tstype", "time"}, {"labels", "{\"a\":\"b\"}"}};
  gpx_arrow_column cols[] = {
      {.name = "t", .type = GPX_ARROW_TIMESTAMP_NS, .values = iv, .metadata = fmd, .n_metadata = 2},
      {.name = "f", .type = GPX_ARROW_FLOAT64, .nullable = 1, .values = dv},
      {.name = "i", .type = GPX_ARROW_INT64, .values = iv},
      {.name = "s", .type = GPX_ARROW_UTF8, .values = "xyz", .offsets = offs},
      {.name = "b", .type = GPX_ARROW_BOOL, .values = bits},
      {.name = "j", .type = GPX_ARROW_BINARY, .values = "xyz", .offsets = offs}};
  gpx_arrow_kv md[] = {{"name", "frame"}, {"refId", "A"}};
  gpx_arrow_table t = {.metadata = md, .n_metadata = 2, .columns = cols, .n_columns = 6, .n_rows = 2};
  gpx_buf out;
  gpx_buf_init(&out);
  ck_assert_int_eq(gpx_arrow_write_file(&t, &out, NULL, NULL), 0);
  parsed p;
  parse_file(out.data, out.len, &p);
  static const int tags[] = {GPX_IPC_TIMESTAMP, GPX_IPC_FLOAT, GPX_IPC_INT, GPX_IPC_UTF8, GPX_IPC_BOOL, GPX_IPC_BINARY};
  for (int from_footer = 0; from_footer < 2; from_footer++) {
    gpx_ipc_schema s;
    ck_assert_msg(gpx_ipc_read_schema(&p, from_footer, &s) == 0, "%s", p.err);
    ck_assert_int_eq(s.endianness, 0);
    ck_assert_uint_eq(s.n_fields, 6);
    ck_assert_str_eq(gpx_ipc_md_get(s.md, s.n_md, "name", NULL), "frame");
    ck_assert_str_eq(gpx_ipc_md_get(s.md, s.n_md, "refId", NULL), "A");
    ck_assert_ptr_null(gpx_ipc_md_get(s.md, s.n_md, "meta", NULL));
    for (size_t i = 0; i < 6; i++) {
      const gpx_ipc_field *fl = &s.fields[i];
      ck_assert_uint_eq(fl->name_len, 1);
      ck_assert_str_eq(fl->name, cols[i].name);
      ck_assert_int_eq(fl->type, tags[i]);
      ck_assert_int_eq(fl->nullable, cols[i].nullable);
      ck_assert_uint_eq(fl->n_children, 0);
      ck_assert_int_eq(fl->has_dictionary, 0);
      ck_assert_uint_eq(fl->n_md, cols[i].n_metadata);
    }
    ck_assert_int_eq(s.fields[0].unit, 3); /* NANOSECOND, no zone */
    ck_assert_int_eq(s.fields[0].has_timezone, 0);
    ck_assert_str_eq(gpx_ipc_md_get(s.fields[0].md, s.fields[0].n_md, "labels", NULL), "{\"a\":\"b\"}");
    ck_assert_int_eq(s.fields[1].precision, 2); /* DOUBLE */
    ck_assert_int_eq(s.fields[2].bit_width, 64);
    ck_assert_int_eq(s.fields[2].is_signed, 1);
    gpx_ipc_schema_reset(&s);
  }
  gpx_buf_reset(&out);
}
END_TEST

/* The shared reader is itself checked: broken files are refused, never over-read. */
START_TEST(ipc_reader_refuses_broken_files) {
  double v[16];
  for (int i = 0; i < 16; i++) v[i] = i;
  gpx_arrow_column cols[] = {{.name = "v", .type = GPX_ARROW_FLOAT64, .values = v}};
  gpx_arrow_table t = {.columns = cols, .n_columns = 1, .n_rows = 16, .max_batch_bytes = 64};
  gpx_buf out;
  gpx_buf_init(&out);
  ck_assert_int_eq(gpx_arrow_write_file(&t, &out, NULL, NULL), 0);
  parsed p;
  parse_file(out.data, out.len, &p);
  ck_assert_uint_eq(p.nblocks, 2);
  size_t n = out.len;
  uint8_t *c = malloc(n);
  ck_assert_ptr_nonnull(c);
  /* each corruption: byte offset and value */
  size_t at[] = {0, n - 1, n - 10, n - 7, p.footer_at - 8, p.footer_at + p.blocks + 8, p.footer_at + p.blocks + 16};
  uint8_t val[] = {'X', 'X', 0xFF, 0x7F, 0, 0x11, 0x08};
  for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
    memcpy(c, out.data, n);
    c[at[k]] = val[k];
    gpx_ipc_file q;
    ck_assert_msg(gpx_ipc_open(&q, c, n) != 0, "corruption %zu accepted", k);
    ck_assert_msg(q.err[0] != 0, "corruption %zu: no message", k);
  }
  gpx_ipc_file q;
  ck_assert_int_ne(gpx_ipc_open(&q, out.data, n - 1), 0); /* truncated */
  free(c);
  gpx_buf_reset(&out);
}
END_TEST

START_TEST(ipc_bad_input_is_an_error) {
  gpx_buf out;
  gpx_buf_init(&out);
  gpx_buf_append(&out, "keep", 4);
  gpx_error err = {{0}};
  double v[2] = {1, 2};
  int32_t bad_offs[3] = {0, 5, 2};
  char txt[5] = "hello";
  gpx_arrow_column c_noname = {.type = GPX_ARROW_FLOAT64, .values = v};
  gpx_arrow_column c_type = {.name = "x", .type = (gpx_arrow_type)77, .values = v};
  gpx_arrow_column c_novals = {.name = "x", .type = GPX_ARROW_FLOAT64};
  gpx_arrow_column c_offs = {.name = "x", .type = GPX_ARROW_UTF8, .values = txt, .offsets = bad_offs};
  gpx_arrow_column c_nooffs = {.name = "x", .type = GPX_ARROW_BINARY, .values = txt};
  gpx_arrow_kv nullkv[] = {{"k", NULL}};
  gpx_arrow_column c_md = {.name = "x", .type = GPX_ARROW_FLOAT64, .values = v,
                           .metadata = nullkv, .n_metadata = 1};
  const gpx_arrow_column *bad[] = {&c_noname, &c_type, &c_novals, &c_offs, &c_nooffs, &c_md};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    gpx_arrow_table t = {.columns = bad[i], .n_columns = 1, .n_rows = 2};
    err.msg[0] = 0;
    ck_assert_int_eq(gpx_arrow_write_file(&t, &out, NULL, &err), EINVAL);
    ck_assert_msg(err.msg[0] != 0, "case %zu: no message", i);
    ck_assert_uint_eq(out.len, 4);
  }
  gpx_arrow_table neg = {.n_rows = -1};
  ck_assert_int_eq(gpx_arrow_write_file(&neg, &out, NULL, &err), EINVAL);
  ck_assert_int_eq(gpx_arrow_write_file(NULL, &out, NULL, &err), EINVAL);
  /* Metadata above arrow-go's 64 MiB limit is refused, not written. */
  size_t big = ((size_t)64 << 20) + 16;
  char *huge = malloc(big + 1);
  ck_assert_ptr_nonnull(huge);
  memset(huge, 'a', big);
  huge[big] = 0;
  gpx_arrow_kv hk[] = {{"meta", huge}};
  gpx_arrow_table th = {.metadata = hk, .n_metadata = 1};
  ck_assert_int_eq(gpx_arrow_write_file(&th, &out, NULL, &err), EINVAL);
  ck_assert_msg(strstr(err.msg, "64 MiB") != NULL, "msg: %s", err.msg);
  ck_assert_uint_eq(out.len, 4);
  free(huge);
  gpx_buf_reset(&out);
}
END_TEST

int main(void) {
  Suite *s = suite_create("arrow");
  TCase *fb = tcase_create("flatbuf");
  tcase_add_test(fb, fb_table_roundtrip);
  tcase_add_test(fb, fb_absent_fields_and_growth);
  tcase_add_test(fb, fb_misuse_is_sticky_error);
  suite_add_tcase(s, fb);
  TCase *ipc = tcase_create("ipc");
  tcase_set_timeout(ipc, 60);
  tcase_add_test(ipc, ipc_layout_single_batch);
  tcase_add_test(ipc, ipc_split_and_bitmaps);
  tcase_add_test(ipc, ipc_strings_rebased_per_batch);
  tcase_add_test(ipc, ipc_no_columns_and_zero_rows);
  tcase_add_test(ipc, ipc_schema_in_message_and_footer);
  tcase_add_test(ipc, ipc_reader_refuses_broken_files);
  tcase_add_test(ipc, ipc_bad_input_is_an_error);
  suite_add_tcase(s, ipc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_ENV);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
