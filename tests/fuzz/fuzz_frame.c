/*
** fuzz_frame.c — random frames through the frame model (frame.h) and the
** Arrow IPC writer (arrow.h), read back by the independent reader of
** tests/support/ipc_reader.c (shared with check_arrow.c).
**
** The input is a small program: frame name/refId, meta (type, executed
** query, notices, custom JSON), a record-batch budget, fields of every type
** with labels and config, and rows with nulls, NaN/±Inf, odd strings and
** JSON, sometimes appended as whole arrays. The harness keeps its own model
** of what it appended (never read back from the frame) and checks the file
** against it:
**  - the layout (gpx_ipc_open), the same schema in message and footer;
**  - schema metadata name/refId/meta, and meta as set (type, typeVersion,
**    executedQueryString — bytes that are not UTF-8 as U+FFFD —, notices,
**    custom), never silently dropped;
**  - per field: name bytes, Arrow type, nullable, tstype, labels and config
**    as JSON equal to what was set;
**  - batches: multiples of 8 rows but the last, within the budget (or a
**    single 8-row batch), 8-byte aligned buffers inside the body in
**    order; per field the row count, null count, validity bits (tail bits
**    zero), values (NaN/±Inf written as null), bool bits, string offsets
**    rebased to 0 and bytes;
**  - encoding appends after existing bytes and is deterministic; a frame
**    whose fields differ in length is refused and leaves the output as it
**    was.
*/
#include <jansson.h>
#include <math.h>

#include "fuzz/fuzz_util.h"
#include "gpx/frame.h"
#include "support/ipc_reader.h"

#define MAXF 8
#define MAXROWS 2048

typedef struct model {
  gpx_field_type type;
  char name[40];
  int nullable;
  size_t n;
  uint8_t valid[MAXROWS];
  uint64_t bits[MAXROWS]; /* int64 / double bits / bool */
  char *bytes;            /* string/JSON data */
  size_t nbytes, capbytes;
  int32_t off[MAXROWS + 1];
  json_t *labels; /* as the harness set them */
  json_t *config;
} model;

/* Names, keys and labels: valid UTF-8 ('?' per bad byte), as they round
   trip verbatim; that the frame repairs text that is not UTF-8 is
   check_frame's strings_are_valid_utf8 (string values are fuzzed raw below). */
static char *fz_cstr(fz *f, size_t max, char *buf) {
  size_t n;
  const uint8_t *p = fz_bytes(f, fz_range(f, 0, (int64_t)max), &n);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (p[i]) buf[k++] = (char)p[i];
  buf[k] = 0;
  gpx_utf8_scrub(buf);
  return buf;
}

static void add_bytes(model *m, const char *s, size_t n) {
  if (n == 0) return;
  if (m->nbytes + n > m->capbytes) {
    m->capbytes = (m->nbytes + n) * 2 + 64;
    m->bytes = realloc(m->bytes, m->capbytes);
    FUZZ_CHECK(m->bytes != NULL, "out of memory");
  }
  memcpy(m->bytes + m->nbytes, s, n);
  m->nbytes += n;
}

static void push_row(model *m, int valid, uint64_t bits, const char *s, size_t n) {
  m->valid[m->n] = (uint8_t)valid;
  m->bits[m->n] = bits;
  if (m->type == GPX_FIELD_STRING || m->type == GPX_FIELD_JSON) {
    if (valid) add_bytes(m, s, n);
    m->off[m->n + 1] = (int32_t)m->nbytes;
  }
  if (!valid) m->nullable = 1;
  m->n++;
}

static const char *const JSONS[] = {"null", "1", "-2.5e3", "\"s\"", "[1,2,{}]", "{\"a\":[true,false]}", "  {}  ",
                                    "\"\\u00e9\"", "{\"a\":1,\"a\":2}", "[", "nul", "{\"x\":}"};

