/*
** flatbuf.c — back-to-front FlatBuffers builder (see gpx/flatbuf.h).
**
** Layout rules followed (FlatBuffers "internals" doc, same as the reference
** Go/C++ builders): every scalar is aligned to its own size relative to the
** end of the buffer; a uoffset is stored as the distance from its own
** position forward to the target; a table starts with an soffset to its
** vtable (table position minus vtable position, here the vtable sits just
** before the table); a vtable is [vtable bytes, table bytes, field offsets…]
** as uint16; vectors and strings are a uint32 count followed by elements
** (strings add a NUL). The root is a uoffset at the very front.
**
** It is not a general-purpose library: it covers what Arrow's Schema.fbs,
** Message.fbs and File.fbs need and nothing else.
*/
#include <stdlib.h>

#include "gpx/flatbuf.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gpx flatbuf builder writes host-order scalars; only little-endian hosts are supported"
#endif

/* FlatBuffers offsets are 32-bit signed in places; stay below 2 GiB. */
#define FB_MAX_SIZE ((size_t)INT32_MAX - 16)

static void fail(gpx_fb_builder *b, int code, const char *what) {
  if (b->status == 0) {
    b->status = code;
    b->what = what;
  }
}

void gpx_fb_init(gpx_fb_builder *b) { memset(b, 0, sizeof *b); }

void gpx_fb_reset(gpx_fb_builder *b) {
  free(b->buf);
  memset(b, 0, sizeof *b);
}

void gpx_fb_clear(gpx_fb_builder *b) {
  uint8_t *buf = b->buf;
  size_t cap = b->cap;
  memset(b, 0, sizeof *b);
  b->buf = buf;
  b->cap = cap;
}

/* Make room for `need` more bytes at the front; old bytes move to the new end. */
static int grow(gpx_fb_builder *b, size_t need) {
  if (b->status) return b->status;
  if (need > FB_MAX_SIZE - b->size) {
    fail(b, EOVERFLOW, "flatbuffer larger than 2 GiB");
    return b->status;
  }
  if (b->cap - b->size >= need) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->size < need) cap *= 2;
  /* cap stays a multiple of 8 so the finished data is 8-byte aligned. */
  uint8_t *p = malloc(cap);
  if (p == NULL) {
    fail(b, ENOMEM, "out of memory");
    return b->status;
  }
  if (b->size) memcpy(p + cap - b->size, b->buf + b->cap - b->size, b->size);
  free(b->buf);
  b->buf = p;
  b->cap = cap;
  return 0;
}

static inline uint8_t *front(gpx_fb_builder *b) { return b->buf + b->cap - b->size; }

/* Pad so that after writing `additional` bytes the size is a multiple of align. */
static void prep(gpx_fb_builder *b, size_t align, size_t additional) {
  if (b->status) return;
  if (align > b->minalign) b->minalign = align;
  size_t pad = (~(b->size + additional) + 1) & (align - 1);
  if (grow(b, pad + additional)) return;
  b->size += pad;
  if (pad) memset(front(b), 0, pad);
}

static void put(gpx_fb_builder *b, const void *p, size_t n) {
  if (grow(b, n)) return;
  b->size += n;
  memcpy(front(b), p, n);
}

#define PUSH_SCALAR(b, v)          \
  do {                             \
    prep((b), sizeof(v), 0);       \
    put((b), &(v), sizeof(v));     \
  } while (0)

void gpx_fb_pad(gpx_fb_builder *b, size_t n) {
  if (n == 0 || grow(b, n)) return;
  b->size += n;
  memset(front(b), 0, n);
}

void gpx_fb_push_i32(gpx_fb_builder *b, int32_t v) { PUSH_SCALAR(b, v); }
void gpx_fb_push_i64(gpx_fb_builder *b, int64_t v) { PUSH_SCALAR(b, v); }
static void push_u16(gpx_fb_builder *b, uint16_t v) { PUSH_SCALAR(b, v); }
static void push_u32(gpx_fb_builder *b, uint32_t v) { PUSH_SCALAR(b, v); }

void gpx_fb_push_ref(gpx_fb_builder *b, gpx_fb_ref r) {
  prep(b, 4, 0);
  if (b->status) return;
  if (r == 0 || r > b->size) {
    fail(b, EINVAL, "reference to an object not yet built");
    return;
  }
  /* Stored value: distance from this uoffset's own position to the target. */
  uint32_t v = (uint32_t)(b->size + 4 - r);
  put(b, &v, 4);
}

