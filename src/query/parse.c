/*
** parse.c — the query model (docs/query-model.md) from DataQuery JSON.
**
** Grafana hands us the frontend's query object verbatim, and alert rules
** store it raw, so anything may arrive: every check names the field and
** says what was expected. Filter lists become Postgres array literals that
** are bound as one text[] parameter each (never spliced into SQL).
*/
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>

#include "query_int.h"

int64_t gpx_query_bucket_ns(const gpx_query *q) {
  int64_t w = gpx_bucket_width_ns(q->from_ms * 1000000, q->to_ms * 1000000, q->interval_ms, q->max_points, -1);
  return w > 0 ? w : 1;
}

void gpx_query_reset(gpx_query *q) {
  for (int i = 0; i < GPX_DIM_COUNT; i++) free(q->filter[i]);
  gpx_adhoc_reset(q);
  memset(q, 0, sizeof *q);
}

/* A side as the statements give it: long/short (buy = long, sell = short, any case). */
const char *gpx_query_side_value(const char *s, size_t *len) {
  static const struct {
    const char *in, *out;
  } m[] = {{"long", "long"}, {"short", "short"}, {"buy", "long"}, {"sell", "short"}};
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
    if (*len == strlen(m[i].in) && strncasecmp(s, m[i].in, *len) == 0) {
      *len = strlen(m[i].out);
      return m[i].out;
    }
  return s;
}

/* Build {"a","b\"c"} from a JSON array of strings. */
static int gpx__list(json_t *root, const char *key, char **out, int *none, int side, gpx_error *err) {
  *out = NULL;
  *none = 0;
  json_t *v = json_object_get(root, key);
  if (v == NULL || json_is_null(v)) return GPX_OK;
  if (!json_is_array(v)) return gpx_error_set(err, EINVAL, "%s: must be a list of strings", key);
  size_t n = json_array_size(v);
  if (n == 0) return GPX_OK;
  if (n > GPX_QUERY_MAX_LIST)
    return gpx_error_set(err, EINVAL, "%s: %zu entries, at most %d allowed", key, n, GPX_QUERY_MAX_LIST);
  gpx_buf b = {0};
  int rc = gpx_buf_append(&b, "{", 1);
  size_t used = 0;
  for (size_t i = 0; i < n && rc == GPX_OK; i++) {
    json_t *e = json_array_get(v, i);
    if (!json_is_string(e)) {
      rc = gpx_error_set(err, EINVAL, "%s[%zu]: must be a string", key, i);
      break;
    }
    const char *s = json_string_value(e);
    size_t len = json_string_length(e);
    if (len > 512) {
      rc = gpx_error_set(err, EINVAL, "%s[%zu]: longer than 512 characters", key, i);
      break;
    }
    if (memchr(s, 0, len)) {
      rc = gpx_error_set(err, EINVAL, "%s[%zu]: contains a NUL character", key, i);
      break;
    }
    /* Grafana's "All" of a variable that was not expanded means no filter. */
    if (strcmp(s, "$__all") == 0) {
      gpx_buf_reset(&b);
      return GPX_OK;
    }
    if (strcmp(s, "(none)") == 0) *none = 1; /* the group label of NULL values selects them */
    if (side) s = gpx_query_side_value(s, &len);
    if (used++) rc = gpx_buf_append(&b, ",", 1);
    if (rc == GPX_OK) rc = gpx_buf_append(&b, "\"", 1);
    for (size_t k = 0; k < len && rc == GPX_OK; k++) {
      if (s[k] == '"' || s[k] == '\\') rc = gpx_buf_append(&b, "\\", 1);
      if (rc == GPX_OK) rc = gpx_buf_append(&b, &s[k], 1);
    }
    if (rc == GPX_OK) rc = gpx_buf_append(&b, "\"", 1);
  }
  if (rc == GPX_OK) rc = gpx_buf_append(&b, "}", 1);
  if (rc == GPX_OK) rc = gpx_buf_terminate(&b);
  if (rc != GPX_OK) {
    gpx_buf_reset(&b);
    if (rc == ENOMEM) gpx_error_set(err, ENOMEM, "out of memory");
    return rc;
  }
  *out = (char *)gpx_buf_release(&b, NULL);
  return GPX_OK;
}