/* One row for field fl (model m): a value or a null, through the frame API. */
static void one_row(fz *f, gpx_field *fl, model *m) {
  gpx_error err;
  uint8_t k = fz_u8(f);
  if (k % 8 == 0) {
    FUZZ_CHECK(gpx_field_append_null(fl, &err) == 0, "append_null: %s", err.msg);
    push_row(m, 0, 0, NULL, 0);
    return;
  }
  switch (m->type) {
    case GPX_FIELD_TIME:
    case GPX_FIELD_INT64: {
      int64_t v = k & 0x10 ? (int64_t)fz_u64(f) : (int64_t)(int16_t)fz_u16(f);
      int rc = m->type == GPX_FIELD_TIME ? gpx_field_append_time(fl, v, &err) : gpx_field_append_i64(fl, v, &err);
      FUZZ_CHECK(rc == 0, "append: %s", err.msg);
      push_row(m, 1, (uint64_t)v, NULL, 0);
      break;
    }
    case GPX_FIELD_FLOAT64: {
      double v = fz_f64(f);
      FUZZ_CHECK(gpx_field_append_f64(fl, v, &err) == 0, "append_f64: %s", err.msg);
      uint64_t b;
      memcpy(&b, &v, 8);
      push_row(m, isfinite(v), b, NULL, 0); /* NaN/±Inf are nulls */
      break;
    }
    case GPX_FIELD_BOOL:
      FUZZ_CHECK(gpx_field_append_bool(fl, k & 0x20, &err) == 0, "append_bool: %s", err.msg);
      push_row(m, 1, (k & 0x20) != 0, NULL, 0);
      break;
    case GPX_FIELD_STRING: {
      size_t n;
      const uint8_t *p = fz_bytes(f, (size_t)fz_range(f, 0, 12), &n);
      FUZZ_CHECK(gpx_field_append_str(fl, (const char *)p, n, &err) == 0, "append_str: %s", err.msg);
      /* the frame stores the value with U+FFFD for each byte that is not UTF-8 */
      gpx_buf fixed = {0};
      FUZZ_CHECK(gpx_utf8_append(&fixed, (const char *)p, n) == 0, "out of memory");
      push_row(m, 1, 0, fixed.data ? (const char *)fixed.data : "", fixed.len);
      gpx_buf_reset(&fixed);
      break;
    }
    case GPX_FIELD_JSON: {
      const char *js;
      size_t n;
      if (k & 0x40) {
        js = JSONS[fz_u8(f) % (sizeof JSONS / sizeof JSONS[0])];
        n = strlen(js);
      } else {
        js = (const char *)fz_bytes(f, (size_t)fz_range(f, 0, 8), &n);
      }
      json_error_t je;
      json_t *ok = json_loadb(js, n, JSON_DECODE_ANY, &je);
      int rc = gpx_field_append_json(fl, js, n, &err);
      FUZZ_CHECK((rc == 0) == (ok != NULL), "append_json(%.*s) rc %d", (int)n, js, rc);
      json_decref(ok);
      if (rc == 0) {
        push_row(m, 1, 0, js, n);
      } else {
        FUZZ_CHECK(gpx_field_append_null(fl, &err) == 0, "append_null");
        push_row(m, 0, 0, NULL, 0);
      }
      break;
    }
    default: break;
  }
}

/* Whole arrays (TIME/INT64 from int64_t, FLOAT64 from double). */
static void array_rows(fz *f, gpx_field *fl, model *m, size_t n) {
  gpx_error err;
  int64_t iv[64];
  double dv[64];
  for (size_t i = 0; i < n; i++) {
    iv[i] = (int64_t)fz_u64(f);
    dv[i] = fz_f64(f);
  }
  if (m->type == GPX_FIELD_FLOAT64) {
    FUZZ_CHECK(gpx_field_append_f64s(fl, dv, n, &err) == 0, "append_f64s: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
      uint64_t b;
      memcpy(&b, &dv[i], 8);
      push_row(m, isfinite(dv[i]), b, NULL, 0);
    }
  } else {
    FUZZ_CHECK(gpx_field_append_i64s(fl, iv, n, &err) == 0, "append_i64s: %s", err.msg);
    for (size_t i = 0; i < n; i++) push_row(m, 1, (uint64_t)iv[i], NULL, 0);
  }
}

