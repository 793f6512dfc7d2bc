/*
** ipc_writer.c — Arrow IPC file writer (see gpx/arrow.h).
**
** Order of work: validate → plan record batches (row ranges) → build every
** metadata flatbuffer (they are small) → compute the exact file size →
** reserve the output once → copy. Column data is touched exactly once, by
** memcpy, except for UTF8/BINARY offsets of a batch that does not start at
** row 0 (rebased so each batch's offsets start at 0) and the last byte of a
** bitmap (masked so bits past the batch's rows are zero).
**
** Flatbuffer slot numbers are those of Arrow's format/Schema.fbs,
** Message.fbs and File.fbs (Field: name 0, nullable 1, type_type 2, type 3,
** dictionary 4, children 5, custom_metadata 6; Schema: endianness 0,
** fields 1, custom_metadata 2; Message: version 0, header_type 1, header 2,
** bodyLength 3; RecordBatch: length 0, nodes 1, buffers 2; Footer: version 0,
** schema 1, dictionaries 2, recordBatches 3).
**
** What it is not: it never reads, compresses, or writes dictionaries.
*/
#include <stdlib.h>

#include "gpx/arrow.h"
#include "gpx/flatbuf.h"

/* Type union tags (Schema.fbs `union Type`). */
enum { T_INT = 2, T_FLOAT = 3, T_BINARY = 4, T_UTF8 = 5, T_BOOL = 6, T_TIMESTAMP = 10 };
/* MessageHeader union tags (Message.fbs). */
enum { H_SCHEMA = 1, H_RECORD_BATCH = 3 };
#define METADATA_V5 4
#define TIMEUNIT_NANOSECOND 3
#define PRECISION_DOUBLE 2
/* arrow-go rejects message metadata above 64 MiB (defaultMaxMetadataSize). */
#define MAX_METADATA ((size_t)64 << 20)

static const uint8_t MAGIC[8] = {'A', 'R', 'R', 'O', 'W', '1', 0, 0};
static const uint8_t ZEROS[8];

static inline size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

static int is_var(gpx_arrow_type t) { return t == GPX_ARROW_UTF8 || t == GPX_ARROW_BINARY; }

/* ---- planning ------------------------------------------------------------ */

typedef struct batch {
  int64_t r0, r1;
  size_t meta_at, meta_len; /* encapsulated message inside the msgs buffer */
  size_t body_len;
} batch;

/* An upper bound of a batch's body (assumes every nullable column with a
 * bitmap writes it); the real body can only be smaller. */
static size_t body_upper(const gpx_arrow_table *t, int64_t r0, int64_t r1) {
  size_t n = (size_t)(r1 - r0), sum = 0;
  for (size_t i = 0; i < t->n_columns; i++) {
    const gpx_arrow_column *c = &t->columns[i];
    if (c->nullable && c->validity) sum += pad8((n + 7) / 8);
    switch (c->type) {
      case GPX_ARROW_BOOL: sum += pad8((n + 7) / 8); break;
      case GPX_ARROW_UTF8:
      case GPX_ARROW_BINARY:
        sum += pad8((n + 1) * 4) + pad8((size_t)(c->offsets[r1] - c->offsets[r0]));
        break;
      default: sum += pad8(n * 8); break;
    }
  }
  return sum;
}

