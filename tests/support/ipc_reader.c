/*
** ipc_reader.c — the test-only Arrow IPC / flatbuffer reader (ipc_reader.h).
**
** Slot numbers are those of Arrow's Schema.fbs, Message.fbs and File.fbs: Footer { version 0,
** schema 1, dictionaries 2, recordBatches 3 }; Message { version 0,
** header_type 1, header 2, bodyLength 3 }; Schema { endianness 0, fields 1,
** custom_metadata 2 }; Field { name 0, nullable 1, type_type 2, type 3,
** dictionary 4, children 5, custom_metadata 6 }; RecordBatch { length 0,
** nodes 1, buffers 2 }; KeyValue { key 0, value 1 }. Absent scalars read as
** their schema defaults (FlatBuffers may omit them).
*/
#include "support/ipc_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METADATA_V5 4
#define HEADER_SCHEMA 1
#define HEADER_RECORD_BATCH 3

/* ---- flatbuffer region ------------------------------------------------------ */

gpx_fbr gpx_fbr_of(const uint8_t *b, size_t n) {
  gpx_fbr r = {b, n, 0};
  return r;
}

static int in_range(gpx_fbr *r, size_t p, size_t w) {
  if (r->b == NULL || p > r->n || w > r->n - p) {
    r->bad = 1;
    return 0;
  }
  return 1;
}

uint8_t gpx_fbr_u8(gpx_fbr *r, size_t p) { return in_range(r, p, 1) ? r->b[p] : 0; }

uint16_t gpx_fbr_u16(gpx_fbr *r, size_t p) {
  uint16_t v = 0;
  if (in_range(r, p, 2)) memcpy(&v, r->b + p, 2);
  return v;
}

uint32_t gpx_fbr_u32(gpx_fbr *r, size_t p) {
  uint32_t v = 0;
  if (in_range(r, p, 4)) memcpy(&v, r->b + p, 4);
  return v;
}

int64_t gpx_fbr_i64(gpx_fbr *r, size_t p) {
  int64_t v = 0;
  if (in_range(r, p, 8)) memcpy(&v, r->b + p, 8);
  return v;
}

size_t gpx_fbr_field(gpx_fbr *r, size_t tbl, int slot) {
  /* soffset: the vtable sits at tbl - soffset (signed) */
  int64_t vt = (int64_t)tbl - (int64_t)(int32_t)gpx_fbr_u32(r, tbl);
  if (r->bad || vt < 0 || (uint64_t)vt >= r->n) {
    r->bad = 1;
    return 0;
  }
  uint16_t vts = gpx_fbr_u16(r, (size_t)vt);
  uint16_t tbl_size = gpx_fbr_u16(r, (size_t)vt + 2);
  if ((size_t)(4 + 2 * slot) >= vts) return 0; /* beyond the vtable: absent */
  uint16_t o = gpx_fbr_u16(r, (size_t)vt + 4 + 2 * (size_t)slot);
  if (o == 0) return 0;
  if (o >= tbl_size || !in_range(r, tbl + o, 1)) {
    r->bad = 1;
    return 0;
  }
  return tbl + o;
}

size_t gpx_fbr_deref(gpx_fbr *r, size_t p) {
  uint32_t o = gpx_fbr_u32(r, p);
  if (r->bad || !in_range(r, p + o, 4)) {
    r->bad = 1;
    return 0;
  }
  return p + o;
}

size_t gpx_fbr_ref(gpx_fbr *r, size_t tbl, int slot) {
  size_t p = gpx_fbr_field(r, tbl, slot);
  return p ? gpx_fbr_deref(r, p) : 0;
}

const char *gpx_fbr_str(gpx_fbr *r, size_t s, size_t *len) {
  uint32_t n = gpx_fbr_u32(r, s);
  /* bytes plus the NUL FlatBuffers puts after every string */
  if (r->bad || !in_range(r, s + 4, (size_t)n + 1) || r->b[s + 4 + n] != 0) {
    r->bad = 1;
    *len = 0;
    return NULL;
  }
  *len = n;
  return (const char *)r->b + s + 4;
}

