/*
** frame.c — Grafana data-frame model and its Arrow encoding (gpx/frame.h).
**
** Columns live in gpx_buf buffers that double on growth (amortised O(1)
** appends). Validity bitmaps are created lazily on the first null so the
** common all-valid column costs nothing extra. Encoding only builds small
** JSON strings for the metadata and hands the column buffers to the Arrow
** writer, which memcpy's them.
**
** Metadata keys and JSON shapes follow docs/grafana-plugin-protocol.md:
** §5.3 (schema: name, refId, meta), §5.4 (field: labels, config, tstype),
** §5.6 (meta keys), §5.7 (config keys). Nothing else is ever written,
** because Grafana decodes meta/config into fixed structs and a wrong type
** fails the whole response.
*/
#include <math.h>
#include <stdlib.h>

#include "gpx/arrow.h"
#include "gpx/frame.h"

/* Every string of a frame is valid UTF-8 (Grafana's decoder rejects the
   whole reply otherwise): text that is not — a SQL_ASCII database, a
   hostile query — is copied with each invalid byte replaced by U+FFFD. */
static char *dup_or_null(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s);
  if (gpx_utf8_valid(s, n)) return strdup(s);
  gpx_buf b = {0};
  if (gpx_utf8_append(&b, s, n) != GPX_OK || gpx_buf_terminate(&b) != GPX_OK) {
    gpx_buf_reset(&b);
    return NULL;
  }
  return (char *)gpx_buf_release(&b, NULL);
}

/* json_string of s, repaired as dup_or_null does; NULL on ENOMEM. */
static json_t *json_text(const char *s) {
  if (s == NULL) return NULL;
  char *d = dup_or_null(s);
  json_t *v = d ? json_string(d) : NULL;
  free(d);
  return v;
}

static int oom(gpx_error *err) { return gpx_error_set(err, ENOMEM, "frame: out of memory"); }

/* ---- lifecycle ----------------------------------------------------------- */

static void field_free(gpx_field *fl) {
  if (fl == NULL) return;
  free(fl->name);
  gpx_buf_reset(&fl->values);
  gpx_buf_reset(&fl->offsets);
  gpx_buf_reset(&fl->validity);
  json_decref(fl->labels);
  json_decref(fl->config);
  free(fl);
}

void gpx_frame_init(gpx_frame *f) { memset(f, 0, sizeof *f); }

void gpx_frame_reset(gpx_frame *f) {
  free(f->name);
  free(f->ref_id);
  for (size_t i = 0; i < f->n_fields; i++) field_free(f->fields[i]);
  free(f->fields);
  free(f->executed_query);
  json_decref(f->notices);
  json_decref(f->custom);
  free(f->channel);
  memset(f, 0, sizeof *f);
}

static int set_str(char **dst, const char *s, gpx_error *err) {
  char *d = dup_or_null(s);
  if (s && !d) return oom(err);
  free(*dst);
  *dst = d;
  return 0;
}

int gpx_frame_set_name(gpx_frame *f, const char *name, gpx_error *err) {
  return set_str(&f->name, name, err);
}

int gpx_frame_set_ref_id(gpx_frame *f, const char *ref_id, gpx_error *err) {
  return set_str(&f->ref_id, ref_id, err);
}

/* ---- meta ---------------------------------------------------------------- */

static const char *const FRAME_TYPES[] = {
    NULL,          "timeseries-wide", "timeseries-long", "timeseries-multi",
    "numeric-wide", "numeric-multi",  "numeric-long",    "table"};

int gpx_frame_set_type(gpx_frame *f, gpx_frame_type type, unsigned v0, unsigned v1,
                       gpx_error *err) {
  if ((int)type < 0 || type > GPX_FRAME_TYPE_TABLE)
    return gpx_error_set(err, EINVAL, "frame: unknown frame type %d", (int)type);
  f->type = type;
  f->type_version[0] = v0;
  f->type_version[1] = v1;
  f->has_type_version = 1;
  return 0;
}

/* The executed SQL is a debug string whose parameter values may be cut
   anywhere (mid-character too); JSON cannot carry bytes that are not
   UTF-8, and losing the whole meta (the frame's type included) over one
   would be worse: each such byte is stored as U+FFFD. */
