/*
** kind_annotations.c — annotations: events to mark on a dashboard's time
** axis, one frame shaped as Grafana's annotation support reads it
** (meta.dataTopic "annotations", type table; fields time, timeEnd, title, text, tags —
** ../shared/docs/grafana-live-annotations.md §2.3). `events` says which:
**
**   trades             every trade at closed_at, a region from opened_at
**   large_losses       the trades whose P&L <= -threshold
**   drawdown_episodes  the drawdown episodes deeper than threshold (a
**                      fraction), from their start to their recovery or the
**                      range end
**   daily_loss         the local days whose P&L < -threshold, as regions
**
** Nothing is computed here: trades are the trades table's statement
** (gpx_stmt_trades, newest first, with a P&L bound for large losses),
** episodes the one ordered read folded by trading/episodes.c, days the
** daily sums on Postgres' local midnights. At most the row limit of
** events (a warning notice says when more matched): the newest trades,
** the deepest episodes, the worst days. Definitions: docs/analytics.md
** "Annotations". What this is not: a table — the trades kind is that.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "query_int.h"

const char *const gpx_anno_event_names[GPX_ANNO_COUNT] = {"trades", "large_losses", "drawdown_episodes",
                                                          "daily_loss"};

/* The frame being built: the five fields and the text scratch buffers. */
typedef struct gpx__anno {
  gpx_frame f;
  gpx_field *time, *time_end, *title, *text, *tags;
  gpx_buf tx, tg;
  gpx_error err;
  size_t n;
} gpx__anno;

static int gpx__anno_init(gpx__anno *a) {
  memset(a, 0, sizeof *a);
  gpx_frame_init(&a->f);
  int rc = gpx_frame_set_name(&a->f, "annotations", &a->err);
  if (rc == GPX_OK) rc = gpx_frame_set_data_topic(&a->f, "annotations", &a->err);
  /* a table to anything but the annotation support (which reads the topic and the field names) */
  if (rc == GPX_OK) rc = gpx_frame_set_type(&a->f, GPX_FRAME_TYPE_TABLE, 0, 0, &a->err);
  static const struct {
    const char *name;
    gpx_field_type type;
    int nullable;
  } cols[] = {{"time", GPX_FIELD_TIME, 0},
              {"timeEnd", GPX_FIELD_TIME, 1},
              {"title", GPX_FIELD_STRING, 0},
              {"text", GPX_FIELD_STRING, 0},
              {"tags", GPX_FIELD_STRING, 1}};
  gpx_field **out[] = {&a->time, &a->time_end, &a->title, &a->text, &a->tags};
  for (size_t i = 0; i < sizeof cols / sizeof cols[0] && rc == GPX_OK; i++)
    if ((*out[i] = gpx_frame_add_field(&a->f, cols[i].name, cols[i].type, cols[i].nullable, &a->err)) == NULL)
      rc = EINVAL;
  return rc;
}

static void gpx__anno_reset(gpx__anno *a) {
  gpx_buf_reset(&a->tx);
  gpx_buf_reset(&a->tg);
}

/* A tag: Grafana splits the tags on ',' without trimming, so a value's own
   commas become ';' (and its bytes valid UTF-8 when the field takes it). */
static int gpx__tag(gpx_buf *tg, const char *v, size_t len) {
  if (tg->len) GPX_RETURN_NOT_OK(gpx_buf_append(tg, ",", 1));
  for (size_t i = 0; i < len; i++) GPX_RETURN_NOT_OK(gpx_buf_append(tg, v[i] == ',' ? ";" : &v[i], 1));
  return GPX_OK;
}

/* A word of the text and its tag: the value, "(none)" for NULL. */
static int gpx__word(gpx__anno *a, const char *v, size_t len) {
  if (v == NULL) {
    v = "(none)";
    len = 6;
  }
  if (a->tx.len) GPX_RETURN_NOT_OK(gpx_buf_append(&a->tx, " ", 1));
  GPX_RETURN_NOT_OK(gpx_buf_append(&a->tx, v, len));
  return gpx__tag(&a->tg, v, len);
}