/* Scalars with their schema default when absent. */
static int64_t sc_i16(gpx_fbr *r, size_t tbl, int slot, int64_t def) {
  size_t p = gpx_fbr_field(r, tbl, slot);
  return p ? (int16_t)gpx_fbr_u16(r, p) : def;
}
static int64_t sc_u8(gpx_fbr *r, size_t tbl, int slot, int64_t def) {
  size_t p = gpx_fbr_field(r, tbl, slot);
  return p ? gpx_fbr_u8(r, p) : def;
}
static int64_t sc_i32(gpx_fbr *r, size_t tbl, int slot, int64_t def) {
  size_t p = gpx_fbr_field(r, tbl, slot);
  return p ? (int32_t)gpx_fbr_u32(r, p) : def;
}
static int64_t sc_i64(gpx_fbr *r, size_t tbl, int slot, int64_t def) {
  size_t p = gpx_fbr_field(r, tbl, slot);
  return p ? gpx_fbr_i64(r, p) : def;
}

/* ---- the file ------------------------------------------------------------------ */

static int fail(gpx_ipc_file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(gpx_ipc_file *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->err, sizeof f->err, fmt, ap);
  va_end(ap);
  return -1;
}

/* Block i: file offset, metadata length, body length. */
static void block(gpx_ipc_file *f, size_t i, int64_t *off, int32_t *ml, int64_t *body) {
  size_t bp = f->blocks + 24 * i;
  *off = gpx_fbr_i64(&f->footer, bp);
  *ml = (int32_t)gpx_fbr_u32(&f->footer, bp + 8);
  *body = gpx_fbr_i64(&f->footer, bp + 16);
}

/* The message flatbuffer of an encapsulated message at file offset off with
   metadata length ml (prefix included); its root table in *root. */
static gpx_fbr message(gpx_ipc_file *f, int64_t off, int32_t ml, size_t *root) {
  gpx_fbr m = {NULL, 0, 1};
  *root = 0;
  if (off < 0 || ml < 8 || (uint64_t)off > f->file.n || (uint64_t)ml > f->file.n - (uint64_t)off) return m;
  m = gpx_fbr_of(f->file.b + off + 8, (size_t)ml - 8);
  *root = gpx_fbr_u32(&m, 0);
  return m;
}