int gpx_frame_set_executed_query(gpx_frame *f, const char *sql, gpx_error *err) {
  return set_str(&f->executed_query, sql, err); /* set_str repairs what is not UTF-8 */
}

int gpx_frame_add_notice(gpx_frame *f, gpx_notice_severity sev, const char *text,
                         gpx_error *err) {
  static const char *const SEV[] = {"info", "warning", "error"};
  if ((int)sev < 0 || sev > GPX_NOTICE_ERROR || text == NULL)
    return gpx_error_set(err, EINVAL, "frame: bad notice");
  if (f->notices == NULL && (f->notices = json_array()) == NULL) return oom(err);
  json_t *n = json_pack("{s:s, s:o}", "severity", SEV[sev], "text", json_text(text));
  if (n == NULL) return oom(err);
  if (json_array_append_new(f->notices, n)) return oom(err);
  return 0;
}

int gpx_frame_set_custom(gpx_frame *f, json_t *custom, gpx_error *err) {
  json_decref(f->custom);
  f->custom = custom;
  return 0;
}

int gpx_frame_set_channel(gpx_frame *f, const char *channel, gpx_error *err) {
  return set_str(&f->channel, channel, err);
}

int gpx_frame_set_data_topic(gpx_frame *f, const char *topic, gpx_error *err) {
  /* the SDK's DataTopic values; Grafana routes only "annotations" */
  if (topic && strcmp(topic, "annotations") != 0 && strcmp(topic, "alertStates") != 0)
    return gpx_error_set(err, EINVAL, "frame: unknown dataTopic \"%s\"", topic);
  f->data_topic = topic;
  return 0;
}

json_t *gpx_frame_meta_json(const gpx_frame *f) {
  if (!f->has_type_version && f->type == GPX_FRAME_TYPE_NONE && !f->executed_query &&
      !f->notices && !f->custom && !f->channel && !f->data_topic)
    return NULL;
  json_t *m = json_object();
  if (m == NULL) return NULL;
  int bad = 0;
  if (f->type != GPX_FRAME_TYPE_NONE)
    bad |= json_object_set_new(m, "type", json_string(FRAME_TYPES[f->type]));
  /* The Go SDK always emits typeVersion ([0,0] when unset); do the same. */
  bad |= json_object_set_new(m, "typeVersion",
                             json_pack("[I,I]", (json_int_t)f->type_version[0],
                                       (json_int_t)f->type_version[1]));
  if (f->custom) bad |= json_object_set(m, "custom", f->custom);
  if (f->data_topic) bad |= json_object_set_new(m, "dataTopic", json_string(f->data_topic));
  if (f->notices) bad |= json_object_set(m, "notices", f->notices);
  if (f->executed_query)
    bad |= json_object_set_new(m, "executedQueryString", json_string(f->executed_query));
  if (f->channel) bad |= json_object_set_new(m, "channel", json_string(f->channel));
  if (bad) {
    json_decref(m);
    return NULL;
  }
  return m;
}

/* ---- fields -------------------------------------------------------------- */

gpx_field *gpx_frame_add_field(gpx_frame *f, const char *name, gpx_field_type type,
                               int nullable, gpx_error *err) {
  if (name == NULL) {
    gpx_error_set(err, EINVAL, "frame: field name is NULL");
    return NULL;
  }
  if (type < GPX_FIELD_TIME || type > GPX_FIELD_JSON) {
    gpx_error_set(err, EINVAL, "frame: field %s: unknown type %d", name, (int)type);
    return NULL;
  }
  if (f->n_fields == f->cap_fields) {
    size_t cap = f->cap_fields ? f->cap_fields * 2 : 8;
    gpx_field **nf = realloc(f->fields, cap * sizeof *nf);
    if (nf == NULL) {
      oom(err);
      return NULL;
    }
    f->fields = nf;
    f->cap_fields = cap;
  }
  gpx_field *fl = calloc(1, sizeof *fl);
  if (fl == NULL || (fl->name = dup_or_null(name)) == NULL) {
    free(fl);
    oom(err);
    return NULL;
  }
  fl->type = type;
  fl->nullable = nullable ? 1 : 0;
  if (type == GPX_FIELD_STRING || type == GPX_FIELD_JSON) {
    int32_t zero = 0; /* offsets always hold len+1 entries */
    if (gpx_buf_append(&fl->offsets, &zero, 4)) {
      field_free(fl);
      oom(err);
      return NULL;
    }
  }
  f->fields[f->n_fields++] = fl;
  return fl;
}

