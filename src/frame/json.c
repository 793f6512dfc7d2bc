/*
** json.c — a frame as Grafana's JSON frame (protocol spec §5.9), the only
** form a Live StreamPacket may carry (Grafana checks json.Valid and the
** browser's StreamingDataFrame merges it; Arrow is not accepted there).
**
** What it is: schema (name, refId, meta, fields with type, typeInfo,
** labels, config) and data.values, one array per field. What it is not: a
** reader, nor complete — sub-millisecond remainders of times (`nanos`) and
** `entities` are not written: NaN/±Inf are already nulls in a gpx_frame.
*/
#include <stdio.h>
#include <string.h>

#include "gpx/frame.h"

static const char *gpx__json_frame_type(gpx_field_type t) {
  switch (t) {
    case GPX_FIELD_TIME: return "time.Time";
    case GPX_FIELD_FLOAT64: return "float64";
    case GPX_FIELD_INT64: return "int64";
    case GPX_FIELD_STRING: return "string";
    case GPX_FIELD_BOOL: return "bool";
    case GPX_FIELD_JSON: return "json.RawMessage";
  }
  return "json.RawMessage";
}

static int gpx__bit(const gpx_buf *b, size_t i) { return (b->data[i / 8] >> (i % 8)) & 1; }

/* One field's values as a JSON array (new reference), NULL on ENOMEM or bad JSON. */
static json_t *gpx__values(const gpx_field *fl) {
  json_t *a = json_array();
  if (a == NULL) return NULL;
  const int32_t *off = (const int32_t *)fl->offsets.data;
  for (size_t i = 0; i < fl->len; i++) {
    json_t *v = NULL;
    if (gpx_field_is_null(fl, i)) {
      v = json_null();
    } else {
      switch (fl->type) {
        case GPX_FIELD_TIME: {
          int64_t ns;
          memcpy(&ns, fl->values.data + i * 8, 8);
          int64_t ms = ns / 1000000;
          if (ns % 1000000 < 0) ms--; /* floor for times before 1970 */
          v = json_integer(ms);
          break;
        }
        case GPX_FIELD_INT64: {
          int64_t x;
          memcpy(&x, fl->values.data + i * 8, 8);
          v = json_integer(x);
          break;
        }
        case GPX_FIELD_FLOAT64: {
          double d;
          memcpy(&d, fl->values.data + i * 8, 8);
          v = json_real(d); /* NULL for NaN/Inf, which the frame stores as null anyway */
          if (v == NULL) v = json_null();
          break;
        }
        case GPX_FIELD_BOOL: v = json_boolean(gpx__bit(&fl->values, i)); break;
        case GPX_FIELD_STRING: {
          const char *p = (const char *)fl->values.data + off[i];
          size_t n = (size_t)(off[i + 1] - off[i]);
          if (gpx_utf8_valid(p, n)) {
            v = json_stringn_nocheck(p, n);
          } else { /* never invalid UTF-8 on the wire: repaired as the Arrow path does */
            gpx_buf fix = {0};
            if (gpx_utf8_append(&fix, p, n) == GPX_OK) v = json_stringn_nocheck((const char *)fix.data, fix.len);
            gpx_buf_reset(&fix);
          }
          break;
        }
        case GPX_FIELD_JSON:
          v = json_loadb((const char *)fl->values.data + off[i], (size_t)(off[i + 1] - off[i]), JSON_DECODE_ANY, NULL);
          break;
      }
    }
    if (v == NULL || json_array_append_new(a, v) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static json_t *gpx__schema(const gpx_frame *f) {
  json_t *fields = json_array();
  json_t *s = json_pack("{s:s, s:s}", "name", f->name ? f->name : "", "refId", f->ref_id ? f->ref_id : "");
  if (s == NULL || fields == NULL || json_object_set_new(s, "fields", fields) != 0) {
    json_decref(s);
    return NULL;
  }
  json_t *meta = gpx_frame_meta_json(f);
  if (meta && json_object_set_new(s, "meta", meta) != 0) goto fail;
  for (size_t i = 0; i < f->n_fields; i++) {
    const gpx_field *fl = f->fields[i];
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:b}}", "name", fl->name, "type", gpx_field_tstype(fl->type), "typeInfo",
                          "frame", gpx__json_frame_type(fl->type), "nullable", fl->nullable);
    if (o == NULL || json_array_append_new(fields, o) != 0) goto fail;
    if (fl->labels && json_object_size(fl->labels) && json_object_set(o, "labels", fl->labels) != 0) goto fail;
    if (fl->config && json_object_size(fl->config) && json_object_set(o, "config", fl->config) != 0) goto fail;
  }
  return s;
fail:
  json_decref(s);
  return NULL;
}

int gpx_frame_to_json(const gpx_frame *f, int with_schema, gpx_buf *out, gpx_error *err) {
  for (size_t i = 1; i < f->n_fields; i++)
    if (f->fields[i]->len != f->fields[0]->len)
      return gpx_error_set(err, EINVAL, "frame: field %s has %zu rows, %s has %zu", f->fields[i]->name,
                           f->fields[i]->len, f->fields[0]->name, f->fields[0]->len);
  json_t *root = json_object();
  json_t *values = json_array();
  int bad = root == NULL || values == NULL;
  if (!bad && with_schema) {
    json_t *s = gpx__schema(f);
    bad = s == NULL || json_object_set_new(root, "schema", s) != 0;
  }
  if (!bad) bad = json_object_set_new(root, "data", json_pack("{s:O}", "values", values)) != 0;
  for (size_t i = 0; !bad && i < f->n_fields; i++) {
    json_t *v = gpx__values(f->fields[i]);
    bad = v == NULL || json_array_append_new(values, v) != 0;
  }
  json_decref(values);
  char *text = bad ? NULL : json_dumps(root, JSON_COMPACT);
  json_decref(root);
  if (text == NULL) return gpx_error_set(err, ENOMEM, "frame: out of memory writing JSON");
  int rc = gpx_buf_append_str(out, text);
  free(text);
  return rc == GPX_OK ? GPX_OK : gpx_error_set(err, ENOMEM, "frame: out of memory writing JSON");
}
