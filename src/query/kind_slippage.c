/*
** kind_slippage.c — slippage: notional-weighted average slippage in bps
** per bucket and group, from exact per-side sums in Postgres
** (trading/slippage.c). Needs the side, qty and price columns.
*/
#include "query_int.h"

int gpx_kind_slippage_run(gpx_qrun *r) {
  gpx_pg_error pe;
  r->null_cols = UINT32_C(1) << GPX_COL_SIDE | UINT32_C(1) << GPX_COL_QTY | UINT32_C(1) << GPX_COL_ENTRY_PRICE |
                 UINT32_C(1) << GPX_COL_EXIT_PRICE | UINT32_C(1) << GPX_COL_EXPECTED_ENTRY_PRICE |
                 UINT32_C(1) << GPX_COL_EXPECTED_EXIT_PRICE;
  r->null_what = "slippage_bps is";
  int rc = gpx_qrun_load_slippage(r, gpx_query_bucket_ns(r->q), 1, &pe);
  if (rc != GPX_OK) return pe.status != GPX_PG_OK ? gpx_qrun_fail_pg(r, &pe) : rc;
  if ((rc = gpx_qrun_ensure_ungrouped(r)) != GPX_OK) return rc;
  if ((rc = gpx_groups_order(&r->groups)) != GPX_OK) return gpx_qrun_fail(r, rc, "slippage", NULL);
  for (size_t i = 0; i < r->groups.n && rc == GPX_OK; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    rc = gpx_qrun_series_frame(r, g, "slippage_bps", "suffix: bps", "Slippage", g->ts, g->v, g->nt);
  }
  return rc;
}
