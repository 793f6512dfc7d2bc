/*
** kind_trades.c — trades: the trades themselves, newest first, as a table
** frame; at most `limit` rows (a warning notice says when rows were cut).
** The frame's columns are the statement's column table (sql.c) read in
** order, plus each trade's slippage.
**
** Newest first means (closed_at, trade_id) descending. The rows are read
** ordered by closed_at alone (gpx_stmt_trades_fast: a backward index scan,
** no sort in Postgres); when no two of the n+1 rows share a closed_at that
** is already the full order, and the first n are the newest n whatever the
** trade ids. Otherwise — a tie among them, which may also reach past the
** cut — the statement ordered by both (gpx_stmt_trades) runs instead, so
** the answer is the same either way and never depends on how Postgres
** breaks ties. A tie is judged on the closed_at values read (the
** timestamptz made from the stored column): values equal as stored are
** equal there too, so no tie is missed.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "query_int.h"

/* Frame columns: the statement's first GPX_TR_EXP_ENTRY columns, then slippage. */
#define GPX__SHOWN GPX_TR_EXP_ENTRY

static gpx_field_type gpx__type(gpx_dec d) {
  return d == GPX_DEC_TIME ? GPX_FIELD_TIME : d == GPX_DEC_TEXT ? GPX_FIELD_STRING : GPX_FIELD_FLOAT64;
}

/* One row into the frame. Each value is read once (numbers decoded once,
   for their column and for the slippage), by libpq's plain accessors with
   the column's type looked up once per result (types[]). */
static int gpx__row(const gpx_stmt *st, const PGresult *res, const Oid *types, int i, gpx_field **fl,
                    int64_t *out_of_range, gpx_error *err) {
  int rc = GPX_OK;
  double num[GPX_TR_NCOLS];
  const char *side = NULL;
  for (int c = 0; c < GPX_TR_NCOLS && rc == GPX_OK; c++) {
    int col = st->first + c;
    num[c] = NAN;
    if (PQgetisnull(res, i, col)) {
      if (c < GPX__SHOWN) rc = gpx_field_append_null(fl[c], err);
      continue;
    }
    const char *v = PQgetvalue(res, i, col);
    int len = PQgetlength(res, i, col);
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
      case GPX_DEC_TEXT:
        if (c == GPX_TR_SIDE) side = v;
        rc = gpx_field_append_str(fl[c], v, (size_t)len, err);
        break;
      default:
        num[c] = gpx_pg_number(types[c], v, len);
        if (c < GPX__SHOWN) rc = gpx_field_append_f64(fl[c], num[c], err);
        break;
    }
  }
  if (rc != GPX_OK) return rc;
  double bps = gpx_trade_slippage_bps(gpx_side_parse(side), num[GPX_TR_QTY], num[GPX_TR_ENTRY], num[GPX_TR_EXIT],
                                      num[GPX_TR_EXP_ENTRY], num[GPX_TR_EXP_EXIT]);
  return gpx_field_append_f64(fl[GPX__SHOWN], bps, err);
}

/* Whether two of rows 0..n-1 next to each other share their closed_at. */
static int gpx__ties(const gpx_stmt *st, const PGresult *res, int n) {
  int col = st->first + GPX_TR_CLOSED_AT;
  for (int i = 0; i + 1 < n; i++) {
    int len = PQgetlength(res, i, col);
    if (len == PQgetlength(res, i + 1, col) && memcmp(PQgetvalue(res, i, col), PQgetvalue(res, i + 1, col), len) == 0)
      return 1;
  }
  return 0;
}

int gpx_kind_trades_run(gpx_qrun *r) {
  /* every shown column but closed_at and realized_pnl may be mapped to null */
  for (int c = 0; c < GPX_TR_NCOLS; c++) r->null_cols |= UINT32_C(1) << gpx_stmt_trades.cols[c].col;
  r->null_what = "In the trades table, these are";
  gpx_stmt st = {0};
  PGresult *res = NULL;
  /* without a trade id column closed_at is the whole order anyway */
  int by_id = gpx_col_present(r->s, GPX_COL_TRADE_ID);
  int rc = gpx_stmt_build(&st, by_id ? &gpx_stmt_trades_fast : &gpx_stmt_trades, r->s, r->q, 0, r->q->limit);
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "trades", "building the statement failed");
  else rc = gpx_qrun_exec(r, &st, &res);
  if (rc == GPX_OK && by_id && gpx__ties(&st, res, PQntuples(res))) {
    PQclear(res);
    res = NULL;
    rc = gpx_stmt_build(&st, &gpx_stmt_trades, r->s, r->q, 0, r->q->limit);
    if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "trades", "building the statement failed");
    else rc = gpx_qrun_exec(r, &st, &res);
  }
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
  Oid types[GPX_TR_NCOLS];
  for (int c = 0; c < GPX_TR_NCOLS; c++) types[c] = PQftype(res, st.first + c);
  /* every row's room at once, not grown value by value */
  for (int c = 0; c <= GPX__SHOWN && rc == GPX_OK; c++) {
    rc = gpx_field_reserve(fl[c], (size_t)n, &err);
    if (rc == GPX_OK && c < GPX__SHOWN && st.def->cols[c].dec == GPX_DEC_TEXT) {
      size_t bytes = 0; /* as read: invalid UTF-8 repaired may grow, and then regrows */
      for (int i = 0; i < n; i++) bytes += (size_t)PQgetlength(res, i, st.first + c);
      rc = gpx_field_reserve_text(fl[c], bytes, &err);
    }
  }
  int64_t out_of_range = 0;
  for (int i = 0; i < n && rc == GPX_OK; i++) rc = gpx__row(&st, res, types, i, fl, &out_of_range, &err);
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