int gpx_field_set_label(gpx_field *fl, const char *key, const char *value, gpx_error *err) {
  if (key == NULL || value == NULL) return gpx_error_set(err, EINVAL, "frame: NULL label");
  if (fl->labels == NULL && (fl->labels = json_object()) == NULL) return oom(err);
  json_t *v = json_text(value);
  if (v == NULL) return oom(err);
  char *k = dup_or_null(key);
  if (k == NULL) {
    json_decref(v);
    return oom(err);
  }
  int bad = json_object_set_new(fl->labels, k, v); /* takes v even on failure */
  free(k);
  if (bad) return oom(err);
  return 0;
}

static int config_set(gpx_field *fl, const char *key, json_t *v, gpx_error *err) {
  if (v == NULL) return gpx_error_set(err, EINVAL, "frame: config %s: bad value", key);
  if (fl->config == NULL && (fl->config = json_object()) == NULL) {
    json_decref(v);
    return oom(err);
  }
  if (json_object_set_new(fl->config, key, v)) return oom(err);
  return 0;
}

int gpx_field_set_unit(gpx_field *fl, const char *unit, gpx_error *err) {
  return config_set(fl, "unit", json_text(unit), err);
}

int gpx_field_set_display_name_from_ds(gpx_field *fl, const char *name, gpx_error *err) {
  return config_set(fl, "displayNameFromDS", json_text(name), err);
}

int gpx_field_set_description(gpx_field *fl, const char *text, gpx_error *err) {
  return config_set(fl, "description", json_text(text), err);
}

int gpx_field_set_decimals(gpx_field *fl, int decimals, gpx_error *err) {
  if (decimals < 0 || decimals > 65535) /* decoded as uint16 (§5.7) */
    return gpx_error_set(err, EINVAL, "frame: decimals %d out of 0..65535", decimals);
  return config_set(fl, "decimals", json_integer(decimals), err);
}

int gpx_field_set_min(gpx_field *fl, double v, gpx_error *err) {
  if (!isfinite(v)) return gpx_error_set(err, EINVAL, "frame: config min must be finite");
  return config_set(fl, "min", json_real(v), err);
}

int gpx_field_set_max(gpx_field *fl, double v, gpx_error *err) {
  if (!isfinite(v)) return gpx_error_set(err, EINVAL, "frame: config max must be finite");
  return config_set(fl, "max", json_real(v), err);
}

int gpx_field_add_threshold(gpx_field *fl, int percentage, int has_value, double value,
                            const char *color, gpx_error *err) {
  if (color == NULL || (has_value && !isfinite(value)))
    return gpx_error_set(err, EINVAL, "frame: bad threshold step");
  json_t *th = fl->config ? json_object_get(fl->config, "thresholds") : NULL;
  if (th == NULL) {
    th = json_pack("{s:s, s:[]}", "mode", percentage ? "percentage" : "absolute", "steps");
    GPX_RETURN_NOT_OK(config_set(fl, "thresholds", th, err));
  }
  /* Only "value" and "color": any other key in a step fails decoding (§5.7). */
  json_t *step = json_pack("{s:o, s:s}", "value", has_value ? json_real(value) : json_null(),
                           "color", color);
  if (step == NULL) return gpx_error_set(err, EINVAL, "frame: threshold color not UTF-8");
  if (json_array_append_new(json_object_get(th, "steps"), step)) return oom(err);
  return 0;
}

/* ---- values -------------------------------------------------------------- */

static int type_err(const gpx_field *fl, const char *what, gpx_error *err) {
  return gpx_error_set(err, EINVAL, "frame: field %s (type %d) cannot take %s", fl->name,
                       (int)fl->type, what);
}