/* One event from the text and tags gathered in a->tx and a->tg (then cleared). */
static int gpx__emit(gpx__anno *a, int64_t t_ns, int has_end, int64_t end_ns, const char *title) {
  int rc = gpx_field_append_time(a->time, t_ns, &a->err);
  if (rc == GPX_OK)
    rc = has_end && end_ns != t_ns ? gpx_field_append_time(a->time_end, end_ns, &a->err)
                                   : gpx_field_append_null(a->time_end, &a->err);
  if (rc == GPX_OK) rc = gpx_field_append_str(a->title, title, strlen(title), &a->err);
  if (rc == GPX_OK) rc = gpx_field_append_str(a->text, (const char *)a->tx.data, a->tx.len, &a->err);
  if (rc == GPX_OK)
    rc = a->tg.len ? gpx_field_append_str(a->tags, (const char *)a->tg.data, a->tg.len, &a->err)
                   : gpx_field_append_null(a->tags, &a->err);
  a->tx.len = a->tg.len = 0;
  a->n++;
  return rc;
}

static int gpx__cut_notice(gpx__anno *a, int cut, int64_t limit, const char *which) {
  if (!cut) return GPX_OK;
  char msg[200];
  snprintf(msg, sizeof msg, "Showing %lld annotations (%s); more match the range and filters (row limit).",
           (long long)limit, which);
  return gpx_frame_add_notice(&a->f, GPX_NOTICE_WARNING, msg, &a->err);
}

/* An amount as "+123.45 USD" / "-0.50 USD". */
static int gpx__money(gpx_buf *b, const gpx_qrun *r, double v) {
  if (!isfinite(v)) return gpx_buf_append_str(b, "P&L not a number");
  return gpx_buf_printf(b, "%+.2f %s", v, r->s->currency);
}

/* ---- trades and large losses: the trades statement, newest first ---- */

static int gpx__trades(gpx_qrun *r, gpx__anno *a) {
  const int large = r->q->events == GPX_ANNO_LARGE_LOSSES;
  const int64_t limit = r->s->row_limit;
  if (large) {
    r->q->pnl_cap = 1;
    r->q->pnl_max = -r->q->threshold;
  }
  gpx_stmt st = {0};
  PGresult *res = NULL;
  int rc = gpx_stmt_build(&st, &gpx_stmt_trades, r->s, r->q, 0, limit);
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "annotations", "building the statement failed");
  else rc = gpx_qrun_exec(r, &st, &res);
  if (rc != GPX_OK) {
    gpx_stmt_reset(&st);
    return rc;
  }
  int n = PQntuples(res), cut = n > limit;
  if (cut) n = (int)limit;
  /* a dimension mapped to null is left out; a NULL value reads "(none)" */
  static const int words[] = {GPX_TR_STRATEGY, GPX_TR_SYMBOL, GPX_TR_SIDE};
  const char *title = large ? "Large loss" : "Trade";
  rc = GPX_OK;
  for (int i = 0; i < n && rc == GPX_OK; i++) {
    int64_t closed, opened;
    if (!gpx_stmt_time(&st, res, i, GPX_TR_CLOSED_AT, &closed)) continue; /* inside the range: cannot happen */
    int region = gpx_stmt_time(&st, res, i, GPX_TR_OPENED_AT, &opened) && opened < closed;
    for (size_t w = 0; w < sizeof words / sizeof words[0] && rc == GPX_OK; w++) {
      if (!gpx_col_present(r->s, st.def->cols[words[w]].col)) continue;
      size_t len = 0;
      const char *v = gpx_stmt_text(&st, res, i, words[w], &len);
      rc = gpx__word(a, v, len);
    }
    double p = gpx_stmt_num(&st, res, i, GPX_TR_PNL);
    if (rc == GPX_OK && a->tx.len) rc = gpx_buf_append(&a->tx, " ", 1);
    if (rc == GPX_OK) rc = gpx__money(&a->tx, r, p);
    if (rc == GPX_OK && (p > 0 || p < 0)) rc = gpx__tag(&a->tg, p > 0 ? "win" : "loss", p > 0 ? 3 : 4);
    if (rc != GPX_OK) {
      rc = gpx_qrun_fail(r, rc, "annotations", NULL);
      break;
    }
    rc = gpx__emit(a, region ? opened : closed, region, closed, title);
  }
  PQclear(res);
  gpx_stmt_reset(&st);
  if (rc == GPX_OK) rc = gpx__cut_notice(a, cut, limit, large ? "the newest large losses" : "the newest trades");
  return rc;
}

