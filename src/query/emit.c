/*
** emit.c — frames from a run: the value field with its group's label,
** unit and display name, the one-series frame every time series uses, and
** encoding into the result (refId and executedQueryString set here, once).
** The Arrow bytes themselves are written by arrow/ through frame/.
*/
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "query_int.h"

void gpx_qrun_currency_unit(const gpx_qrun *r, char *buf, size_t cap) {
  static const char *const known[] = {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "CNY", "INR",
                                      "BRL", "RUB", "SEK", "NOK", "DKK", "PLN", "CZK", "ZAR", "KRW",
                                      "BTC", "UAH", "ISK", "HKD", NULL};
  const char *code = r->s->currency;
  for (int i = 0; known[i]; i++) {
    if (strcasecmp(code, known[i]) == 0) {
      snprintf(buf, cap, "currency%s", known[i]);
      return;
    }
  }
  snprintf(buf, cap, "suffix: %s", code);
}

int gpx_qrun_emit(gpx_qrun *r, gpx_frame *f) {
  gpx_error err;
  int rc = gpx_frame_set_ref_id(f, r->q->ref_id, &err);
  if (rc == GPX_OK && r->bad_rows > 0) {
    char msg[400];
    const char *col = r->s->columns[GPX_COL_REALIZED_PNL].name[0];
    snprintf(msg, sizeof msg,
             "%lld trade%s up to the range end ha%s a %.*s that is not a number (NULL, NaN or ±Infinity; the first: "
             "trade_id %s) and %s left out of these numbers. Fix or delete %s.",
             (long long)r->bad_rows, r->bad_rows == 1 ? "" : "s", r->bad_rows == 1 ? "s" : "ve",
             (int)gpx_utf8_clip(col, 64), col, r->bad_first_id[0] ? r->bad_first_id : "?",
             r->bad_rows == 1 ? "is" : "are", r->bad_rows == 1 ? "it" : "them");
    rc = gpx_frame_add_notice(f, GPX_NOTICE_WARNING, msg, &err);
  }
  if (rc == GPX_OK && !r->null_noticed && (r->null_cols & r->q->missing)) {
    r->null_noticed = 1;
    rc = gpx_columns_missing_notice(r, r->null_cols, r->null_what, f, &err);
  }
  if (rc == GPX_OK && gpx_buf_terminate(&r->executed) != GPX_OK) rc = gpx_error_set(&err, ENOMEM, "out of memory");
  if (rc == GPX_OK)
    rc = gpx_frame_set_executed_query(f, r->executed.data ? (const char *)r->executed.data : "", &err);
  uint32_t id = gpx_live_frame_id(f->name ? f->name : "");
  if (rc == GPX_OK && r->live_channel[0]) {
    char ch[sizeof r->live_channel + 16];
    snprintf(ch, sizeof ch, "%s/%08x", r->live_channel, id);
    rc = gpx_frame_set_channel(f, ch, &err);
  }
  gpx_buf out = {0};
  if (rc == GPX_OK) rc = r->in->json_frames ? gpx_frame_to_json(f, 1, &out, &err) : gpx_frame_encode(f, &out, &err);
  if (rc == GPX_OK && (rc = gpx_query_result_add_frame(r->out, &out)) != GPX_OK)
    gpx_error_set(&err, rc, "out of memory");
  if (rc == GPX_OK && r->in->json_frames) { /* which channel each frame feeds */
    uint32_t *ids = realloc(r->out->frame_ids, r->out->cap_frames * sizeof *ids);
    if (ids == NULL) rc = gpx_error_set(&err, ENOMEM, "out of memory");
    else (r->out->frame_ids = ids)[r->out->n_frames - 1] = id;
  }
  gpx_buf_reset(&out);
  return rc == GPX_OK ? GPX_OK : gpx_qrun_fail(r, rc, "encoding frame", err.msg);
}

int gpx_qrun_finish_frame(gpx_qrun *r, gpx_frame *f, int rc, const gpx_error *err) {
  if (rc == GPX_OK) rc = gpx_qrun_emit(r, f);
  else rc = gpx_qrun_fail(r, rc, "building frame", err->msg);
  gpx_frame_reset(f);
  return rc;
}

gpx_field *gpx_qrun_value_field(gpx_qrun *r, gpx_frame *f, const gpx_qgroup *g, const char *name,
                                const char *unit, const char *display, gpx_error *err) {
  gpx_field *fl = gpx_frame_add_field(f, name, GPX_FIELD_FLOAT64, 1, err);
  if (fl == NULL) return NULL;
  if (g->name && gpx_field_set_label(fl, gpx_group_label(r->q->group_by), g->name, err) != GPX_OK) return NULL;
  if (unit && gpx_field_set_unit(fl, unit, err) != GPX_OK) return NULL;
  if (display) {
    char dn[300];
    if (g->name) snprintf(dn, sizeof dn, "%s %s", display, g->name);
    else snprintf(dn, sizeof dn, "%s", display);
    if (gpx_field_set_display_name_from_ds(fl, dn, err) != GPX_OK) return NULL;
  }
  return fl;
}

int gpx_qrun_series_frame(gpx_qrun *r, const gpx_qgroup *g, const char *field, const char *unit,
                          const char *display, const int64_t *ts, const double *v, size_t n) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  int rc = gpx_frame_set_name(&f, g->name ? g->name : field, &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_TIMESERIES_MULTI, 0, 1, &err);
  gpx_field *tf = rc == GPX_OK ? gpx_frame_add_field(&f, "time", GPX_FIELD_TIME, 0, &err) : NULL;
  gpx_field *vf = tf ? gpx_qrun_value_field(r, &f, g, field, unit, display, &err) : NULL;
  if (rc == GPX_OK && vf == NULL) rc = EINVAL;
  if (rc == GPX_OK) rc = gpx_field_append_i64s(tf, ts, n, &err);
  if (rc == GPX_OK) rc = gpx_field_append_f64s(vf, v, n, &err);
  return gpx_qrun_finish_frame(r, &f, rc, &err);
}
