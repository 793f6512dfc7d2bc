/*
** frame.h — Grafana data-frame model used by all query code, and its Arrow
** encoding (docs/grafana-plugin-protocol.md §5).
**
** A frame has a name, a refId, optional frame meta (§5.6) and owned fields.
** A field has a name, one of six value types, labels (string → string),
** an optional config (§5.7; only the keys below are ever written) and a
** column of values in gpx_buf buffers that grow by doubling, so appends are
** amortised O(1) and encoding is a memcpy of those buffers.
**
** Nulls: each field has a validity bitmap, created on the first null. A
** field is nullable if it was declared so or ever received a null. float64
** values that are NaN or ±Inf are stored as null (the analytics layer uses
** NaN for "no value" and Grafana's JSON path cannot carry NaN/Inf).
**
** Lifecycle: gpx_frame_init / gpx_frame_reset (safe on a zeroed struct).
** Fields are owned by the frame; a gpx_field pointer stays valid until the
** frame is reset. Nothing here is thread-safe; use one frame per thread.
** Every fallible function returns 0 or an errno code and fills err.
*/
#ifndef GPX_FRAME_H
#define GPX_FRAME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "gpx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gpx_field_type {
  GPX_FIELD_TIME = 1, /* int64 epoch nanoseconds → Arrow Timestamp(ns), tstype time */
  GPX_FIELD_FLOAT64,  /* double → Float64, tstype number */
  GPX_FIELD_INT64,    /* int64 → Int64, tstype number */
  GPX_FIELD_STRING,   /* UTF-8 text → Utf8, tstype string */
  GPX_FIELD_BOOL,     /* → Bool (bit-packed), tstype boolean */
  GPX_FIELD_JSON      /* JSON text → Binary, tstype other */
} gpx_field_type;

/** meta.type values (§5.6); NONE omits the key. */
typedef enum gpx_frame_type {
  GPX_FRAME_TYPE_NONE = 0,
  GPX_FRAME_TYPE_TIMESERIES_WIDE,
  GPX_FRAME_TYPE_TIMESERIES_LONG,
  GPX_FRAME_TYPE_TIMESERIES_MULTI,
  GPX_FRAME_TYPE_NUMERIC_WIDE,
  GPX_FRAME_TYPE_NUMERIC_MULTI,
  GPX_FRAME_TYPE_NUMERIC_LONG,
  GPX_FRAME_TYPE_TABLE
} gpx_frame_type;

typedef enum gpx_notice_severity {
  GPX_NOTICE_INFO = 0,
  GPX_NOTICE_WARNING,
  GPX_NOTICE_ERROR
} gpx_notice_severity;

/** A column. Read the struct freely; change it only through the functions. */
typedef struct gpx_field {
  char *name;
  gpx_field_type type;
  int nullable;      /* declared nullable or has received a null */
  size_t len;        /* rows */
  size_t null_count;
  gpx_buf values;    /* TIME/FLOAT64/INT64: len*8 bytes; BOOL: bits; STRING/JSON: bytes */
  gpx_buf offsets;   /* STRING/JSON: (len+1) int32 */
  gpx_buf validity;  /* bits (1 = valid), allocated on the first null */
  int has_validity;
  json_t *labels;    /* object of strings, NULL when none */
  json_t *config;    /* object, NULL when empty */
} gpx_field;

typedef struct gpx_frame {
  char *name;   /* NULL = "" */
  char *ref_id; /* NULL = "" */
  gpx_field **fields;
  size_t n_fields, cap_fields;
  /* meta (§5.6) */
  gpx_frame_type type;
  unsigned type_version[2];
  int has_type_version;
  char *executed_query;
  json_t *notices; /* array, NULL when none */
  json_t *custom;  /* any JSON, NULL when none */
  char *channel;   /* meta.channel: the Grafana Live channel with updates, NULL when none */
  const char *data_topic; /* meta.dataTopic (a static string, "annotations"), NULL when none */
  /** Record-batch body budget for encoding; 0 = 64 MiB. Tests force it small. */
  size_t max_batch_bytes;
} gpx_frame;

void gpx_frame_init(gpx_frame *f);
/** Free everything (fields included) and re-zero. Safe on a zeroed frame. */
void gpx_frame_reset(gpx_frame *f);