int gpx_ipc_open(gpx_ipc_file *f, const uint8_t *d, size_t n) {
  memset(f, 0, sizeof *f);
  f->file = gpx_fbr_of(d, n);
  if (n < 8 + 10) return fail(f, "file of %zu bytes is too short", n);
  if (memcmp(d, "ARROW1\0\0", 8) != 0) return fail(f, "no ARROW1 magic (with padding) at the start");
  if (memcmp(d + n - 6, "ARROW1", 6) != 0) return fail(f, "no ARROW1 magic at the end");
  int32_t flen = (int32_t)gpx_fbr_u32(&f->file, n - 10);
  if (flen <= 0 || (size_t)flen > n - 18) return fail(f, "footer length %d out of range", (int)flen);
  f->footer_at = n - 10 - (size_t)flen;
  if (f->footer_at % 8) return fail(f, "footer at %zu is not 8-byte aligned", f->footer_at);
  if (f->footer_at < 16) return fail(f, "no room for the end-of-stream marker");
  /* The end-of-stream marker sits right before the footer. */
  if (gpx_fbr_u32(&f->file, f->footer_at - 8) != 0xFFFFFFFFu || gpx_fbr_u32(&f->file, f->footer_at - 4) != 0)
    return fail(f, "no end-of-stream marker before the footer");
  f->footer = gpx_fbr_of(d + f->footer_at, (size_t)flen);
  f->froot = gpx_fbr_u32(&f->footer, 0);
  if (sc_i16(&f->footer, f->froot, 0, 0) != METADATA_V5) return fail(f, "footer version is not V5");
  if (gpx_fbr_field(&f->footer, f->froot, 1) == 0) return fail(f, "footer has no schema");
  size_t bv = gpx_fbr_ref(&f->footer, f->froot, 3);
  if (bv == 0) return fail(f, "footer has no recordBatches vector");
  f->nblocks = gpx_fbr_u32(&f->footer, bv);
  f->blocks = bv + 4;
  if ((f->footer_at + f->blocks) % 8) return fail(f, "Block structs are not 8-byte aligned");
  if (f->nblocks > n / 24 || !in_range(&f->footer, f->blocks, 24 * f->nblocks))
    return fail(f, "%zu blocks do not fit in the footer", f->nblocks);
  if (f->footer.bad) return fail(f, "footer flatbuffer out of bounds");
  /* Schema message at offset 8. */
  if (gpx_fbr_u32(&f->file, 8) != 0xFFFFFFFFu) return fail(f, "no continuation marker at offset 8");
  size_t end_prev = 8 + 8 + (size_t)gpx_fbr_u32(&f->file, 12);
  if (end_prev % 8) return fail(f, "schema message ends at %zu, not 8-byte aligned", end_prev);
  for (size_t i = 0; i < f->nblocks; i++) {
    int64_t off, body;
    int32_t ml;
    block(f, i, &off, &ml, &body);
    if (off % 8 || ml % 8 || body % 8)
      return fail(f, "block %zu: offset %lld, metadata %d, body %lld not all 8-byte aligned", i, (long long)off,
                  (int)ml, (long long)body);
    if (off != (int64_t)end_prev) return fail(f, "block %zu at %lld, expected %zu (contiguous)", i, (long long)off, end_prev);
    if (ml < 8 || body < 0) return fail(f, "block %zu: bad lengths", i);
    if (gpx_fbr_u32(&f->file, (size_t)off) != 0xFFFFFFFFu) return fail(f, "block %zu: no continuation marker", i);
    if ((int64_t)(int32_t)gpx_fbr_u32(&f->file, (size_t)off + 4) + 8 != ml)
      return fail(f, "block %zu: metadata length differs from the message prefix", i);
    if ((uint64_t)ml + (uint64_t)body > (uint64_t)(f->footer_at - 8) - (uint64_t)off)
      return fail(f, "block %zu runs past the end-of-stream marker", i);
    end_prev = (size_t)(off + ml + body);
    size_t mr;
    gpx_fbr m = message(f, off, ml, &mr);
    if (sc_i16(&m, mr, 0, 0) != METADATA_V5) return fail(f, "block %zu: message version is not V5", i);
    if (sc_u8(&m, mr, 1, 0) != HEADER_RECORD_BATCH) return fail(f, "block %zu: not a RecordBatch message", i);
    if (sc_i64(&m, mr, 3, 0) != body) return fail(f, "block %zu: bodyLength differs from the block's", i);
    if (m.bad) return fail(f, "block %zu: message flatbuffer out of bounds", i);
  }
  if (end_prev != f->footer_at - 8) return fail(f, "batches end at %zu, the end-of-stream marker is at %zu", end_prev,
                                                f->footer_at - 8);
  if (f->file.bad) return fail(f, "read out of bounds");
  return 0;
}

/* RecordBatch table of batch i. */
static gpx_fbr batch_msg(gpx_ipc_file *f, size_t i, size_t *rb) {
  int64_t off, body;
  int32_t ml;
  *rb = 0;
  if (i >= f->nblocks) {
    gpx_fbr bad = {NULL, 0, 1};
    return bad;
  }
  block(f, i, &off, &ml, &body);
  size_t mr;
  gpx_fbr m = message(f, off, ml, &mr);
  *rb = gpx_fbr_ref(&m, mr, 2);
  if (*rb == 0) m.bad = 1;
  return m;
}

int64_t gpx_ipc_batch_rows(gpx_ipc_file *f, size_t i) {
  size_t rb;
  gpx_fbr m = batch_msg(f, i, &rb);
  int64_t rows = m.bad ? 0 : sc_i64(&m, rb, 0, 0);
  if (m.bad) return fail(f, "batch %zu: unreadable RecordBatch", i);
  return rows;
}

