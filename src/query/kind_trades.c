/*
** kind_trades.c — trades: the trades themselves, newest first, as a table
** frame; at most `limit` rows (a warning notice says when rows were cut).
** The frame's columns are the statement's column table (sql.c) read in
** order, plus each trade's slippage.
*/
#include <stdio.h>

#include "query_int.h"

/* Frame columns: the statement's first GPX_TR_EXP_ENTRY columns, then slippage. */
#define GPX__SHOWN GPX_TR_EXP_ENTRY

static gpx_field_type gpx__type(gpx_dec d) {
  return d == GPX_DEC_TIME ? GPX_FIELD_TIME : d == GPX_DEC_TEXT ? GPX_FIELD_STRING : GPX_FIELD_FLOAT64;
}

static int gpx__row(const gpx_stmt *st, const PGresult *res, int i, gpx_field **fl, int64_t *out_of_range,
                    gpx_error *err) {
  int rc = GPX_OK;
  for (int c = 0; c < GPX__SHOWN && rc == GPX_OK; c++) {
    if (gpx_stmt_isnull(st, res, i, c)) {
      rc = gpx_field_append_null(fl[c], err);
      continue;
    }
    int64_t ns;
    switch (st->def->cols[c].dec) {
      case GPX_DEC_TIME:
        if (gpx_stmt_time(st, res, i, c, &ns)) {
          rc = gpx_field_append_time(fl[c], ns, err);
        } else {
          (*out_of_range)++; /* e.g. opened_at 'infinity': shown empty, with a notice */
          rc = gpx_field_append_null(fl[c], err);
        }
        break;
      case GPX_DEC_TEXT: {
        size_t len;
        const char *v = gpx_stmt_text(st, res, i, c, &len);
        rc = gpx_field_append_str(fl[c], v, len, err);
        break;
      }
      default: rc = gpx_field_append_f64(fl[c], gpx_stmt_num(st, res, i, c), err); break;
    }
  }
  if (rc != GPX_OK) return rc;
  gpx_side side = gpx_side_parse(gpx_stmt_text(st, res, i, GPX_TR_SIDE, NULL));
#define NUM(c) gpx_stmt_num(st, res, i, c)
  double bps = gpx_trade_slippage_bps(side, NUM(GPX_TR_QTY), NUM(GPX_TR_ENTRY), NUM(GPX_TR_EXIT), NUM(GPX_TR_EXP_ENTRY),
                                      NUM(GPX_TR_EXP_EXIT));
#undef NUM
  return gpx_field_append_f64(fl[GPX__SHOWN], bps, err);
}

int gpx_kind_trades_run(gpx_qrun *r) {
  /* every shown column but closed_at and realized_pnl may be mapped to null */
  for (int c = 0; c < GPX_TR_NCOLS; c++) r->null_cols |= UINT32_C(1) << gpx_stmt_trades.cols[c].col;
  r->null_what = "In the trades table, these are";
  gpx_stmt st = {0};
  PGresult *res = NULL;
  int rc = gpx_stmt_build(&st, &gpx_stmt_trades, r->s, r->q, 0, r->q->limit);
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "trades", "building the statement failed");
  else rc = gpx_qrun_exec(r, &st, &res);
  if (rc != GPX_OK) {
    gpx_stmt_reset(&st);
    return rc;
  }
  char cur[32];
  gpx_qrun_currency_unit(r, cur, sizeof cur);
  int n = PQntuples(res);
  int cut = n > r->q->limit;
  if (cut) n = (int)r->q->limit;
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  rc = gpx_frame_set_name(&f, "trades", &err);
  if (rc == GPX_OK) rc = gpx_frame_set_type(&f, GPX_FRAME_TYPE_TABLE, 0, 0, &err);
  gpx_field *fl[GPX__SHOWN + 1] = {0};
  for (int c = 0; c <= GPX__SHOWN && rc == GPX_OK; c++) {
    /* field names are the logical column names, whatever the mapping */
    const char *name = c < GPX__SHOWN ? gpx_col_names[st.def->cols[c].col] : "slippage_bps";
    gpx_field_type t = c < GPX__SHOWN ? gpx__type(st.def->cols[c].dec) : GPX_FIELD_FLOAT64;
    fl[c] = gpx_frame_add_field(&f, name, t, c != GPX_TR_CLOSED_AT, &err);
    if (fl[c] == NULL) rc = EINVAL;
    else if (c == GPX_TR_FEES || c == GPX_TR_PNL) rc = gpx_field_set_unit(fl[c], cur, &err);
    else if (c == GPX__SHOWN) rc = gpx_field_set_unit(fl[c], "suffix: bps", &err);
  }
  int64_t out_of_range = 0;
  for (int i = 0; i < n && rc == GPX_OK; i++) rc = gpx__row(&st, res, i, fl, &out_of_range, &err);
  PQclear(res);
  gpx_stmt_reset(&st);
  if (rc == GPX_OK && cut) {
    char msg[160];
    snprintf(msg, sizeof msg, "Showing the newest %lld trades; more match the range and filters (row limit).",
             (long long)r->q->limit);
    rc = gpx_frame_add_notice(&f, GPX_NOTICE_WARNING, msg, &err);
  }
  if (rc == GPX_OK && out_of_range) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "%lld timestamps lie outside what a frame can carry (1677-09-22 to 2262-04-11, e.g. 'infinity') "
             "and are shown empty.", (long long)out_of_range);
    rc = gpx_frame_add_notice(&f, GPX_NOTICE_WARNING, msg, &err);
  }
  return gpx_qrun_finish_frame(r, &f, rc, &err);
}