int gpx_frame_set_name(gpx_frame *f, const char *name, gpx_error *err);
int gpx_frame_set_ref_id(gpx_frame *f, const char *ref_id, gpx_error *err);

/* ---- meta (§5.6) ---- */
/** meta.type + meta.typeVersion, e.g. (TIMESERIES_MULTI, 0, 1). */
int gpx_frame_set_type(gpx_frame *f, gpx_frame_type type, unsigned v0, unsigned v1,
                       gpx_error *err);
/** meta.executedQueryString (copied); bytes that are not UTF-8 are stored as U+FFFD. */
int gpx_frame_set_executed_query(gpx_frame *f, const char *sql, gpx_error *err);
int gpx_frame_add_notice(gpx_frame *f, gpx_notice_severity sev, const char *text,
                         gpx_error *err);
/** meta.custom; steals `custom` (also on failure). NULL clears it. */
int gpx_frame_set_custom(gpx_frame *f, json_t *custom, gpx_error *err);
/** meta.channel (copied): "ds/<uid>/<path>", the Live channel that pushes updates of this frame. */
int gpx_frame_set_channel(gpx_frame *f, const char *channel, gpx_error *err);
/** meta.dataTopic: "annotations" routes the frame to a panel's annotations (not copied: a static string). */
int gpx_frame_set_data_topic(gpx_frame *f, const char *topic, gpx_error *err);
/** A field type's name in Grafana's schema ("time", "number", "string", "boolean", "other"): the
 *  Arrow field's tstype metadata and the JSON frame's field type. */
const char *gpx_field_tstype(gpx_field_type t);
/** The meta JSON object as written into the schema (new reference), or NULL
 *  when the frame has no meta. */
json_t *gpx_frame_meta_json(const gpx_frame *f);

/* ---- fields ---- */
/**
 * Add a field with zero rows. Returns the field (owned by the frame) or NULL
 * with err filled (ENOMEM, EINVAL for a bad type or NULL name).
 */
gpx_field *gpx_frame_add_field(gpx_frame *f, const char *name, gpx_field_type type,
                               int nullable, gpx_error *err);

/** labels: values must be strings (§5.4); setting a key twice replaces it. */
int gpx_field_set_label(gpx_field *fl, const char *key, const char *value, gpx_error *err);

/* config (§5.7): only these keys, with these types, are ever written. */
int gpx_field_set_unit(gpx_field *fl, const char *unit, gpx_error *err);
int gpx_field_set_display_name_from_ds(gpx_field *fl, const char *name, gpx_error *err);
int gpx_field_set_description(gpx_field *fl, const char *text, gpx_error *err);
/** decimals 0..65535 (decoded as uint16). */
int gpx_field_set_decimals(gpx_field *fl, int decimals, gpx_error *err);
/** min/max must be finite. */
int gpx_field_set_min(gpx_field *fl, double v, gpx_error *err);
int gpx_field_set_max(gpx_field *fl, double v, gpx_error *err);
/**
 * Append a threshold step {"value": v | null, "color": color}; the first call
 * creates {"mode": "absolute" | "percentage", "steps": []} (mode from the
 * first call). has_value = 0 writes null (= −∞, the usual base step).
 */
int gpx_field_add_threshold(gpx_field *fl, int percentage, int has_value, double value,
                            const char *color, gpx_error *err);

/* ---- values ---- */
/* Each append adds one row; EINVAL on a type mismatch, ENOMEM. */
int gpx_field_append_time(gpx_field *fl, int64_t epoch_ns, gpx_error *err);
/** NaN/±Inf become null. */
int gpx_field_append_f64(gpx_field *fl, double v, gpx_error *err);
int gpx_field_append_i64(gpx_field *fl, int64_t v, gpx_error *err);
int gpx_field_append_bool(gpx_field *fl, int v, gpx_error *err);
/** STRING: n bytes of UTF-8 (not validated). */
int gpx_field_append_str(gpx_field *fl, const char *s, size_t n, gpx_error *err);
/** JSON: n bytes that must parse as one JSON value (EINVAL otherwise). */
int gpx_field_append_json(gpx_field *fl, const char *s, size_t n, gpx_error *err);
/** A null row of any type; makes the field nullable. */
int gpx_field_append_null(gpx_field *fl, gpx_error *err);
/** Whole arrays: TIME or INT64 from int64_t, FLOAT64 from double (NaN/Inf → null). */
int gpx_field_append_i64s(gpx_field *fl, const int64_t *v, size_t n, gpx_error *err);
int gpx_field_append_f64s(gpx_field *fl, const double *v, size_t n, gpx_error *err);
/** Reserve room for n more rows (avoids regrowth when the count is known). */
int gpx_field_reserve(gpx_field *fl, size_t n, gpx_error *err);
/** STRING/JSON: reserve room for `bytes` more bytes of text (with gpx_field_reserve for the rows). */
int gpx_field_reserve_text(gpx_field *fl, size_t bytes, gpx_error *err);