/* Append `n` bits of value `bit` to a bitmap currently holding `len` bits. */
static int bits_append(gpx_buf *b, size_t len, size_t n, int bit) {
  size_t need = (len + n + 7) / 8;
  if (need > b->len) {
    GPX_RETURN_NOT_OK(gpx_buf_reserve(b, need - b->len));
    memset(b->data + b->len, 0, need - b->len);
    b->len = need;
  }
  if (!bit) return 0;
  size_t i = len, end = len + n;
  for (; i < end && (i & 7); i++) b->data[i >> 3] |= (uint8_t)(1u << (i & 7));
  if (end - i >= 8) {
    memset(b->data + (i >> 3), 0xFF, (end - i) >> 3);
    i += (end - i) & ~(size_t)7;
  }
  for (; i < end; i++) b->data[i >> 3] |= (uint8_t)(1u << (i & 7));
  return 0;
}

/* Record `n` valid rows in the validity bitmap (if there is one yet). */
static inline int mark_valid(gpx_field *fl, size_t n) {
  return fl->has_validity ? bits_append(&fl->validity, fl->len, n, 1) : 0;
}

/* First null: the bitmap is created with every earlier row valid. */
static int mark_null(gpx_field *fl) {
  if (!fl->has_validity) {
    GPX_RETURN_NOT_OK(bits_append(&fl->validity, 0, fl->len, 1));
    fl->has_validity = 1;
  }
  GPX_RETURN_NOT_OK(bits_append(&fl->validity, fl->len, 1, 0));
  fl->nullable = 1;
  fl->null_count++;
  return 0;
}

static int append_fixed(gpx_field *fl, const void *v, gpx_error *err) {
  if (gpx_buf_append(&fl->values, v, 8) || mark_valid(fl, 1)) return oom(err);
  fl->len++;
  return 0;
}

int gpx_field_append_time(gpx_field *fl, int64_t epoch_ns, gpx_error *err) {
  if (fl->type != GPX_FIELD_TIME) return type_err(fl, "a time", err);
  return append_fixed(fl, &epoch_ns, err);
}

int gpx_field_append_i64(gpx_field *fl, int64_t v, gpx_error *err) {
  if (fl->type != GPX_FIELD_INT64) return type_err(fl, "an int64", err);
  return append_fixed(fl, &v, err);
}

int gpx_field_append_f64(gpx_field *fl, double v, gpx_error *err) {
  if (fl->type != GPX_FIELD_FLOAT64) return type_err(fl, "a float64", err);
  if (!isfinite(v)) return gpx_field_append_null(fl, err);
  return append_fixed(fl, &v, err);
}

int gpx_field_append_bool(gpx_field *fl, int v, gpx_error *err) {
  if (fl->type != GPX_FIELD_BOOL) return type_err(fl, "a bool", err);
  if (bits_append(&fl->values, fl->len, 1, v != 0) || mark_valid(fl, 1)) return oom(err);
  fl->len++;
  return 0;
}

static int append_var(gpx_field *fl, const char *s, size_t n, gpx_error *err) {
  int32_t last;
  memcpy(&last, fl->offsets.data + fl->offsets.len - 4, 4);
  if (n > (size_t)(INT32_MAX - last))
    return gpx_error_set(err, EOVERFLOW, "frame: field %s exceeds 2 GiB of text", fl->name);
  int32_t next = last + (int32_t)n;
  if (gpx_buf_append(&fl->values, s, n) || gpx_buf_append(&fl->offsets, &next, 4) ||
      mark_valid(fl, 1))
    return oom(err);
  fl->len++;
  return 0;
}

int gpx_field_append_str(gpx_field *fl, const char *s, size_t n, gpx_error *err) {
  if (fl->type != GPX_FIELD_STRING) return type_err(fl, "a string", err);
  if (s == NULL && n) return gpx_error_set(err, EINVAL, "frame: NULL string");
  if (n == 0 || gpx_utf8_valid(s, n)) return append_var(fl, s, n, err);
  gpx_buf b = {0};
  int rc = gpx_utf8_append(&b, s, n) == GPX_OK ? append_var(fl, (const char *)b.data, b.len, err) : oom(err);
  gpx_buf_reset(&b);
  return rc;
}

int gpx_field_append_json(gpx_field *fl, const char *s, size_t n, gpx_error *err) {
  if (fl->type != GPX_FIELD_JSON) return type_err(fl, "JSON", err);
  if (s == NULL) return gpx_error_set(err, EINVAL, "frame: NULL JSON");
  /* Grafana re-marshals json.RawMessage for the browser; invalid JSON there
   * fails the whole response, so refuse it here. */
  json_error_t je;
  json_t *j = json_loadb(s, n, JSON_DECODE_ANY, &je);
  if (j == NULL)
    return gpx_error_set(err, EINVAL, "frame: field %s: invalid JSON: %s", fl->name, je.text);
  json_decref(j);
  return append_var(fl, s, n, err);
}