static void set_config(fz *f, gpx_field *fl, model *m) {
  gpx_error err;
  char s[40];
  uint8_t which = fz_u8(f);
  if (which & 1) {
    fz_cstr(f, 12, s);
    json_t *v = json_string(s);
    int rc = gpx_field_set_unit(fl, s, &err);
    FUZZ_CHECK((rc == 0) == (v != NULL), "set_unit rc %d", rc);
    if (v) json_object_set_new(m->config, "unit", v);
  }
  if (which & 2) {
    fz_cstr(f, 12, s);
    json_t *v = json_string(s);
    int rc = gpx_field_set_display_name_from_ds(fl, s, &err);
    FUZZ_CHECK((rc == 0) == (v != NULL), "set_display_name rc %d", rc);
    if (v) json_object_set_new(m->config, "displayNameFromDS", v);
  }
  if (which & 4) {
    int d = (int)fz_range(f, -2, 70000);
    int rc = gpx_field_set_decimals(fl, d, &err);
    FUZZ_CHECK((rc == 0) == (d >= 0 && d <= 65535), "set_decimals(%d) rc %d", d, rc);
    if (rc == 0) json_object_set_new(m->config, "decimals", json_integer(d));
  }
  if (which & 8) {
    double v = fz_f64(f);
    int rc = gpx_field_set_min(fl, v, &err);
    FUZZ_CHECK((rc == 0) == (isfinite(v) != 0), "set_min rc %d", rc);
    if (rc == 0) json_object_set_new(m->config, "min", json_real(v));
  }
  if (which & 16) {
    int pct = fz_u8(f) & 1;
    for (int i = fz_u8(f) % 4; i > 0; i--) {
      int has = fz_u8(f) & 1;
      double v = fz_f64(f);
      fz_cstr(f, 8, s);
      json_t *c = json_string(s);
      int rc = gpx_field_add_threshold(fl, pct, has, v, s, &err);
      FUZZ_CHECK((rc == 0) == (c != NULL && (!has || isfinite(v))), "add_threshold rc %d", rc);
      /* the thresholds object exists once a step passed the value check,
         even when its color then failed (an empty, harmless steps list) */
      if (!has || isfinite(v)) {
        json_t *th = json_object_get(m->config, "thresholds");
        if (th == NULL) {
          th = json_pack("{s:s, s:[]}", "mode", pct ? "percentage" : "absolute", "steps");
          json_object_set_new(m->config, "thresholds", th);
        }
        if (rc == 0)
          json_array_append_new(json_object_get(th, "steps"),
                                json_pack("{s:o, s:O}", "value", has ? json_real(v) : json_null(), "color", c));
      }
      json_decref(c);
    }
  }
}

static const char *tstype_of(gpx_field_type t) {
  switch (t) {
    case GPX_FIELD_TIME: return "time";
    case GPX_FIELD_FLOAT64:
    case GPX_FIELD_INT64: return "number";
    case GPX_FIELD_STRING: return "string";
    case GPX_FIELD_BOOL: return "boolean";
    default: return "other";
  }
}

static int arrow_tag(gpx_field_type t) {
  switch (t) {
    case GPX_FIELD_TIME: return GPX_IPC_TIMESTAMP;
    case GPX_FIELD_FLOAT64: return GPX_IPC_FLOAT;
    case GPX_FIELD_INT64: return GPX_IPC_INT;
    case GPX_FIELD_STRING: return GPX_IPC_UTF8;
    case GPX_FIELD_BOOL: return GPX_IPC_BOOL;
    default: return GPX_IPC_BINARY;
  }
}

/* A metadata value parsed as JSON equals want (NULL: the key is absent). */
static void md_json(const gpx_ipc_kv *md, size_t n, const char *key, const json_t *want, const char *who) {
  size_t len;
  const char *v = gpx_ipc_md_get(md, n, key, &len);
  if (want == NULL) {
    FUZZ_CHECK(v == NULL, "%s: %s present but never set: %.*s", who, key, (int)len, v);
    return;
  }
  FUZZ_CHECK(v != NULL, "%s: %s missing", who, key);
  json_error_t je;
  json_t *got = json_loadb(v, len, 0, &je);
  FUZZ_CHECK(got != NULL, "%s: %s is not JSON: %s", who, key, je.text);
  FUZZ_CHECK(json_equal(got, (json_t *)want), "%s: %s differs: %.*s", who, key, (int)len, v);
  json_decref(got);
}

static void md_str(const gpx_ipc_kv *md, size_t n, const char *key, const char *want, const char *who) {
  size_t len;
  const char *v = gpx_ipc_md_get(md, n, key, &len);
  FUZZ_CHECK(v && len == strlen(want) && memcmp(v, want, len) == 0, "%s: %s is \"%.*s\", want \"%s\"", who, key,
             (int)len, v ? v : "", want);
}