static int gpx__enum(json_t *root, const char *key, const char *const *names, int n, int *out,
                     gpx_error *err) {
  json_t *v = json_object_get(root, key);
  if (v == NULL || json_is_null(v)) return GPX_OK;
  const char *s = json_is_string(v) ? json_string_value(v) : NULL;
  if (s && *s == '\0') return GPX_OK;
  for (int i = 0; s && i < n; i++) {
    if (strcmp(s, names[i]) == 0) {
      *out = i;
      return GPX_OK;
    }
  }
  char list[256];
  size_t off = 0;
  list[0] = 0;
  for (int i = 0; i < n && off < sizeof list; i++)
    off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", names[i]);
  return gpx_error_set(err, EINVAL, "%s: must be one of %s", key, list);
}

/* period, layout: read only by the kinds whose registry row names them
   (the editor may leave another kind's options in the JSON). */
static int gpx__period_options(json_t *root, gpx_query *q, gpx_error *err) {
  q->period = GPX_PERIOD_MONTH;
  q->period_grid = 0;
  if (!(gpx_query_kinds[q->kind].options & GPX_QOPT_PERIOD)) return GPX_OK;
  GPX_RETURN_NOT_OK(gpx__enum(root, "period", gpx_period_names, GPX_PERIOD_COUNT, &q->period, err));
  static const char *const layouts[] = {"series", "grid"};
  GPX_RETURN_NOT_OK(gpx__enum(root, "layout", layouts, 2, &q->period_grid, err));
  if (q->period_grid && q->period != GPX_PERIOD_MONTH)
    return gpx_error_set(err, EINVAL, "layout: \"grid\" is the monthly-returns grid and needs period \"month\" (got \"%s\")",
                         gpx_period_names[q->period]);
  return GPX_OK;
}

/* metric, window: the rolling kind's options. */
static int gpx__rolling_options(json_t *root, gpx_query *q, gpx_error *err) {
  q->rolling_metric = GPX_ROLL_SHARPE;
  q->window = 30;
  if (!(gpx_query_kinds[q->kind].options & GPX_QOPT_ROLLING)) return GPX_OK;
  GPX_RETURN_NOT_OK(gpx__enum(root, "metric", gpx_rolling_metric_names, GPX_ROLL_COUNT, &q->rolling_metric, err));
  json_t *w = json_object_get(root, "window");
  if (w == NULL || json_is_null(w)) return GPX_OK;
  double v = json_is_number(w) ? json_number_value(w) : NAN;
  if (!(v >= GPX_ROLLING_WINDOW_MIN && v <= GPX_ROLLING_WINDOW_MAX) || v != floor(v))
    return gpx_error_set(err, EINVAL, "window: must be a whole number of days from %d to %d", GPX_ROLLING_WINDOW_MIN,
                         GPX_ROLLING_WINDOW_MAX);
  q->window = (int)v;
  return GPX_OK;
}

/* events, threshold: the annotations kind's options. The threshold's
   meaning and default depend on the events (docs/query-model.md):
   large_losses money > 0 (default 1 % of the initial capital),
   drawdown_episodes a fraction in [0, 1) (default 0.05), daily_loss money
   >= 0 (default 0: every losing day); trades read none. */
static int gpx__annotation_options(json_t *root, gpx_query *q, gpx_error *err) {
  q->events = GPX_ANNO_TRADES;
  q->threshold = 0;
  if (!(gpx_query_kinds[q->kind].options & GPX_QOPT_EVENTS)) return GPX_OK;
  GPX_RETURN_NOT_OK(gpx__enum(root, "events", gpx_anno_event_names, GPX_ANNO_COUNT, &q->events, err));
  json_t *t = json_object_get(root, "threshold");
  int given = t != NULL && !json_is_null(t) && !(json_is_string(t) && json_string_length(t) == 0);
  double v = given && json_is_number(t) ? json_number_value(t) : NAN;
  if (given && !isfinite(v)) return gpx_error_set(err, EINVAL, "threshold: must be a number");
  switch (q->events) {
    case GPX_ANNO_LARGE_LOSSES:
      if (given && !(v > 0))
        return gpx_error_set(err, EINVAL, "threshold: large_losses needs a loss amount greater than 0 (got %g)", v);
      q->threshold = given ? v : q->a.initial_capital * 0.01;
      break;
    case GPX_ANNO_DRAWDOWN_EPISODES:
      if (given && !(v >= 0 && v < 1))
        return gpx_error_set(err, EINVAL, "threshold: drawdown_episodes needs a depth as a fraction from 0 to below 1 "
                                          "(0.05 = 5 %%; got %g)", v);
      q->threshold = given ? v : 0.05;
      break;
    case GPX_ANNO_DAILY_LOSS:
      if (given && !(v >= 0))
        return gpx_error_set(err, EINVAL, "threshold: daily_loss needs a loss amount of 0 or more (got %g)", v);
      q->threshold = given ? v : 0;
      break;
    default: break; /* trades: every trade, no threshold */
  }
  return GPX_OK;
}