/** Row accessors (for tests and callers that post-process). */
int gpx_field_is_null(const gpx_field *fl, size_t row);

/* ---- encoding ---- */
/**
 * Append one complete Arrow IPC file holding the frame to `out`. All fields
 * must have the same length (EINVAL otherwise). Schema metadata: name, refId,
 * meta (only when set); field metadata: labels (when non-empty), config
 * (when non-empty), tstype. out->len is unchanged on failure.
 */
int gpx_frame_encode(const gpx_frame *f, gpx_buf *out, gpx_error *err);
/** As gpx_frame_encode, also reporting the number of record batches written. */
int gpx_frame_encode_ex(const gpx_frame *f, gpx_buf *out, size_t *n_batches, gpx_error *err);

/**
 * Append the frame as Grafana's JSON frame (protocol §5.9: the format of a
 * Live StreamPacket) to `out`: {"schema":{name, refId, meta, fields:[{name,
 * type, typeInfo, labels, config}]}, "data":{"values":[[…], …]}} — the
 * schema only when with_schema. Times are epoch milliseconds (a sub-ms
 * remainder is dropped); nulls (NaN/±Inf included) are null; JSON fields
 * are embedded as their JSON value. All fields must have the same length
 * (EINVAL otherwise). out->len is unchanged on failure. src/frame/json.c.
 */
int gpx_frame_to_json(const gpx_frame *f, int with_schema, gpx_buf *out, gpx_error *err);

/* ---- deterministic test frames (src/frame/testframe.c) ---- */
/**
 * Build a named test frame into `out` (which is reset first). Case names:
 *   all_types          one non-nullable field per type, 3 rows
 *   all_types_nulls    one nullable field per type, 4 rows with nulls
 *   nullable_no_nulls  nullable fields of every type without any null
 *   empty              no fields at all (name "empty", refId "A")
 *   zero_rows          one field per type, zero rows
 *   unicode            strings: empty, ASCII, Latin, CJK, emoji (no NUL)
 *   labels_config      labels + config on one field; meta with type,
 *                      typeVersion, executedQueryString, notices, custom
 *   nan_to_null        float64 with NaN/±Inf, written as nulls
 *   split3             20,000 rows (time, float64?, string, bool) with a
 *                      batch budget that yields exactly 3 record batches
 *   big_1m             1,000,000 rows (time, float64?, int64) by formula
 *   random             seeded: random types, 0–10,000 rows, nulls, labels,
 *                      sometimes a tiny batch budget (many batches)
 * Values of split3/big_1m (row i): time = 1.7e18 + i*1e9 ns;
 *   split3: float64 = i/8.0, null when i%5==0; string "row-<i>"; bool i%3==0
 *   big_1m: float64 = (i%1000)*0.25-100, null when i%97==0; int64 = i*i-500000000000
 * `seed` only matters for "random". EINVAL for an unknown case name.
 */
int gpx_testframe_build(const char *case_name, uint64_t seed, gpx_frame *out, gpx_error *err);
/**
 * As gpx_testframe_build, and when `expected` is non-NULL and the case is
 * "random", also returns (new reference) a JSON description of the values
 * the generator put in, recorded as they were generated (not read back from
 * the frame): {"name","refId","fields":[{"name","type","nullable","labels",
 * "values":[…]}]} with time/int64 as integers, NaN/Inf/nulls as null,
 * bool as true/false, string/json as strings. Other cases set *expected NULL.
 */
int gpx_testframe_build_described(const char *case_name, uint64_t seed, gpx_frame *out,
                                  json_t **expected, gpx_error *err);

#ifdef __cplusplus
}
#endif
#endif /* GPX_FRAME_H */