/* ---- drawdown episodes: the one ordered read, trading/episodes.c ---- */

typedef struct gpx__ep_ref {
  const gpx_qgroup *g;
  const gpx_episode *e;
} gpx__ep_ref;

static int gpx__ep_cmp(const void *x, const void *y) {
  const gpx__ep_ref *a = x, *b = y;
  int c = gpx_episode_cmp(a->e, b->e);
  if (c) return c;
  const char *ga = a->g->name ? a->g->name : "", *gb = b->g->name ? b->g->name : "";
  return strcmp(ga, gb);
}

/* " (strategy=momentum)" after a title, and the group's value as a tag. */
static int gpx__group_title(const gpx_qrun *r, const gpx_qgroup *g, const char *base, gpx_buf *title) {
  title->len = 0;
  GPX_RETURN_NOT_OK(gpx_buf_append_str(title, base));
  if (g->name) GPX_RETURN_NOT_OK(gpx_buf_printf(title, " (%s=%s)", gpx_group_label(r->q->group_by), g->name));
  return gpx_buf_terminate(title);
}

static int gpx__episodes(gpx_qrun *r, gpx__anno *a) {
  const int64_t limit = r->s->row_limit;
  gpx_stream_need need = {0};
  /* each group's deepest limit + 1: enough to pick the deepest limit of all and to know more matched */
  need.episodes = (size_t)limit + 1;
  int rc = gpx_qrun_load_stream(r, &need);
  if (rc != GPX_OK) return rc;
  size_t n = 0;
  for (size_t i = 0; i < r->groups.n; i++) n += r->groups.g[i].episodes.ntop;
  gpx__ep_ref *refs = malloc((n ? n : 1) * sizeof *refs);
  if (refs == NULL) return gpx_qrun_fail(r, ENOMEM, "annotations", NULL);
  n = 0;
  for (size_t i = 0; i < r->groups.n; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    for (size_t k = 0; k < g->episodes.ntop; k++)
      if (-g->episodes.top[k].depth > r->q->threshold) refs[n++] = (gpx__ep_ref){g, &g->episodes.top[k]};
  }
  if (n > 1) qsort(refs, n, sizeof *refs, gpx__ep_cmp);
  int cut = n > (size_t)limit;
  if (cut) n = (size_t)limit;
  gpx_buf title = {0};
  const int64_t to_ns = r->q->to_ms * 1000000;
  for (size_t i = 0; i < n && rc == GPX_OK; i++) {
    const gpx_episode *e = refs[i].e;
    const gpx_qgroup *g = refs[i].g;
    char when[40];
    time_t sec = (time_t)(e->valley_ns / 1000000000 - (e->valley_ns % 1000000000 < 0));
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    rc = gpx_buf_printf(&a->tx, "Drawdown %.2f%% (", e->depth * 100);
    if (rc == GPX_OK) rc = gpx__money(&a->tx, r, e->depth_amount);
    if (rc == GPX_OK)
      rc = gpx_buf_printf(&a->tx, "), deepest at %s; %s", when, e->recovered ? "recovered" : "not recovered by the range end");
    if (rc == GPX_OK) rc = gpx__tag(&a->tg, "drawdown", 8);
    if (rc == GPX_OK && g->name) rc = gpx__tag(&a->tg, g->name, strlen(g->name));
    if (rc == GPX_OK) rc = gpx__tag(&a->tg, e->recovered ? "recovered" : "open", e->recovered ? 9 : 4);
    if (rc == GPX_OK) rc = gpx__group_title(r, g, "Drawdown", &title);
    if (rc != GPX_OK) {
      rc = gpx_qrun_fail(r, rc, "annotations", NULL);
      break;
    }
    rc = gpx__emit(a, e->start_ns, 1, e->recovered ? e->end_ns : to_ns, (const char *)title.data);
  }
  gpx_buf_reset(&title);
  free(refs);
  if (rc == GPX_OK) rc = gpx__cut_notice(a, cut, limit, "the deepest drawdowns");
  return rc;
}

/* ---- daily loss: the daily sums per local day ---- */

typedef struct gpx__day_ref {
  const gpx_qgroup *g;
  size_t k;
} gpx__day_ref;