int gpx_query_parse(const gpx_query_input *pq, const gpx_ds_settings *s, gpx_query *q, gpx_error *err) {
  memset(q, 0, sizeof *q);
  snprintf(q->ref_id, sizeof q->ref_id, "%s", pq->ref_id ? pq->ref_id : "");
  q->a = s->analytics;
  q->limit = s->row_limit;
  /* a test-only kind reads its own JSON (kind_test_frame.c) */
  int test_kind = pq->query_type ? gpx_query_kind_find(pq->query_type, pq->allow_test) : -1;
  if (test_kind >= 0 && (gpx_query_kinds[test_kind].flags & GPX_QKIND_NO_DATASOURCE)) {
    q->kind = test_kind;
    return GPX_OK;
  }
  json_t *root = NULL;
  if (pq->json_len > 0) {
    json_error_t je;
    root = json_loadb((const char *)pq->json, pq->json_len, 0, &je);
    if (root == NULL) return gpx_error_set(err, EINVAL, "query JSON: %s", je.text);
    if (!json_is_object(root)) {
      json_decref(root);
      return gpx_error_set(err, EINVAL, "query JSON: must be an object");
    }
  } else {
    root = json_object();
  }
  int rc = GPX_OK;
  const char *qt = (pq->query_type && pq->query_type[0]) ? pq->query_type : NULL;
  json_t *t = json_object_get(root, "queryType");
  if (t != NULL && !json_is_null(t) && !json_is_string(t)) rc = gpx_error_set(err, EINVAL, "queryType: must be a string");
  if (json_is_string(t) && json_string_length(t) > 0) qt = json_string_value(t);
  if (rc == GPX_OK) {
    int found = qt ? gpx_query_kind_find(qt, pq->allow_test) : -1;
    if (qt == NULL) rc = gpx_error_set(err, EINVAL, "queryType: missing (expected one of %s)", gpx_query_kind_list());
    else if (found < 0)
      rc = gpx_error_set(err, EINVAL, "queryType: unknown query type \"%.*s\" (expected one of %s)", (int)gpx_utf8_clip(qt, 64), qt,
                         gpx_query_kind_list());
    else q->kind = found;
  }
  q->missing = gpx_ds_absent(s); /* mapped to null: every number needing one is null */
  for (int i = 0; i < GPX_DIM_COUNT && rc == GPX_OK; i++) {
    int none = 0;
    rc = gpx__list(root, gpx_dims[i].filter, &q->filter[i], &none, i == GPX_DIM_SIDE, err);
    if (none) q->filter_none |= UINT32_C(1) << i;
    if (rc == GPX_OK && q->filter[i] && !gpx_col_present(s, gpx_dims[i].col))
      rc = gpx_error_set(err, EINVAL, "%s: %s is not mapped (jsonData.columns.%s is null)", gpx_dims[i].filter,
                         gpx_dims[i].group, gpx_col_names[gpx_dims[i].col]);
  }
  if (rc == GPX_OK && (gpx_query_kinds[q->kind].options & GPX_QOPT_FILTERS)) rc = gpx_adhoc_parse(root, s, q, err);
  if (rc == GPX_OK) {
    const char *groups[GPX_GROUP_COUNT] = {"none"};
    for (int i = 0; i < GPX_DIM_COUNT; i++) groups[i + 1] = gpx_dims[i].group;
    int g = 0;
    rc = gpx__enum(root, "groupBy", groups, GPX_GROUP_COUNT, &g, err);
    q->group_by = (gpx_group)g;
    if (rc == GPX_OK && g != GPX_GROUP_NONE && (gpx_query_kinds[q->kind].options & GPX_QOPT_GROUP_BY) &&
        !gpx_col_present(s, gpx_group_col(q->group_by)))
      rc = gpx_error_set(err, EINVAL, "groupBy: %s is not mapped (jsonData.columns.%s is null)",
                         gpx_group_label(q->group_by), gpx_col_names[gpx_group_col(q->group_by)]);
  }
  if (rc == GPX_OK) {
    static const char *const modes[] = {"fraction", "money"};
    int m = 0;
    rc = gpx__enum(root, "drawdownMode", modes, 2, &m, err);
    q->drawdown_money = m;
  }
  if (rc == GPX_OK) {
    json_t *m = json_object_get(root, "metrics");
    if (m != NULL && !json_is_null(m) && !json_is_array(m)) {
      rc = gpx_error_set(err, EINVAL, "metrics: must be a list of stat names");
    } else if (m != NULL && json_array_size(m) > 0) {
      q->metrics_given = 1;
      for (size_t i = 0; i < json_array_size(m) && rc == GPX_OK; i++) {
        json_t *e = json_array_get(m, i);
        int idx = json_is_string(e) ? gpx_stats_index(json_string_value(e)) : -1;
        if (idx < 0) {
          const char *name = json_is_string(e) ? json_string_value(e) : "(not a string)";
          const char *quote = json_is_string(e) ? "\"" : "";
          rc = gpx_error_set(err, EINVAL, "metrics[%zu]: unknown stat %s%.*s%s (e.g. sharpe, win_rate, max_drawdown)", i,
                             quote, (int)gpx_utf8_clip(name, 48), name, quote);
        } else if (q->n_metrics < GPX_STATS_NFIELDS) {
          int dup = 0;
          for (int k = 0; k < q->n_metrics; k++) dup |= q->metrics[k] == idx;
          if (!dup) q->metrics[q->n_metrics++] = idx;
        }
      }
    }
    if (rc == GPX_OK && q->n_metrics == 0) {
      for (int i = 0; i < GPX_STATS_NFIELDS; i++) q->metrics[i] = i;
      q->n_metrics = GPX_STATS_NFIELDS;
    }
  }
  if (rc == GPX_OK) {
    json_t *l = json_object_get(root, "limit");
    if (l != NULL && !json_is_null(l)) {
      if (!json_is_integer(l) || json_integer_value(l) < 1)
        rc = gpx_error_set(err, EINVAL, "limit: must be a positive whole number");
      else if (json_integer_value(l) < q->limit)
        q->limit = json_integer_value(l);
      q->limit_given = rc == GPX_OK;
    }
  }
  if (rc == GPX_OK) rc = gpx_analytics_parse(root, "", &q->a, err);
  if (rc == GPX_OK) rc = gpx__period_options(root, q, err);
  if (rc == GPX_OK) rc = gpx__rolling_options(root, q, err);
  if (rc == GPX_OK && (gpx_query_kinds[q->kind].options & GPX_QOPT_LIVE)) {
    json_t *lv = json_object_get(root, "live");
    if (lv != NULL && !json_is_null(lv) && !json_is_boolean(lv)) rc = gpx_error_set(err, EINVAL, "live: must be true or false");
    else q->live = json_is_true(lv);
  }
  if (rc == GPX_OK) {
    json_t *c = json_object_get(root, "cache");
    if (c != NULL && !json_is_null(c) && !json_is_boolean(c)) rc = gpx_error_set(err, EINVAL, "cache: must be true or false");
    else q->no_cache = json_is_false(c) || pq->skip_cache;
  }
  if (rc == GPX_OK) rc = gpx__annotation_options(root, q, err);
  json_decref(root);
  if (rc == GPX_OK) {
    if (!pq->has_time_range) {
      rc = gpx_error_set(err, EINVAL, "timeRange: missing");
    } else {
      q->from_ms = pq->from_ms;
      q->to_ms = pq->to_ms;
      /* Frames carry nanoseconds in an int64: 1677-09-21 to 2262-04-11, and
         bucket arithmetic needs to − from in nanoseconds too. */
      const int64_t lim = INT64_MAX / 1000000 - 1;
      if (q->to_ms < q->from_ms) rc = gpx_error_set(err, EINVAL, "timeRange: from is after to");
      else if (q->from_ms < -lim || q->to_ms > lim)
        rc = gpx_error_set(err, EINVAL,
                           "timeRange: %lld..%lld ms is outside the representable range (1677-09-22 to 2262-04-11 UTC)",
                           (long long)q->from_ms, (long long)q->to_ms);
      else if (q->to_ms - q->from_ms > lim)
        rc = gpx_error_set(err, EINVAL, "timeRange: spans more than 292 years");
    }
    q->interval_ms = pq->interval_ms > 0 ? pq->interval_ms : 1000;
    q->max_points = pq->max_points > 0 ? pq->max_points : 1000;
    if (q->max_points > 100000) q->max_points = 100000;
  }
  if (rc != GPX_OK) gpx_query_reset(q);
  return rc;
}