static size_t vec_len(gpx_ipc_file *f, size_t i, int slot) {
  size_t rb;
  gpx_fbr m = batch_msg(f, i, &rb);
  size_t v = m.bad ? 0 : gpx_fbr_ref(&m, rb, slot);
  size_t n = v ? gpx_fbr_u32(&m, v) : 0;
  if (m.bad) fail(f, "batch %zu: unreadable RecordBatch", i);
  return n;
}

size_t gpx_ipc_batch_nnodes(gpx_ipc_file *f, size_t i) { return vec_len(f, i, 1); }
size_t gpx_ipc_batch_nbuffers(gpx_ipc_file *f, size_t i) { return vec_len(f, i, 2); }

int64_t gpx_ipc_batch_body_len(gpx_ipc_file *f, size_t i) {
  int64_t off, body;
  int32_t ml;
  if (i >= f->nblocks) return fail(f, "no batch %zu", i);
  block(f, i, &off, &ml, &body);
  return body;
}

/* Element j (16 bytes: two int64) of vector `slot` of batch i. */
static int pair(gpx_ipc_file *f, size_t i, int slot, size_t j, int64_t *a, int64_t *b) {
  size_t rb;
  gpx_fbr m = batch_msg(f, i, &rb);
  size_t v = m.bad ? 0 : gpx_fbr_ref(&m, rb, slot);
  if (v == 0 || j >= gpx_fbr_u32(&m, v)) return fail(f, "batch %zu: no element %zu in vector %d", i, j, slot);
  *a = gpx_fbr_i64(&m, v + 4 + 16 * j);
  *b = gpx_fbr_i64(&m, v + 4 + 16 * j + 8);
  if (m.bad) return fail(f, "batch %zu: vector %d out of bounds", i, slot);
  return 0;
}

int gpx_ipc_batch_node(gpx_ipc_file *f, size_t i, size_t j, int64_t *len, int64_t *nulls) {
  *len = *nulls = 0;
  return pair(f, i, 1, j, len, nulls);
}

int gpx_ipc_batch_buffer(gpx_ipc_file *f, size_t i, size_t k, int64_t *off, int64_t *len, size_t *body) {
  *off = *len = 0;
  *body = 0;
  if (pair(f, i, 2, k, off, len)) return -1;
  int64_t boff, blen;
  int32_t ml;
  block(f, i, &boff, &ml, &blen);
  *body = (size_t)boff + (size_t)ml;
  if (*off < 0 || *len < 0 || *off > blen || *len > blen - *off)
    return fail(f, "batch %zu: buffer %zu [%lld, +%lld) outside the body of %lld bytes", i, k, (long long)*off,
                (long long)*len, (long long)blen);
  return 0;
}

/* ---- the schema ------------------------------------------------------------------ */

static int read_kvs(gpx_fbr *r, size_t tbl, int slot, gpx_ipc_kv **out, size_t *n) {
  *out = NULL;
  *n = 0;
  size_t v = gpx_fbr_ref(r, tbl, slot);
  if (v == 0) return r->bad ? -1 : 0;
  uint32_t cnt = gpx_fbr_u32(r, v);
  if (r->bad || cnt > r->n / 4) return -1;
  *out = calloc(cnt ? cnt : 1, sizeof **out);
  if (*out == NULL) return -1;
  *n = cnt;
  for (uint32_t k = 0; k < cnt; k++) {
    size_t kv = gpx_fbr_deref(r, v + 4 + 4 * (size_t)k);
    size_t ks = gpx_fbr_ref(r, kv, 0), vs = gpx_fbr_ref(r, kv, 1);
    if (r->bad || !ks || !vs) return -1;
    (*out)[k].key = gpx_fbr_str(r, ks, &(*out)[k].key_len);
    (*out)[k].value = gpx_fbr_str(r, vs, &(*out)[k].value_len);
    if (r->bad) return -1;
  }
  return 0;
}