static int gpx__day_cmp(const void *x, const void *y) {
  const gpx__day_ref *a = x, *b = y;
  double pa = a->g->dpnl[a->k], pb = b->g->dpnl[b->k];
  if (pa != pb) return pa < pb ? -1 : 1;
  if (a->g->day[a->k] != b->g->day[b->k]) return a->g->day[a->k] < b->g->day[b->k] ? -1 : 1;
  return strcmp(a->g->name ? a->g->name : "", b->g->name ? b->g->name : "");
}

static int gpx__daily(gpx_qrun *r, gpx__anno *a) {
  const int64_t limit = r->s->row_limit;
  gpx_stream_need need = {0};
  need.days = 1;
  int rc = gpx_qrun_load_day_sums(r, &need, 0, 0); /* the GROUP BY is faster (load.c) */
  if (rc != GPX_OK) return rc;
  size_t n = 0;
  for (size_t i = 0; i < r->groups.n; i++) n += r->groups.g[i].nd;
  gpx__day_ref *refs = malloc((n ? n : 1) * sizeof *refs);
  if (refs == NULL) return gpx_qrun_fail(r, ENOMEM, "annotations", NULL);
  n = 0;
  for (size_t i = 0; i < r->groups.n; i++) {
    const gpx_qgroup *g = &r->groups.g[i];
    for (size_t k = 0; k < g->nd; k++)
      if (g->dpnl[k] < -r->q->threshold) refs[n++] = (gpx__day_ref){g, k};
  }
  int cut = n > (size_t)limit;
  if (cut) { /* the worst days */
    qsort(refs, n, sizeof *refs, gpx__day_cmp);
    n = (size_t)limit;
  }
  gpx_buf title = {0};
  const int64_t to_ns = r->q->to_ms * 1000000;
  for (size_t i = 0; i < n && rc == GPX_OK; i++) {
    const gpx_qgroup *g = refs[i].g;
    size_t k = refs[i].k;
    int32_t d = g->day[k];
    /* the local day, up to the next local midnight; the range's last day up to the range end */
    int64_t start = gpx_qrun_day_start_ns(r, d), end = d < r->last_day ? gpx_qrun_day_start_ns(r, d + 1) : to_ns;
    rc = gpx_buf_append_str(&a->tx, "Daily P&L ");
    if (rc == GPX_OK) rc = gpx__money(&a->tx, r, g->dpnl[k]);
    if (rc == GPX_OK)
      rc = gpx_buf_printf(&a->tx, " (%lld trade%s)", (long long)g->dcount[k], g->dcount[k] == 1 ? "" : "s");
    if (rc == GPX_OK) rc = gpx__tag(&a->tg, "daily_loss", 10);
    if (rc == GPX_OK && g->name) rc = gpx__tag(&a->tg, g->name, strlen(g->name));
    if (rc == GPX_OK) rc = gpx__group_title(r, g, "Daily loss", &title);
    if (rc != GPX_OK) {
      rc = gpx_qrun_fail(r, rc, "annotations", NULL);
      break;
    }
    rc = gpx__emit(a, start, end > start, end, (const char *)title.data);
  }
  gpx_buf_reset(&title);
  free(refs);
  if (rc == GPX_OK) rc = gpx__cut_notice(a, cut, limit, "the worst days");
  return rc;
}

int gpx_kind_annotations_run(gpx_qrun *r) {
  gpx__anno a;
  int rc = gpx__anno_init(&a);
  if (rc != GPX_OK) {
    gpx__anno_reset(&a);
    return gpx_qrun_finish_frame(r, &a.f, rc, &a.err);
  }
  switch (r->q->events) {
    case GPX_ANNO_LARGE_LOSSES:
    case GPX_ANNO_TRADES: rc = gpx__trades(r, &a); break;
    case GPX_ANNO_DRAWDOWN_EPISODES: rc = gpx__episodes(r, &a); break;
    case GPX_ANNO_DAILY_LOSS: rc = gpx__daily(r, &a); break;
    default: rc = gpx_qrun_fail(r, EINVAL, "annotations", "unknown events");
  }
  gpx__anno_reset(&a);
  /* a failure the runners decided was recorded first: the first one is the one reported */
  return gpx_qrun_finish_frame(r, &a.f, rc, &a.err);
}
