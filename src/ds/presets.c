/*
** presets.c — the mappings of bots we know (jsonData.preset).
**
** A preset is a table name and the mapping a user would otherwise type,
** written as the JSON of jsonData.columns and read by the same parser
** (gpx_ds_columns_parse): one description, one set of rules. Explicit
** `table` and `columns` entries in jsonData override a preset's.
*/
#include <jansson.h>
#include <stdio.h>

#include "gpx/ds.h"

const char *const gpx_preset_names[GPX_PRESET_COUNT] = {"default", "freqtrade"};

typedef struct gpx__preset_def {
  const char *table;
  const char *columns; /* jsonData.columns; NULL: every logical name as itself */
} gpx__preset_def;

static const gpx__preset_def gpx__presets[GPX_PRESET_COUNT] = {
    [GPX_PRESET_DEFAULT] = {"trades", NULL},
    /* freqtrade's `trades` table (SQLAlchemy model Trade): close_date is NULL
       while a trade is open, close_profit_abs is net of fees, every number
       is double precision, timestamps are without time zone (UTC). */
    [GPX_PRESET_FREQTRADE] = {"trades",
                              "{\"trade_id\": \"id\", \"exchange\": \"exchange\", \"symbol\": \"pair\","
                              " \"strategy\": \"strategy\", \"entry_tag\": \"enter_tag\","
                              " \"exit_reason\": \"exit_reason\", \"account\": null,"
                              " \"side\": {\"column\": \"is_short\", \"as\": \"is_short\"},"
                              " \"qty\": \"amount\", \"entry_price\": \"open_rate\", \"exit_price\": \"close_rate\","
                              " \"expected_entry_price\": \"open_rate_requested\","
                              " \"expected_exit_price\": \"close_rate_requested\","
                              " \"opened_at\": \"open_date\", \"closed_at\": \"close_date\","
                              " \"fees\": [\"fee_open_cost\", \"fee_close_cost\"],"
                              " \"realized_pnl\": \"close_profit_abs\"}"},
};

int gpx_ds_preset_apply(gpx_preset p, gpx_ds_settings *s, gpx_error *err) {
  if ((int)p < 0 || p >= GPX_PRESET_COUNT) return gpx_error_set(err, EINVAL, "jsonData.preset: must be default or freqtrade");
  const gpx__preset_def *d = &gpx__presets[p];
  snprintf(s->table, sizeof s->table, "%s", d->table);
  memset(s->columns, 0, sizeof s->columns);
  for (int i = 0; i < GPX_COL_COUNT; i++) {
    snprintf(s->columns[i].name[0], sizeof s->columns[i].name[0], "%s", gpx_col_names[i]);
    s->columns[i].n = 1;
  }
  if (d->columns == NULL) return GPX_OK;
  json_t *o = json_loads(d->columns, 0, NULL);
  if (o == NULL) return gpx_error_set(err, EINVAL, "jsonData.preset: the %s preset is broken", gpx_preset_names[p]);
  int rc = gpx_ds_columns_parse(o, "preset.columns.", s, err);
  json_decref(o);
  return rc;
}