int gpx_ipc_read_schema(gpx_ipc_file *f, int from_footer, gpx_ipc_schema *out) {
  memset(out, 0, sizeof *out);
  gpx_fbr r;
  size_t sch;
  if (from_footer) {
    r = f->footer;
    r.bad = 0;
    sch = gpx_fbr_ref(&r, f->froot, 1);
  } else {
    size_t mr;
    r = message(f, 8, (int32_t)gpx_fbr_u32(&f->file, 12) + 8, &mr);
    if (sc_i16(&r, mr, 0, 0) != METADATA_V5) return fail(f, "schema message version is not V5");
    if (sc_u8(&r, mr, 1, 0) != HEADER_SCHEMA) return fail(f, "the first message is not a Schema");
    sch = gpx_fbr_ref(&r, mr, 2);
  }
  if (r.bad || sch == 0) return fail(f, "no schema table");
  out->endianness = (int)sc_i16(&r, sch, 0, 0);
  if (read_kvs(&r, sch, 2, &out->md, &out->n_md)) return fail(f, "schema metadata unreadable");
  size_t fv = gpx_fbr_ref(&r, sch, 1);
  uint32_t nf = fv ? gpx_fbr_u32(&r, fv) : 0;
  if (r.bad || nf > r.n / 4) return fail(f, "schema fields unreadable");
  out->fields = calloc(nf ? nf : 1, sizeof *out->fields);
  if (out->fields == NULL) return fail(f, "out of memory");
  out->n_fields = nf;
  for (uint32_t i = 0; i < nf; i++) {
    gpx_ipc_field *fl = &out->fields[i];
    size_t t = gpx_fbr_deref(&r, fv + 4 + 4 * (size_t)i);
    size_t name = gpx_fbr_ref(&r, t, 0);
    if (name) fl->name = gpx_fbr_str(&r, name, &fl->name_len);
    fl->nullable = (int)sc_u8(&r, t, 1, 0);
    fl->type = (int)sc_u8(&r, t, 2, 0);
    size_t ty = gpx_fbr_ref(&r, t, 3);
    if (ty == 0) return fail(f, "field %u has no type table", i);
    switch (fl->type) {
      case GPX_IPC_INT:
        fl->bit_width = (int)sc_i32(&r, ty, 0, 0);
        fl->is_signed = (int)sc_u8(&r, ty, 1, 0);
        break;
      case GPX_IPC_FLOAT: fl->precision = (int)sc_i16(&r, ty, 0, 0); break;
      case GPX_IPC_TIMESTAMP:
        fl->unit = (int)sc_i16(&r, ty, 0, 0);
        fl->has_timezone = gpx_fbr_field(&r, ty, 1) != 0;
        break;
      default: break;
    }
    fl->has_dictionary = gpx_fbr_field(&r, t, 4) != 0;
    size_t ch = gpx_fbr_ref(&r, t, 5);
    fl->n_children = ch ? gpx_fbr_u32(&r, ch) : 0;
    if (read_kvs(&r, t, 6, &fl->md, &fl->n_md)) return fail(f, "field %u metadata unreadable", i);
    if (r.bad) return fail(f, "field %u unreadable", i);
  }
  return 0;
}

void gpx_ipc_schema_reset(gpx_ipc_schema *s) {
  for (size_t i = 0; s->fields && i < s->n_fields; i++) free(s->fields[i].md);
  free(s->fields);
  free(s->md);
  memset(s, 0, sizeof *s);
}

const char *gpx_ipc_md_get(const gpx_ipc_kv *md, size_t n, const char *key, size_t *len) {
  size_t kl = strlen(key);
  for (size_t i = 0; i < n; i++) {
    if (md[i].key && md[i].key_len == kl && memcmp(md[i].key, key, kl) == 0) {
      if (len) *len = md[i].value_len;
      return md[i].value;
    }
  }
  if (len) *len = 0;
  return NULL;
}