int gpx_field_append_null(gpx_field *fl, gpx_error *err) {
  static const uint8_t zero8[8];
  int rc = 0;
  switch (fl->type) {
    case GPX_FIELD_BOOL: rc = bits_append(&fl->values, fl->len, 1, 0); break;
    case GPX_FIELD_STRING:
    case GPX_FIELD_JSON: {
      int32_t last;
      memcpy(&last, fl->offsets.data + fl->offsets.len - 4, 4);
      rc = gpx_buf_append(&fl->offsets, &last, 4);
      break;
    }
    default: rc = gpx_buf_append(&fl->values, zero8, 8); break;
  }
  if (rc || mark_null(fl)) return oom(err);
  fl->len++;
  return 0;
}

int gpx_field_reserve(gpx_field *fl, size_t n, gpx_error *err) {
  int rc = 0;
  switch (fl->type) {
    case GPX_FIELD_BOOL: rc = gpx_buf_reserve(&fl->values, n / 8 + 1); break;
    case GPX_FIELD_STRING:
    case GPX_FIELD_JSON: rc = gpx_buf_reserve(&fl->offsets, n * 4); break;
    default:
      if (n > SIZE_MAX / 8) return oom(err);
      rc = gpx_buf_reserve(&fl->values, n * 8);
      break;
  }
  return rc ? oom(err) : 0;
}

int gpx_field_reserve_text(gpx_field *fl, size_t bytes, gpx_error *err) {
  if (fl->type != GPX_FIELD_STRING && fl->type != GPX_FIELD_JSON) return type_err(fl, "text room", err);
  return gpx_buf_reserve(&fl->values, bytes) ? oom(err) : 0;
}

int gpx_field_append_i64s(gpx_field *fl, const int64_t *v, size_t n, gpx_error *err) {
  if (fl->type != GPX_FIELD_TIME && fl->type != GPX_FIELD_INT64)
    return type_err(fl, "int64 arrays", err);
  if (n == 0) return 0;
  if (n > SIZE_MAX / 8 || gpx_buf_append(&fl->values, v, n * 8) || mark_valid(fl, n))
    return oom(err);
  fl->len += n;
  return 0;
}

int gpx_field_append_f64s(gpx_field *fl, const double *v, size_t n, gpx_error *err) {
  if (fl->type != GPX_FIELD_FLOAT64) return type_err(fl, "float64 arrays", err);
  size_t i = 0;
  while (i < n) {
    /* Copy the longest run of finite values at once; non-finite → null. */
    size_t j = i;
    while (j < n && isfinite(v[j])) j++;
    if (j > i) {
      if (gpx_buf_append(&fl->values, v + i, (j - i) * 8) || mark_valid(fl, j - i))
        return oom(err);
      fl->len += j - i;
    }
    if (j < n) GPX_RETURN_NOT_OK(gpx_field_append_null(fl, err));
    i = j + 1;
  }
  return 0;
}

int gpx_field_is_null(const gpx_field *fl, size_t row) {
  if (!fl->has_validity || row >= fl->len) return 0;
  return !(fl->validity.data[row >> 3] & (1u << (row & 7)));
}

/* ---- encoding ------------------------------------------------------------ */

const char *gpx_field_tstype(gpx_field_type t) {
  switch (t) {
    case GPX_FIELD_TIME: return "time";
    case GPX_FIELD_FLOAT64:
    case GPX_FIELD_INT64: return "number";
    case GPX_FIELD_STRING: return "string";
    case GPX_FIELD_BOOL: return "boolean";
    default: return "other";
  }
}

static gpx_arrow_type arrow_type(gpx_field_type t) {
  switch (t) {
    case GPX_FIELD_TIME: return GPX_ARROW_TIMESTAMP_NS;
    case GPX_FIELD_FLOAT64: return GPX_ARROW_FLOAT64;
    case GPX_FIELD_INT64: return GPX_ARROW_INT64;
    case GPX_FIELD_STRING: return GPX_ARROW_UTF8;
    case GPX_FIELD_BOOL: return GPX_ARROW_BOOL;
    default: return GPX_ARROW_BINARY;
  }
}