static int plan(const gpx_arrow_table *t, batch **out, size_t *nout, gpx_error *err) {
  size_t limit = t->max_batch_bytes ? t->max_batch_bytes : GPX_ARROW_DEFAULT_BATCH_BYTES;
  size_t cap = 4, n = 0;
  batch *v = NULL;
  *out = NULL;
  *nout = 0;
  if (t->n_columns == 0) return 0; /* no fields: no batches (§5.1) */
  int64_t r0 = 0;
  do {
    int64_t r1 = t->n_rows;
    if (r1 > r0 && body_upper(t, r0, r1) > limit) {
      /* Largest multiple of 8 rows that fits; at least 8 rows. */
      int64_t lo = 1, hi = (t->n_rows - r0 + 7) / 8 - 1, best = 1;
      while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (body_upper(t, r0, r0 + 8 * mid) <= limit) {
          best = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      r1 = r0 + 8 * best;
      if (r1 > t->n_rows) r1 = t->n_rows;
    }
    if (v == NULL || n == cap) {
      if (v) cap *= 2;
      batch *nv = realloc(v, cap * sizeof *nv);
      if (nv == NULL) {
        free(v);
        return gpx_error_set(err, ENOMEM, "arrow: out of memory planning batches");
      }
      v = nv;
    }
    v[n++] = (batch){.r0 = r0, .r1 = r1};
    r0 = r1;
  } while (r0 < t->n_rows);
  *out = v;
  *nout = n;
  return 0;
}

/* ---- validation ---------------------------------------------------------- */

static int validate(const gpx_arrow_table *t, gpx_error *err) {
  if (t->n_rows < 0 || (t->n_columns && t->columns == NULL) ||
      (t->n_metadata && t->metadata == NULL))
    return gpx_error_set(err, EINVAL, "arrow: bad table description");
  /* Row counts that could overflow size computations are refused early. */
  if ((uint64_t)t->n_rows > ((uint64_t)1 << 40))
    return gpx_error_set(err, EINVAL, "arrow: %lld rows is too many", (long long)t->n_rows);
  for (size_t i = 0; i < t->n_metadata; i++)
    if (!t->metadata[i].key || !t->metadata[i].value)
      return gpx_error_set(err, EINVAL, "arrow: schema metadata %zu has a NULL key/value", i);
  for (size_t i = 0; i < t->n_columns; i++) {
    const gpx_arrow_column *c = &t->columns[i];
    if (c->name == NULL) return gpx_error_set(err, EINVAL, "arrow: column %zu has no name", i);
    if (c->type < GPX_ARROW_TIMESTAMP_NS || c->type > GPX_ARROW_BINARY)
      return gpx_error_set(err, EINVAL, "arrow: column %zu: unknown type %d", i, (int)c->type);
    if (c->n_metadata && c->metadata == NULL)
      return gpx_error_set(err, EINVAL, "arrow: column %zu: metadata missing", i);
    for (size_t k = 0; k < c->n_metadata; k++)
      if (!c->metadata[k].key || !c->metadata[k].value)
        return gpx_error_set(err, EINVAL, "arrow: column %zu: NULL metadata key/value", i);
    if (is_var(c->type)) {
      if (c->offsets == NULL)
        return gpx_error_set(err, EINVAL, "arrow: column %zu: offsets missing", i);
      if (c->offsets[0] < 0)
        return gpx_error_set(err, EINVAL, "arrow: column %zu: negative first offset", i);
      for (int64_t r = 0; r < t->n_rows; r++)
        if (c->offsets[r + 1] < c->offsets[r])
          return gpx_error_set(err, EINVAL, "arrow: column %zu: offsets decrease at row %lld", i,
                               (long long)r);
      if (c->values == NULL && c->offsets[t->n_rows] > c->offsets[0])
        return gpx_error_set(err, EINVAL, "arrow: column %zu: data missing", i);
    } else if (c->values == NULL && t->n_rows > 0) {
      return gpx_error_set(err, EINVAL, "arrow: column %zu: values missing", i);
    }
  }
  return 0;
}

/* ---- per-batch buffer layout --------------------------------------------- */

enum { K_COPY, K_BITMAP, K_OFFSETS };
typedef struct slice {
  const uint8_t *src;
  size_t len;   /* bytes written (unpadded) */
  int kind;
  unsigned tail_bits; /* K_BITMAP: valid bits in the last byte (0 = all 8) */
  int32_t base; /* K_OFFSETS: subtracted from each offset */
} slice;

static int64_t count_nulls(const uint8_t *bits, int64_t r0, int64_t n) {
  const uint8_t *p = bits + r0 / 8; /* r0 is a multiple of 8 */
  int64_t full = n / 8, valid = 0;
  int64_t i = 0;
  for (; i + 8 <= full; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    valid += __builtin_popcountll(w);
  }
  for (; i < full; i++) valid += __builtin_popcount(p[i]);
  if (n % 8) valid += __builtin_popcount(p[full] & ((1u << (n % 8)) - 1));
  return n - valid;
}

/* Fill nodes (length, null_count) and slices for rows [r0, r1); returns the
 * number of slices. Order per column (Arrow layout): validity, [offsets], values. */
static size_t layout(const gpx_arrow_table *t, int64_t r0, int64_t r1, int64_t *nodes,
                     slice *s) {
  int64_t n = r1 - r0;
  size_t k = 0;
  unsigned tail = (unsigned)(n % 8);
  for (size_t i = 0; i < t->n_columns; i++) {
    const gpx_arrow_column *c = &t->columns[i];
    int64_t nulls = (c->nullable && c->validity && n) ? count_nulls(c->validity, r0, n) : 0;
    nodes[2 * i] = n;
    nodes[2 * i + 1] = nulls;
    /* A zero-null slice may leave the validity slot empty (AG loadCommon). */
    s[k++] = nulls ? (slice){c->validity + r0 / 8, (size_t)(n + 7) / 8, K_BITMAP, tail, 0}
                   : (slice){NULL, 0, K_COPY, 0, 0};
    const uint8_t *vals = c->values;
    switch (c->type) {
      case GPX_ARROW_BOOL:
        s[k++] = (slice){vals ? vals + r0 / 8 : NULL, (size_t)(n + 7) / 8, K_BITMAP, tail, 0};
        break;
      case GPX_ARROW_UTF8:
      case GPX_ARROW_BINARY: {
        int32_t b = c->offsets[r0];
        s[k++] = (slice){(const uint8_t *)(c->offsets + r0), (size_t)(n + 1) * 4,
                         b ? K_OFFSETS : K_COPY, 0, b};
        s[k++] = (slice){vals ? vals + b : NULL, (size_t)(c->offsets[r1] - b), K_COPY, 0, 0};
        break;
      }
      default:
        s[k++] = (slice){vals ? vals + (size_t)r0 * 8 : NULL, (size_t)n * 8, K_COPY, 0, 0};
        break;
    }
  }
  return k;
}

/* ---- metadata ------------------------------------------------------------ */

static gpx_fb_ref kv_vector(gpx_fb_builder *b, const gpx_arrow_kv *kv, size_t n, gpx_fb_ref *tmp) {
  for (size_t i = 0; i < n; i++) {
    gpx_fb_ref k = gpx_fb_string(b, kv[i].key, strlen(kv[i].key));
    gpx_fb_ref v = gpx_fb_string(b, kv[i].value, strlen(kv[i].value));
    gpx_fb_table_start(b, 2); /* KeyValue { key, value } */
    gpx_fb_add_ref(b, 0, k);
    gpx_fb_add_ref(b, 1, v);
    tmp[i] = gpx_fb_table_end(b);
  }
  gpx_fb_vector_start(b, 4, n, 4);
  for (size_t i = n; i-- > 0;) gpx_fb_push_ref(b, tmp[i]);
  return gpx_fb_vector_end(b, n);
}

static gpx_fb_ref build_field(gpx_fb_builder *b, const gpx_arrow_column *c, gpx_fb_ref *tmp) {
  gpx_fb_ref name = gpx_fb_string(b, c->name, strlen(c->name));
  uint8_t tag = 0;
  switch (c->type) {
    case GPX_ARROW_TIMESTAMP_NS:
      tag = T_TIMESTAMP; /* Timestamp { unit, timezone }: no timezone */
      gpx_fb_table_start(b, 2);
      gpx_fb_add_i16(b, 0, TIMEUNIT_NANOSECOND);
      break;
    case GPX_ARROW_FLOAT64:
      tag = T_FLOAT; /* FloatingPoint { precision } */
      gpx_fb_table_start(b, 1);
      gpx_fb_add_i16(b, 0, PRECISION_DOUBLE);
      break;
    case GPX_ARROW_INT64:
      tag = T_INT; /* Int { bitWidth, is_signed } */
      gpx_fb_table_start(b, 2);
      gpx_fb_add_i32(b, 0, 64);
      gpx_fb_add_u8(b, 1, 1);
      break;
    case GPX_ARROW_UTF8: tag = T_UTF8; gpx_fb_table_start(b, 0); break;
    case GPX_ARROW_BOOL: tag = T_BOOL; gpx_fb_table_start(b, 0); break;
    case GPX_ARROW_BINARY: tag = T_BINARY; gpx_fb_table_start(b, 0); break;
  }
  gpx_fb_ref type = gpx_fb_table_end(b);
  gpx_fb_vector_start(b, 4, 0, 4);
  gpx_fb_ref children = gpx_fb_vector_end(b, 0);
  gpx_fb_ref md = c->n_metadata ? kv_vector(b, c->metadata, c->n_metadata, tmp) : 0;
  gpx_fb_table_start(b, 7);
  gpx_fb_add_ref(b, 0, name);
  gpx_fb_add_u8(b, 1, c->nullable ? 1 : 0);
  gpx_fb_add_u8(b, 2, tag);
  gpx_fb_add_ref(b, 3, type);
  gpx_fb_add_ref(b, 5, children);
  if (md) gpx_fb_add_ref(b, 6, md);
  return gpx_fb_table_end(b);
}

static gpx_fb_ref build_schema(gpx_fb_builder *b, const gpx_arrow_table *t, gpx_fb_ref *fields,
                               gpx_fb_ref *tmp) {
  for (size_t i = 0; i < t->n_columns; i++) fields[i] = build_field(b, &t->columns[i], tmp);
  gpx_fb_vector_start(b, 4, t->n_columns, 4);
  for (size_t i = t->n_columns; i-- > 0;) gpx_fb_push_ref(b, fields[i]);
  gpx_fb_ref fv = gpx_fb_vector_end(b, t->n_columns);
  gpx_fb_ref md = t->n_metadata ? kv_vector(b, t->metadata, t->n_metadata, tmp) : 0;
  gpx_fb_table_start(b, 4);
  gpx_fb_add_i16(b, 0, 0); /* endianness Little */
  gpx_fb_add_ref(b, 1, fv);
  if (md) gpx_fb_add_ref(b, 2, md);
  return gpx_fb_table_end(b);
}

static gpx_fb_ref build_message(gpx_fb_builder *b, uint8_t htype, gpx_fb_ref header,
                                int64_t body_len) {
  gpx_fb_table_start(b, 5);
  gpx_fb_add_i64(b, 3, body_len);
  gpx_fb_add_ref(b, 2, header);
  gpx_fb_add_i16(b, 0, METADATA_V5);
  gpx_fb_add_u8(b, 1, htype);
  return gpx_fb_table_end(b);
}

/* Encapsulated message: 0xFFFFFFFF, int32 metadata length, flatbuffer, zero
 * padding so the whole prefix+metadata is a multiple of 8 (IPC format spec). */
static int encapsulate(gpx_fb_builder *b, gpx_fb_ref root, gpx_buf *msgs, size_t *len,
                       gpx_error *err) {
  const uint8_t *data;
  size_t n;
  GPX_RETURN_NOT_OK(gpx_fb_finish(b, root, &data, &n, err));
  size_t total = pad8(8 + n);
  if (total > MAX_METADATA)
    return gpx_error_set(err, EINVAL, "arrow: message metadata of %zu bytes exceeds 64 MiB", total);
  if (gpx_buf_reserve(msgs, total)) return gpx_error_set(err, ENOMEM, "arrow: out of memory");
  uint32_t cont = 0xFFFFFFFFu;
  int32_t mlen = (int32_t)(total - 8);
  gpx_buf_append_unsafe(msgs, &cont, 4);
  gpx_buf_append_unsafe(msgs, &mlen, 4);
  gpx_buf_append_unsafe(msgs, data, n);
  gpx_buf_append_unsafe(msgs, ZEROS, total - 8 - n);
  *len = total;
  return 0;
}

/* ---- the writer ---------------------------------------------------------- */

static void copy_slice(gpx_buf *out, const slice *s) {
  uint8_t *dst = out->data + out->len;
  if (s->len) {
    switch (s->kind) {
      case K_COPY: memcpy(dst, s->src, s->len); break;
      case K_BITMAP:
        memcpy(dst, s->src, s->len);
        if (s->tail_bits) dst[s->len - 1] &= (uint8_t)((1u << s->tail_bits) - 1);
        break;
      case K_OFFSETS: {
        /* dst is only as aligned as out->len: the file may start anywhere */
        const int32_t *o = (const int32_t *)(const void *)s->src;
        for (size_t i = 0; i < s->len / 4; i++) {
          int32_t v = o[i] - s->base;
          memcpy(dst + 4 * i, &v, 4);
        }
        break;
      }
    }
  }
  size_t padded = pad8(s->len);
  memset(dst + s->len, 0, padded - s->len);
  out->len += padded;
}

int gpx_arrow_write_file(const gpx_arrow_table *t, gpx_buf *out, size_t *n_batches,
                         gpx_error *err) {
  if (t == NULL || out == NULL) return gpx_error_set(err, EINVAL, "arrow: NULL argument");
  GPX_RETURN_NOT_OK(validate(t, err));
  size_t start = out->len;
  int rc = 0;
  batch *bs = NULL;
  size_t nb = 0;
  gpx_fb_builder fb;
  gpx_fb_init(&fb);
  gpx_buf msgs;
  gpx_buf_init(&msgs);
  size_t maxmd = t->n_metadata;
  for (size_t i = 0; i < t->n_columns; i++)
    if (t->columns[i].n_metadata > maxmd) maxmd = t->columns[i].n_metadata;
  size_t ntmp = (t->n_columns > maxmd ? t->n_columns : maxmd) + 1;
  gpx_fb_ref *fields = calloc(ntmp, sizeof *fields);
  gpx_fb_ref *tmp = calloc(ntmp, sizeof *tmp);
  int64_t *nodes = calloc(2 * t->n_columns + 1, sizeof *nodes);
  slice *sl = calloc(3 * t->n_columns + 1, sizeof *sl);
  if (!fields || !tmp || !nodes || !sl) {
    rc = gpx_error_set(err, ENOMEM, "arrow: out of memory");
    goto done;
  }
  if ((rc = plan(t, &bs, &nb, err))) goto done;

  /* Schema message. */
  size_t schema_len;
  gpx_fb_ref sch = build_schema(&fb, t, fields, tmp);
  if ((rc = encapsulate(&fb, build_message(&fb, H_SCHEMA, sch, 0), &msgs, &schema_len, err)))
    goto done;

  /* Record batch messages; offsets inside each body are known from the layout. */
  for (size_t bi = 0; bi < nb; bi++) {
    size_t ns = layout(t, bs[bi].r0, bs[bi].r1, nodes, sl);
    gpx_fb_clear(&fb);
    gpx_fb_vector_start(&fb, 16, t->n_columns, 8); /* struct FieldNode { length, null_count } */
    for (size_t i = t->n_columns; i-- > 0;) {
      gpx_fb_push_i64(&fb, nodes[2 * i + 1]);
      gpx_fb_push_i64(&fb, nodes[2 * i]);
    }
    gpx_fb_ref nv = gpx_fb_vector_end(&fb, t->n_columns);
    size_t body = 0;
    for (size_t i = 0; i < ns; i++) body += pad8(sl[i].len);
    gpx_fb_vector_start(&fb, 16, ns, 8); /* struct Buffer { offset, length } */
    size_t off = body;
    for (size_t i = ns; i-- > 0;) {
      off -= pad8(sl[i].len);
      gpx_fb_push_i64(&fb, (int64_t)sl[i].len);
      gpx_fb_push_i64(&fb, (int64_t)off);
    }
    gpx_fb_ref bv = gpx_fb_vector_end(&fb, ns);
    gpx_fb_table_start(&fb, 5);
    gpx_fb_add_i64(&fb, 0, bs[bi].r1 - bs[bi].r0);
    gpx_fb_add_ref(&fb, 1, nv);
    gpx_fb_add_ref(&fb, 2, bv);
    gpx_fb_ref rb = gpx_fb_table_end(&fb);
    bs[bi].meta_at = msgs.len;
    bs[bi].body_len = body;
    if ((rc = encapsulate(&fb, build_message(&fb, H_RECORD_BATCH, rb, (int64_t)body), &msgs,
                          &bs[bi].meta_len, err)))
      goto done;
  }

  /* File offsets, then the footer that records them. */
  size_t pos = sizeof MAGIC + schema_len;
  gpx_fb_clear(&fb);
  size_t *offs = calloc(nb + 1, sizeof *offs);
  if (offs == NULL) {
    rc = gpx_error_set(err, ENOMEM, "arrow: out of memory");
    goto done;
  }
  for (size_t bi = 0; bi < nb; bi++) {
    offs[bi] = pos;
    pos += bs[bi].meta_len + bs[bi].body_len;
  }
  size_t eos_at = pos;
  sch = build_schema(&fb, t, fields, tmp);
  gpx_fb_vector_start(&fb, 24, 0, 8);
  gpx_fb_ref dicts = gpx_fb_vector_end(&fb, 0);
  /* struct Block { offset: long; metaDataLength: int; (pad 4) bodyLength: long } */
  gpx_fb_vector_start(&fb, 24, nb, 8);
  for (size_t bi = nb; bi-- > 0;) {
    gpx_fb_push_i64(&fb, (int64_t)bs[bi].body_len);
    gpx_fb_pad(&fb, 4);
    gpx_fb_push_i32(&fb, (int32_t)bs[bi].meta_len);
    gpx_fb_push_i64(&fb, (int64_t)offs[bi]);
  }
  gpx_fb_ref blocks = gpx_fb_vector_end(&fb, nb);
  gpx_fb_table_start(&fb, 5);
  gpx_fb_add_ref(&fb, 1, sch);
  gpx_fb_add_ref(&fb, 2, dicts);
  gpx_fb_add_ref(&fb, 3, blocks);
  gpx_fb_add_i16(&fb, 0, METADATA_V5);
  gpx_fb_ref footer = gpx_fb_table_end(&fb);
  free(offs);
  const uint8_t *fdata;
  size_t flen;
  if ((rc = gpx_fb_finish(&fb, footer, &fdata, &flen, err))) goto done;
  if (flen > MAX_METADATA) {
    rc = gpx_error_set(err, EINVAL, "arrow: footer of %zu bytes exceeds 64 MiB", flen);
    goto done;
  }

  /* Everything is sized: reserve once and copy. */
  size_t total = eos_at + 8 + flen + 4 + 6;
  if (gpx_buf_reserve(out, total)) {
    rc = gpx_error_set(err, ENOMEM, "arrow: out of memory for a %zu-byte file", total);
    goto done;
  }
  gpx_buf_append_unsafe(out, MAGIC, sizeof MAGIC);
  gpx_buf_append_unsafe(out, msgs.data, schema_len);
  for (size_t bi = 0; bi < nb; bi++) {
    gpx_buf_append_unsafe(out, msgs.data + bs[bi].meta_at, bs[bi].meta_len);
    size_t ns = layout(t, bs[bi].r0, bs[bi].r1, nodes, sl);
    for (size_t i = 0; i < ns; i++) copy_slice(out, &sl[i]);
  }
  static const uint8_t EOS[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
  gpx_buf_append_unsafe(out, EOS, 8);
  gpx_buf_append_unsafe(out, fdata, flen);
  int32_t fl = (int32_t)flen;
  gpx_buf_append_unsafe(out, &fl, 4);
  gpx_buf_append_unsafe(out, MAGIC, 6);
  if (n_batches) *n_batches = nb;

done:
  if (rc) out->len = start;
  free(fields);
  free(tmp);
  free(nodes);
  free(sl);
  free(bs);
  gpx_buf_reset(&msgs);
  gpx_fb_reset(&fb);
  return rc;
}
