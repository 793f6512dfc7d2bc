/*
** dims.c — the dimensions of a trade, described once: strategy, symbol,
** account, side, exchange, entry tag and exit reason.
**
** Each row names the groupBy value (also the label key of a grouped
** series), the filter list's key in the query JSON, the values resource
** and the logical column. The parser, the WHERE clause, the group column
** and the resources all loop over this table, so a new dimension is one
** row here (and one logical column in ds.h when it needs a new one).
*/
#include "query_int.h"

const gpx_dim_def gpx_dims[GPX_DIM_COUNT] = {
    [GPX_DIM_STRATEGY] = {"strategy", "strategies", "strategies", GPX_COL_STRATEGY},
    [GPX_DIM_SYMBOL] = {"symbol", "symbols", "symbols", GPX_COL_SYMBOL},
    [GPX_DIM_ACCOUNT] = {"account", "accounts", "accounts", GPX_COL_ACCOUNT},
    [GPX_DIM_SIDE] = {"side", "sides", "sides", GPX_COL_SIDE},
    [GPX_DIM_EXCHANGE] = {"exchange", "exchanges", "exchanges", GPX_COL_EXCHANGE},
    [GPX_DIM_ENTRY_TAG] = {"entry_tag", "entryTags", "entry_tags", GPX_COL_ENTRY_TAG},
    [GPX_DIM_EXIT_REASON] = {"exit_reason", "exitReasons", "exit_reasons", GPX_COL_EXIT_REASON},
};

gpx_col gpx_group_col(gpx_group g) {
  return g > GPX_GROUP_NONE && g < GPX_GROUP_COUNT ? gpx_dims[g - 1].col : GPX_COL_COUNT;
}

const char *gpx_group_label(gpx_group g) {
  return g > GPX_GROUP_NONE && g < GPX_GROUP_COUNT ? gpx_dims[g - 1].group : "";
}