gpx_fb_ref gpx_fb_string(gpx_fb_builder *b, const char *s, size_t n) {
  if (b->in_table) fail(b, EINVAL, "string built inside an open table");
  if (n > FB_MAX_SIZE) fail(b, EOVERFLOW, "string too long");
  prep(b, 4, n + 1);
  uint8_t nul = 0;
  put(b, &nul, 1);
  if (n) put(b, s, n);
  push_u32(b, (uint32_t)n);
  return b->status ? 0 : (gpx_fb_ref)b->size;
}

void gpx_fb_table_start(gpx_fb_builder *b, int nslots) {
  if (b->in_table) fail(b, EINVAL, "nested table_start");
  if (nslots < 0 || nslots > GPX_FB_MAX_SLOTS) fail(b, EINVAL, "too many table slots");
  if (b->status) return;
  memset(b->vt, 0, sizeof b->vt);
  b->nslots = nslots;
  b->obj_start = b->size;
  b->in_table = 1;
}

static void mark(gpx_fb_builder *b, int slot) {
  if (!b->in_table || slot < 0 || slot >= b->nslots) {
    fail(b, EINVAL, "field added outside a table or to a bad slot");
    return;
  }
  if (!b->status) b->vt[slot] = (uint32_t)b->size;
}

void gpx_fb_add_u8(gpx_fb_builder *b, int slot, uint8_t v) { PUSH_SCALAR(b, v); mark(b, slot); }
void gpx_fb_add_i16(gpx_fb_builder *b, int slot, int16_t v) { PUSH_SCALAR(b, v); mark(b, slot); }
void gpx_fb_add_i32(gpx_fb_builder *b, int slot, int32_t v) { PUSH_SCALAR(b, v); mark(b, slot); }
void gpx_fb_add_i64(gpx_fb_builder *b, int slot, int64_t v) { PUSH_SCALAR(b, v); mark(b, slot); }

void gpx_fb_add_ref(gpx_fb_builder *b, int slot, gpx_fb_ref r) {
  gpx_fb_push_ref(b, r);
  mark(b, slot);
}

gpx_fb_ref gpx_fb_table_end(gpx_fb_builder *b) {
  if (!b->in_table) fail(b, EINVAL, "table_end without table_start");
  b->in_table = 0;
  if (b->status) return 0;
  /* Placeholder for the soffset to the vtable; the table starts here. */
  int32_t zero = 0;
  PUSH_SCALAR(b, zero);
  size_t obj = b->size;
  int n = b->nslots;
  while (n > 0 && b->vt[n - 1] == 0) n--; /* trailing absent fields need no slot */
  if (obj - b->obj_start > UINT16_MAX) {
    fail(b, EOVERFLOW, "table larger than 64 KiB");
    return 0;
  }
  for (int i = n - 1; i >= 0; i--)
    push_u16(b, b->vt[i] ? (uint16_t)(obj - b->vt[i]) : 0);
  push_u16(b, (uint16_t)(obj - b->obj_start));
  push_u16(b, (uint16_t)((n + 2) * 2));
  if (b->status) return 0;
  /* vtable sits just before the table: soffset = table pos - vtable pos > 0. */
  int32_t soff = (int32_t)(b->size - obj);
  memcpy(b->buf + b->cap - obj, &soff, 4);
  return (gpx_fb_ref)obj;
}

void gpx_fb_vector_start(gpx_fb_builder *b, size_t elem_size, size_t n, size_t align) {
  if (b->in_table) fail(b, EINVAL, "vector built inside an open table");
  if (n && elem_size > FB_MAX_SIZE / n) fail(b, EOVERFLOW, "vector too large");
  if (b->status) return;
  prep(b, 4, elem_size * n);
  prep(b, align, elem_size * n);
}

gpx_fb_ref gpx_fb_vector_end(gpx_fb_builder *b, size_t n) {
  if (n > UINT32_MAX) fail(b, EOVERFLOW, "vector too long");
  push_u32(b, (uint32_t)n);
  return b->status ? 0 : (gpx_fb_ref)b->size;
}

int gpx_fb_finish(gpx_fb_builder *b, gpx_fb_ref root, const uint8_t **data, size_t *len,
                  gpx_error *err) {
  if (b->in_table) fail(b, EINVAL, "finish with an open table");
  if (!b->status) {
    prep(b, b->minalign > 4 ? b->minalign : 4, 4);
    gpx_fb_push_ref(b, root);
  }
  if (b->status)
    return gpx_error_set(err, b->status, "flatbuffer: %s", b->what ? b->what : "error");
  *data = front(b);
  *len = b->size;
  return 0;
}