static int bit(const uint8_t *b, int64_t i) { return (b[i / 8] >> (i % 8)) & 1; }

static void check_file(const uint8_t *d, size_t n, const model *ms, size_t nf, size_t rows, const char *name,
                       const char *ref, const json_t *meta, size_t budget) {
  gpx_ipc_file p;
  FUZZ_CHECK(gpx_ipc_open(&p, d, n) == 0, "layout: %s", p.err);
  for (int from_footer = 0; from_footer < 2; from_footer++) {
    gpx_ipc_schema s;
    int rc = gpx_ipc_read_schema(&p, from_footer, &s);
    FUZZ_CHECK(rc == 0, "schema: %s", p.err);
    const char *who = from_footer ? "footer schema" : "schema message";
    FUZZ_CHECK(s.endianness == 0 && s.n_fields == nf, "%s: %zu fields, want %zu", who, s.n_fields, nf);
    md_str(s.md, s.n_md, "name", name, who);
    md_str(s.md, s.n_md, "refId", ref, who);
    md_json(s.md, s.n_md, "meta", meta, who);
    for (size_t i = 0; i < nf; i++) {
      const gpx_ipc_field *fl = &s.fields[i];
      const model *m = &ms[i];
      FUZZ_CHECK(fl->name && fl->name_len == strlen(m->name) && memcmp(fl->name, m->name, fl->name_len) == 0,
                 "field %zu name", i);
      FUZZ_CHECK(fl->type == arrow_tag(m->type), "field %zu type %d", i, fl->type);
      FUZZ_CHECK(fl->nullable == m->nullable, "field %zu nullable %d, want %d", i, fl->nullable, m->nullable);
      FUZZ_CHECK(fl->n_children == 0 && !fl->has_dictionary, "field %zu children/dictionary", i);
      if (m->type == GPX_FIELD_TIME) FUZZ_CHECK(fl->unit == 3 && !fl->has_timezone, "timestamp unit/zone");
      if (m->type == GPX_FIELD_FLOAT64) FUZZ_CHECK(fl->precision == 2, "float precision");
      if (m->type == GPX_FIELD_INT64) FUZZ_CHECK(fl->bit_width == 64 && fl->is_signed, "int width/sign");
      md_str(fl->md, fl->n_md, "tstype", tstype_of(m->type), "field");
      md_json(fl->md, fl->n_md, "labels", json_object_size(m->labels) ? m->labels : NULL, "field");
      md_json(fl->md, fl->n_md, "config", json_object_size(m->config) ? m->config : NULL, "field");
    }
    gpx_ipc_schema_reset(&s);
  }
  if (nf == 0) {
    FUZZ_CHECK(p.nblocks == 0, "a frame without fields has %zu batches", p.nblocks);
    return;
  }
  FUZZ_CHECK(p.nblocks >= 1, "no record batch");
  size_t limit = budget ? budget : (size_t)64 << 20, row0 = 0;
  for (size_t b = 0; b < p.nblocks; b++) {
    int64_t r = gpx_ipc_batch_rows(&p, b);
    FUZZ_CHECK(r >= 0 && (size_t)r <= rows - row0, "batch %zu: %lld rows", b, (long long)r);
    if (b + 1 < p.nblocks) FUZZ_CHECK(r > 0 && r % 8 == 0, "batch %zu: %lld rows, not a multiple of 8", b, (long long)r);
    int64_t body = gpx_ipc_batch_body_len(&p, b);
    FUZZ_CHECK((size_t)body <= limit || r <= 8, "batch %zu: body %lld over the budget %zu", b, (long long)body, limit);
    FUZZ_CHECK(gpx_ipc_batch_nnodes(&p, b) == nf, "batch %zu: nodes", b);
    size_t k = 0, end_prev = 0;
    for (size_t i = 0; i < nf; i++) {
      const model *m = &ms[i];
      int64_t len, nulls;
      FUZZ_CHECK(gpx_ipc_batch_node(&p, b, i, &len, &nulls) == 0, "%s", p.err);
      int64_t want_nulls = 0;
      for (int64_t x = 0; x < r; x++) want_nulls += !m->valid[row0 + x];
      FUZZ_CHECK(len == r && nulls == want_nulls, "batch %zu field %zu: node (%lld, %lld), want (%lld, %lld)", b, i,
                 (long long)len, (long long)nulls, (long long)r, (long long)want_nulls);
      int nbuf = m->type == GPX_FIELD_STRING || m->type == GPX_FIELD_JSON ? 3 : 2;
      const uint8_t *buf[3];
      int64_t blen[3];
      for (int q = 0; q < nbuf; q++, k++) {
        int64_t off;
        size_t bs;
        FUZZ_CHECK(gpx_ipc_batch_buffer(&p, b, k, &off, &blen[q], &bs) == 0, "%s", p.err);
        FUZZ_CHECK(off % 8 == 0 && (size_t)off >= end_prev, "batch %zu buffer %zu at %lld: unaligned or overlapping",
                   b, k, (long long)off);
        end_prev = (size_t)(off + blen[q]);
        buf[q] = d + bs + off;
      }
      /* validity */
      if (want_nulls) {
        FUZZ_CHECK(blen[0] == (r + 7) / 8, "validity length %lld", (long long)blen[0]);
        for (int64_t x = 0; x < r; x++)
          FUZZ_CHECK(bit(buf[0], x) == m->valid[row0 + x], "field %zu row %zu: validity", i, row0 + (size_t)x);
        if (r % 8) FUZZ_CHECK((buf[0][r / 8] >> (r % 8)) == 0, "validity tail bits set");
      } else {
        FUZZ_CHECK(blen[0] == 0, "validity written without nulls");
      }
      switch (m->type) {
        case GPX_FIELD_BOOL:
          FUZZ_CHECK(blen[1] == (r + 7) / 8, "bool length");
          for (int64_t x = 0; x < r; x++)
            if (m->valid[row0 + x])
              FUZZ_CHECK((uint64_t)bit(buf[1], x) == m->bits[row0 + x], "field %zu row %zu: bool", i, row0 + (size_t)x);
          if (r % 8) FUZZ_CHECK((buf[1][r / 8] >> (r % 8)) == 0, "bool tail bits set");
          break;
        case GPX_FIELD_STRING:
        case GPX_FIELD_JSON: {
          FUZZ_CHECK(blen[1] == (r + 1) * 4, "offsets length");
          int32_t o0;
          memcpy(&o0, buf[1], 4);
          FUZZ_CHECK(o0 == 0, "offsets start at %d", o0);
          int32_t last;
          memcpy(&last, buf[1] + 4 * r, 4);
          FUZZ_CHECK(blen[2] == last, "data length %lld, last offset %d", (long long)blen[2], last);
          for (int64_t x = 0; x < r; x++) {
            int32_t a, z;
            memcpy(&a, buf[1] + 4 * x, 4);
            memcpy(&z, buf[1] + 4 * x + 4, 4);
            FUZZ_CHECK(a <= z && z <= last, "offsets decrease");
            size_t row = row0 + (size_t)x;
            if (!m->valid[row]) continue;
            int32_t wa = m->off[row], wz = m->off[row + 1];
            FUZZ_CHECK(z - a == wz - wa && (z == a || memcmp(buf[2] + a, m->bytes + wa, (size_t)(z - a)) == 0),
                       "field %zu row %zu: bytes differ", i, row);
          }
          break;
        }
        default:
          FUZZ_CHECK(blen[1] == r * 8, "values length");
          for (int64_t x = 0; x < r; x++) {
            size_t row = row0 + (size_t)x;
            if (!m->valid[row]) continue;
            FUZZ_CHECK(memcmp(buf[1] + 8 * x, &m->bits[row], 8) == 0, "field %zu row %zu: value differs", i, row);
          }
      }
    }
    FUZZ_CHECK(gpx_ipc_batch_nbuffers(&p, b) == k, "batch %zu: %zu buffers, want %zu", b,
               gpx_ipc_batch_nbuffers(&p, b), k);
    row0 += (size_t)r;
  }
  FUZZ_CHECK(row0 == rows, "%zu rows read, %zu written", row0, rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  fz f = {data, size};
  gpx_error err;
  static model ms[MAXF];
  gpx_frame fr;
  gpx_frame_init(&fr);
  char name[40] = "", ref[40] = "", s[64];
  uint8_t flags = fz_u8(&f);
  if (flags & 1) FUZZ_CHECK(gpx_frame_set_name(&fr, fz_cstr(&f, 16, name), &err) == 0, "set_name");
  if (flags & 2) FUZZ_CHECK(gpx_frame_set_ref_id(&fr, fz_cstr(&f, 8, ref), &err) == 0, "set_ref_id");
  json_t *meta = json_object();
  int has_meta = 0;
  if (flags & 4) {
    int t = (int)fz_range(&f, -1, 8);
    unsigned v0 = fz_u8(&f), v1 = fz_u8(&f);
    int rc = gpx_frame_set_type(&fr, (gpx_frame_type)t, v0, v1, &err);
    FUZZ_CHECK((rc == 0) == (t >= 0 && t <= GPX_FRAME_TYPE_TABLE), "set_type(%d) rc %d", t, rc);
    if (rc == 0) {
      static const char *const types[] = {NULL, "timeseries-wide", "timeseries-long", "timeseries-multi",
                                          "numeric-wide", "numeric-multi", "numeric-long", "table"};
      if (types[t]) json_object_set_new(meta, "type", json_string(types[t]));
      json_object_set_new(meta, "typeVersion", json_pack("[I,I]", (json_int_t)v0, (json_int_t)v1));
      has_meta = 1;
    }
  }
  if (flags & 8) {
    fz_cstr(&f, 40, s);
    FUZZ_CHECK(gpx_frame_set_executed_query(&fr, s, &err) == 0, "set_executed_query");
    /* kept as UTF-8: a byte that does not start a well-formed character becomes U+FFFD */
    char lossy[3 * sizeof s + 1];
    size_t o = 0, n = strlen(s);
    for (size_t i = 0; i < n;) {
      unsigned c = (unsigned char)s[i];
      size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      if (i + k <= n && fz_utf8_valid(s + i, k)) {
        memcpy(lossy + o, s + i, k), o += k, i += k;
      } else {
        memcpy(lossy + o, "\xEF\xBF\xBD", 3), o += 3, i++;
      }
    }
    lossy[o] = 0;
    json_t *v = json_string(lossy);
    FUZZ_CHECK(v != NULL, "harness: lossy copy not UTF-8");
    json_object_set_new(meta, "executedQueryString", v);
    has_meta = 1;
  }
  json_t *notices = json_array();
  int notices_made = 0; /* the frame keeps a (maybe empty) notices array once a notice had a valid severity */
  for (int i = (flags & 16) ? fz_u8(&f) % 4 : 0; i > 0; i--) {
    int sev = (int)fz_range(&f, 0, 3);
    notices_made |= sev <= 2;
    fz_cstr(&f, 12, s);
    json_t *t = json_string(s);
    int rc = gpx_frame_add_notice(&fr, (gpx_notice_severity)sev, s, &err);
    FUZZ_CHECK((rc == 0) == (sev <= 2 && t != NULL), "add_notice rc %d", rc);
    static const char *const sevs[] = {"info", "warning", "error"};
    if (rc == 0) json_array_append_new(notices, json_pack("{s:s, s:O}", "severity", sevs[sev], "text", t));
    json_decref(t);
  }
  if (notices_made) {
    json_object_set(meta, "notices", notices);
    if (has_meta == 0) has_meta = 1;
  }
  json_decref(notices);
  if (flags & 32) {
    size_t n;
    const uint8_t *p = fz_bytes(&f, (size_t)fz_range(&f, 0, 24), &n);
    json_error_t je;
    json_t *c = json_loadb((const char *)p, n, JSON_DECODE_ANY, &je);
    if (c) {
      json_object_set(meta, "custom", c);
      FUZZ_CHECK(gpx_frame_set_custom(&fr, c, &err) == 0, "set_custom");
      if (has_meta == 0) has_meta = 1;
    }
  }
  if (json_object_size(meta) && json_object_get(meta, "typeVersion") == NULL)
    json_object_set_new(meta, "typeVersion", json_pack("[I,I]", (json_int_t)0, (json_int_t)0));
  if (flags & 64) fr.max_batch_bytes = (size_t)fz_range(&f, 1, 4096);

  size_t nf = (size_t)fz_range(&f, 0, MAXF);
  size_t rows = (size_t)fz_range(&f, 0, fz_u8(&f) % 8 == 0 ? MAXROWS - 64 : 64);
  gpx_field *fl[MAXF];
  for (size_t i = 0; i < nf; i++) {
    model *m = &ms[i];
    memset(m, 0, sizeof *m);
    int t = (int)fz_range(&f, 0, 7);
    snprintf(m->name, sizeof m->name, "%s", fz_cstr(&f, 10, s));
    m->nullable = fz_u8(&f) & 1;
    fl[i] = gpx_frame_add_field(&fr, m->name, (gpx_field_type)t, m->nullable, &err);
    FUZZ_CHECK((fl[i] != NULL) == (t >= GPX_FIELD_TIME && t <= GPX_FIELD_JSON), "add_field type %d", t);
    if (fl[i] == NULL) t = GPX_FIELD_INT64, fl[i] = gpx_frame_add_field(&fr, m->name, GPX_FIELD_INT64, m->nullable, &err);
    m->type = (gpx_field_type)t;
    m->labels = json_object();
    m->config = json_object();
    for (int l = fz_u8(&f) % 3; l > 0; l--) {
      char key[16], val[16];
      fz_cstr(&f, 6, key);
      fz_cstr(&f, 8, val);
      json_t *v = json_string(val), *kk = json_string(key);
      int rc = gpx_field_set_label(fl[i], key, val, &err);
      FUZZ_CHECK((rc == 0) == (v && kk), "set_label rc %d", rc);
      if (rc == 0) json_object_set(m->labels, key, v);
      json_decref(v);
      json_decref(kk);
    }
    set_config(&f, fl[i], m);
    if (fz_u8(&f) & 1) FUZZ_CHECK(gpx_field_reserve(fl[i], rows, &err) == 0, "reserve");
  }
  /* rows, one at a time or in arrays */
  for (size_t i = 0; i < nf; i++) {
    model *m = &ms[i];
    while (m->n < rows) {
      size_t chunk = rows - m->n < 64 ? rows - m->n : 64;
      if ((m->type == GPX_FIELD_FLOAT64 || m->type == GPX_FIELD_INT64 || m->type == GPX_FIELD_TIME) &&
          fz_u8(&f) % 4 == 0)
        array_rows(&f, fl[i], m, chunk);
      else
        one_row(&f, fl[i], m);
    }
  }
  for (size_t i = 0; i < nf; i++) {
    FUZZ_CHECK(fl[i]->len == ms[i].n && fl[i]->nullable == ms[i].nullable, "field %zu: len %zu nullable %d", i,
               fl[i]->len, fl[i]->nullable);
    for (size_t r = 0; r < ms[i].n; r++)
      FUZZ_CHECK(gpx_field_is_null(fl[i], r) == !ms[i].valid[r], "field %zu row %zu: is_null", i, r);
  }

  gpx_buf out = {0};
  size_t prefix = fz_u8(&f) % 3;
  gpx_buf_append(&out, "abc", prefix);
  size_t nb = 0;
  int rc = gpx_frame_encode_ex(&fr, &out, &nb, &err);
  FUZZ_CHECK(rc == 0, "encode failed: %s", err.msg);
  FUZZ_CHECK(out.len > prefix && memcmp(out.data, "abc", prefix) == 0, "prefix lost");
  gpx_ipc_file pf;
  FUZZ_CHECK(gpx_ipc_open(&pf, out.data + prefix, out.len - prefix) == 0 && pf.nblocks == nb,
             "%zu batches reported, %zu in the file", nb, pf.nblocks);
  check_file(out.data + prefix, out.len - prefix, ms, nf, rows, name, ref, has_meta ? meta : NULL,
             fr.max_batch_bytes);
  gpx_buf again = {0};
  FUZZ_CHECK(gpx_frame_encode(&fr, &again, &err) == 0 && again.len == out.len - prefix &&
                 memcmp(again.data, out.data + prefix, again.len) == 0,
             "encoding is not deterministic");
  gpx_buf_reset(&again);
  /* one more row in one field only: refused, output untouched */
  if (nf >= 2) {
    size_t before = out.len;
    one_row(&f, fl[nf - 1], &ms[nf - 1]);
    FUZZ_CHECK(gpx_frame_encode(&fr, &out, &err) == EINVAL && out.len == before, "ragged frame encoded");
  }
  gpx_buf_reset(&out);
  for (size_t i = 0; i < nf; i++) {
    free(ms[i].bytes);
    json_decref(ms[i].labels);
    json_decref(ms[i].config);
  }
  json_decref(meta);
  gpx_frame_reset(&fr);
  return 0;
}
