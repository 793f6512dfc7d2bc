/*
** flatbuf.h — a minimal FlatBuffers *builder* (no reader, no verifier).
**
** It exists so the Arrow IPC writer can emit Schema / Message / Footer
** tables without a generated-code dependency. It builds back to front like
** the reference builders (flatbuffers Go/C++ `Builder`): objects are written
** before the objects that point at them, and a reference (gpx_fb_ref) is the
** object's distance from the END of the buffer, which stays valid while the
** buffer grows at the front.
**
** What it is not: no vtable de-duplication, no nested-table checks beyond
** "one table at a time", no big-endian hosts (FlatBuffers is little-endian
** and so is every host we ship for; a compile-time check enforces it).
**
** Errors are sticky: after the first failure (ENOMEM, EOVERFLOW, EINVAL for
** misuse) every call is a no-op and gpx_fb_finish reports it. This keeps the
** schema-building code free of per-call error plumbing.
*/
#ifndef GPX_FLATBUF_H
#define GPX_FLATBUF_H

#include <stddef.h>
#include <stdint.h>

#include "gpx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most fields any table we build has (Field has 7). */
#define GPX_FB_MAX_SLOTS 16

/** Offset of an object from the end of the buffer; 0 = "no object". */
typedef uint32_t gpx_fb_ref;

/** Builder state. Zeroed struct == fresh builder; not thread-safe. */
typedef struct gpx_fb_builder {
  uint8_t *buf;     /* bytes in use are buf[cap - size, cap) */
  size_t cap;
  size_t size;
  size_t minalign;  /* largest alignment requested so far */
  uint32_t vt[GPX_FB_MAX_SLOTS]; /* per-slot field position (as a ref), 0 = absent */
  int nslots;
  size_t obj_start; /* size when the open table started */
  int in_table;
  int status;       /* sticky first error code, 0 = ok */
  const char *what; /* static text for the sticky error */
} gpx_fb_builder;

void gpx_fb_init(gpx_fb_builder *b);
/** Free memory and re-zero; safe on a zeroed builder. */
void gpx_fb_reset(gpx_fb_builder *b);
/** Forget the contents but keep the allocation for the next message. */
void gpx_fb_clear(gpx_fb_builder *b);

/** A string object (length-prefixed, NUL-terminated). n bytes from s. */
gpx_fb_ref gpx_fb_string(gpx_fb_builder *b, const char *s, size_t n);

/** Open a table with nslots vtable slots (≤ GPX_FB_MAX_SLOTS). Only one at a time. */
void gpx_fb_table_start(gpx_fb_builder *b, int nslots);
void gpx_fb_add_u8(gpx_fb_builder *b, int slot, uint8_t v);
void gpx_fb_add_i16(gpx_fb_builder *b, int slot, int16_t v);
void gpx_fb_add_i32(gpx_fb_builder *b, int slot, int32_t v);
void gpx_fb_add_i64(gpx_fb_builder *b, int slot, int64_t v);
/** A reference field (string, table or vector built before table_start). */
void gpx_fb_add_ref(gpx_fb_builder *b, int slot, gpx_fb_ref r);
gpx_fb_ref gpx_fb_table_end(gpx_fb_builder *b);

/**
 * Vectors: start with the element size/count/alignment, push elements LAST
 * FIRST (back-to-front), then end with the count. Struct elements are pushed
 * field by field, last field first, with gpx_fb_push_* and gpx_fb_pad.
 */
void gpx_fb_vector_start(gpx_fb_builder *b, size_t elem_size, size_t n, size_t align);
void gpx_fb_push_ref(gpx_fb_builder *b, gpx_fb_ref r);
void gpx_fb_push_i32(gpx_fb_builder *b, int32_t v);
void gpx_fb_push_i64(gpx_fb_builder *b, int64_t v);
void gpx_fb_pad(gpx_fb_builder *b, size_t n);
gpx_fb_ref gpx_fb_vector_end(gpx_fb_builder *b, size_t n);

/**
 * Write the root offset and expose the finished buffer. *data points into
 * the builder (valid until the next call on it); *len is a multiple of the
 * largest alignment used, and *data is aligned to it (8 once any 64-bit
 * scalar or 8-aligned vector was written, as in every Arrow message). Returns the sticky
 * status (0 = ok) and fills err on failure.
 */
int gpx_fb_finish(gpx_fb_builder *b, gpx_fb_ref root, const uint8_t **data, size_t *len,
                  gpx_error *err);

#ifdef __cplusplus
}
#endif
#endif /* GPX_FLATBUF_H */