int gpx_frame_encode_ex(const gpx_frame *f, gpx_buf *out, size_t *n_batches, gpx_error *err) {
  size_t nf = f->n_fields;
  size_t rows = nf ? f->fields[0]->len : 0;
  for (size_t i = 1; i < nf; i++)
    if (f->fields[i]->len != rows)
      return gpx_error_set(err, EINVAL, "frame: field %s has %zu rows but field %s has %zu",
                           f->fields[i]->name, f->fields[i]->len, f->fields[0]->name, rows);
  /* Strings the metadata points at: 3 per field + 1 for meta. */
  char **owned = calloc(3 * nf + 2, sizeof *owned);
  gpx_arrow_kv *kvs = calloc(3 * nf + 3, sizeof *kvs);
  gpx_arrow_column *cols = calloc(nf + 1, sizeof *cols);
  size_t no = 0, nk = 0;
  int rc = 0;
  if (!owned || !kvs || !cols) {
    rc = oom(err);
    goto done;
  }
  gpx_arrow_kv *schema_md = kvs + nk;
  kvs[nk++] = (gpx_arrow_kv){"name", f->name ? f->name : ""};
  kvs[nk++] = (gpx_arrow_kv){"refId", f->ref_id ? f->ref_id : ""};
  json_t *meta = gpx_frame_meta_json(f);
  if (meta == NULL && (f->has_type_version || f->type != GPX_FRAME_TYPE_NONE || f->executed_query || f->notices ||
                       f->custom || f->channel || f->data_topic)) {
    rc = oom(err); /* never a frame silently without its meta */
    goto done;
  }
  if (meta) {
    owned[no] = json_dumps(meta, JSON_COMPACT);
    json_decref(meta);
    if (owned[no] == NULL) {
      rc = oom(err);
      goto done;
    }
    kvs[nk++] = (gpx_arrow_kv){"meta", owned[no++]};
  }
  size_t n_schema_md = nk;
  for (size_t i = 0; i < nf; i++) {
    const gpx_field *fl = f->fields[i];
    gpx_arrow_column *c = &cols[i];
    c->name = fl->name;
    c->type = arrow_type(fl->type);
    c->nullable = fl->nullable;
    c->validity = fl->has_validity ? fl->validity.data : NULL;
    c->values = fl->values.data;
    c->offsets = (fl->type == GPX_FIELD_STRING || fl->type == GPX_FIELD_JSON)
                     ? (const int32_t *)(const void *)fl->offsets.data
                     : NULL;
    c->metadata = kvs + nk;
    if (fl->labels && json_object_size(fl->labels)) {
      if ((owned[no] = json_dumps(fl->labels, JSON_COMPACT)) == NULL) {
        rc = oom(err);
        goto done;
      }
      kvs[nk++] = (gpx_arrow_kv){"labels", owned[no++]};
    }
    if (fl->config && json_object_size(fl->config)) {
      if ((owned[no] = json_dumps(fl->config, JSON_COMPACT)) == NULL) {
        rc = oom(err);
        goto done;
      }
      kvs[nk++] = (gpx_arrow_kv){"config", owned[no++]};
    }
    kvs[nk++] = (gpx_arrow_kv){"tstype", gpx_field_tstype(fl->type)};
    c->n_metadata = (size_t)(kvs + nk - c->metadata);
  }
  gpx_arrow_table t = {.metadata = schema_md,
                       .n_metadata = n_schema_md,
                       .columns = cols,
                       .n_columns = nf,
                       .n_rows = (int64_t)rows,
                       .max_batch_bytes = f->max_batch_bytes};
  rc = gpx_arrow_write_file(&t, out, n_batches, err);
  if (rc) gpx_error_prefix(err, rc, "frame %s", f->name ? f->name : "");
done:
  if (owned)
    for (size_t i = 0; i < no; i++) free(owned[i]);
  free(owned);
  free(kvs);
  free(cols);
  return rc;
}

int gpx_frame_encode(const gpx_frame *f, gpx_buf *out, gpx_error *err) {
  return gpx_frame_encode_ex(f, out, NULL, err);
}
