/*
** arrow.h — Arrow IPC *file* writer for the handful of column types Grafana's
** SDK decoder accepts and this plugin needs.
**
** Input is a description of borrowed, already-columnar buffers (the frame
** model's own buffers); output is one complete IPC file appended to a
** gpx_buf: `ARROW1\0\0`, Schema message, RecordBatch message(s), end-of-
** stream marker, Footer (schema again + blocks), int32 footer length,
** `ARROW1`. Metadata version V5, little-endian, no compression, no
** dictionaries, 8-byte alignment everywhere (Arrow columnar format spec,
** "IPC File Format"; Grafana facts in docs/grafana-plugin-protocol.md §5.2).
**
** Encoding is sized first and copied second: the output is reserved once
** and the column buffers are memcpy'd into place, so the cost is close to a
** memcpy of the data.
**
** What it is not: a reader, or a general Arrow library (no nested types,
** no dictionaries, no streaming format).
*/
#ifndef GPX_ARROW_H
#define GPX_ARROW_H

#include <stddef.h>
#include <stdint.h>

#include "gpx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default record-batch body budget: bodies above it are split (§5.2). */
#define GPX_ARROW_DEFAULT_BATCH_BYTES ((size_t)64 << 20)

typedef enum gpx_arrow_type {
  GPX_ARROW_TIMESTAMP_NS = 1, /* int64 values, Timestamp(NANOSECOND, no zone) */
  GPX_ARROW_FLOAT64,          /* double values */
  GPX_ARROW_INT64,            /* int64 values */
  GPX_ARROW_UTF8,             /* int32 offsets (n+1) + bytes */
  GPX_ARROW_BOOL,             /* bit-packed values, LSB first */
  GPX_ARROW_BINARY            /* int32 offsets (n+1) + bytes */
} gpx_arrow_type;

/** A borrowed key/value pair; strings are NUL-terminated. */
typedef struct gpx_arrow_kv {
  const char *key;
  const char *value;
} gpx_arrow_kv;

/**
 * One column, borrowed. Every column of a table has the table's n_rows.
 * validity: bit i set = row i valid (LSB-first bytes); NULL = no nulls. It is
 *   only written when `nullable` is set — a non-nullable field's validity is
 *   never consulted by Grafana's reader, so it is not written at all.
 * values: fixed width → n_rows*8 bytes; BOOL → ceil(n_rows/8) bytes;
 *   UTF8/BINARY → the data bytes (offsets[n_rows] of them).
 * offsets: UTF8/BINARY only, n_rows+1 non-decreasing int32, offsets[0] ≥ 0.
 */
typedef struct gpx_arrow_column {
  const char *name;
  gpx_arrow_type type;
  int nullable;
  const gpx_arrow_kv *metadata;
  size_t n_metadata;
  const uint8_t *validity;
  const void *values;
  const int32_t *offsets;
} gpx_arrow_column;

typedef struct gpx_arrow_table {
  const gpx_arrow_kv *metadata; /* schema-level custom metadata */
  size_t n_metadata;
  const gpx_arrow_column *columns;
  size_t n_columns;
  int64_t n_rows;
  /** Max record-batch body bytes; 0 = GPX_ARROW_DEFAULT_BATCH_BYTES. Batches
   *  hold a multiple of 8 rows (so bitmaps split on byte boundaries); a batch
   *  of 8 rows that alone exceeds the budget is written anyway. */
  size_t max_batch_bytes;
} gpx_arrow_table;

/**
 * Append one complete Arrow IPC file for `t` to `out` (the file starts at
 * out->len on entry). Zero columns → a file with no record batches (Grafana
 * reads it as an empty frame); columns with zero rows → one empty batch.
 * EINVAL for malformed input (bad type, offsets out of order, NULL buffers,
 * metadata over 64 MiB), ENOMEM; err is filled and out->len is restored.
 * If `n_batches` is non-NULL it receives the number of record batches.
 */
int gpx_arrow_write_file(const gpx_arrow_table *t, gpx_buf *out, size_t *n_batches,
                         gpx_error *err);

#ifdef __cplusplus
}
#endif
#endif /* GPX_ARROW_H */
