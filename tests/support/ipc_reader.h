/*
** ipc_reader.h — a small reader of Arrow IPC files and flatbuffers, for
** tests only (tests/check_arrow.c and the fuzz target tests/fuzz/fuzz_frame.c).
**
** It is written from the format documents (FlatBuffers internals; Arrow's
** Schema.fbs, Message.fbs, File.fbs and the IPC file layout), not from our
** writer, so the writer never checks itself. Every read is bounds-checked:
** an offset outside the buffer returns 0 and marks the region bad, so a
** broken file is a failed check, never an out-of-bounds read. It reads what
** the plugin writes (no dictionaries, compression or nested types) and is
** not a general Arrow library. Not thread-safe per object; no globals.
*/
#ifndef GPX_TEST_IPC_READER_H
#define GPX_TEST_IPC_READER_H

#include <stddef.h>
#include <stdint.h>

/* ---- a flatbuffer (any byte region) read with bounds checks ---------------- */

typedef struct gpx_fbr {
  const uint8_t *b;
  size_t n;
  int bad; /* sticky: set by any read outside [0, n) */
} gpx_fbr;

gpx_fbr gpx_fbr_of(const uint8_t *b, size_t n);
uint8_t gpx_fbr_u8(gpx_fbr *r, size_t p);
uint16_t gpx_fbr_u16(gpx_fbr *r, size_t p);
uint32_t gpx_fbr_u32(gpx_fbr *r, size_t p);
int64_t gpx_fbr_i64(gpx_fbr *r, size_t p);
/** Position of field `slot` of the table at tbl; 0 when the field is absent. */
size_t gpx_fbr_field(gpx_fbr *r, size_t tbl, int slot);
/** Target of the uoffset stored at p. */
size_t gpx_fbr_deref(gpx_fbr *r, size_t p);
/** Target of the uoffset field `slot` of table tbl; 0 when absent. */
size_t gpx_fbr_ref(gpx_fbr *r, size_t tbl, int slot);
/** String at position s (u32 length + bytes + NUL): its bytes and length; NULL when bad. */
const char *gpx_fbr_str(gpx_fbr *r, size_t s, size_t *len);

/* ---- an Arrow IPC file ------------------------------------------------------ */

typedef struct gpx_ipc_file {
  gpx_fbr file;       /* the whole file */
  gpx_fbr footer;     /* the footer flatbuffer */
  size_t footer_at;   /* file offset of the footer */
  size_t froot;       /* footer root table (footer-relative) */
  size_t nblocks;     /* record batches */
  size_t blocks;      /* footer-relative start of the Block structs (24 bytes each) */
  char err[256];      /* why gpx_ipc_open or a reader failed */
} gpx_ipc_file;

/**
 * Check the file's layout and find its footer: magic at both ends, footer
 * length, end-of-stream marker before the footer, footer version V5 with a
 * schema, the Schema message at offset 8, and every Block: 8-byte aligned
 * offset/metadata/body, contiguous after the schema, an encapsulated
 * RecordBatch message of version V5 whose bodyLength equals the block's,
 * the last one ending at the end-of-stream marker. 0, or -1 with f->err.
 */
int gpx_ipc_open(gpx_ipc_file *f, const uint8_t *d, size_t n);

/** RecordBatch.length of batch i (-1 with f->err when unreadable). */
int64_t gpx_ipc_batch_rows(gpx_ipc_file *f, size_t i);
/** Number of FieldNodes / Buffers of batch i (0 with f->err when unreadable). */
size_t gpx_ipc_batch_nnodes(gpx_ipc_file *f, size_t i);
size_t gpx_ipc_batch_nbuffers(gpx_ipc_file *f, size_t i);
/** Body length of batch i (from its Block). */
int64_t gpx_ipc_batch_body_len(gpx_ipc_file *f, size_t i);
/** FieldNode j of batch i: length, null_count. -1 with f->err when out of range. */
int gpx_ipc_batch_node(gpx_ipc_file *f, size_t i, size_t j, int64_t *len, int64_t *nulls);
/**
 * Buffer k of batch i: body-relative offset and length, and *body the file
 * offset of the body. -1 with f->err when out of range or when the buffer
 * does not lie inside the body.
 */
int gpx_ipc_batch_buffer(gpx_ipc_file *f, size_t i, size_t k, int64_t *off, int64_t *len, size_t *body);

/* ---- the schema --------------------------------------------------------------- */

/** A key/value pair pointing into the file (NUL-terminated there). */
typedef struct gpx_ipc_kv {
  const char *key, *value;
  size_t key_len, value_len;
} gpx_ipc_kv;

/* Type union tags of Schema.fbs. */
enum { GPX_IPC_INT = 2, GPX_IPC_FLOAT = 3, GPX_IPC_BINARY = 4, GPX_IPC_UTF8 = 5, GPX_IPC_BOOL = 6,
       GPX_IPC_TIMESTAMP = 10 };

typedef struct gpx_ipc_field {
  const char *name;
  size_t name_len;
  int nullable;
  int type;            /* GPX_IPC_* tag */
  int bit_width;       /* Int */
  int is_signed;       /* Int */
  int precision;       /* FloatingPoint: 2 = DOUBLE */
  int unit;            /* Timestamp: 3 = NANOSECOND */
  int has_timezone;    /* Timestamp */
  size_t n_children;
  int has_dictionary;
  gpx_ipc_kv *md;
  size_t n_md;
} gpx_ipc_field;

typedef struct gpx_ipc_schema {
  int endianness;      /* 0 = Little */
  gpx_ipc_field *fields;
  size_t n_fields;
  gpx_ipc_kv *md;
  size_t n_md;
} gpx_ipc_schema;

/**
 * Decode the schema of the footer (from_footer = 1) or of the Schema
 * message at offset 8 (0; its Message must be V5 with header type Schema).
 * *out is allocated (free with gpx_ipc_schema_reset); 0, or -1 with f->err.
 */
int gpx_ipc_read_schema(gpx_ipc_file *f, int from_footer, gpx_ipc_schema *out);
/** Free and zero; safe on a zeroed struct. */
void gpx_ipc_schema_reset(gpx_ipc_schema *s);
/** Value of key in md (NULL when absent); *len its length. */
const char *gpx_ipc_md_get(const gpx_ipc_kv *md, size_t n, const char *key, size_t *len);

#endif /* GPX_TEST_IPC_READER_H */
