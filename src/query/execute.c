/*
** execute.c — where a query enters the query layer: the result record,
** the one mapping from a failure to a status, and gpx_query_execute, which
** parses the query, checks out a connection and hands the run to its
** kind's runner through the registry (kinds.c).
**
** Errors: a runner fails the run once, where the failure is decided
** (gpx_query_fail keeps the first error); nothing writes an error and later
** takes it back. The status table is in the README ("Errors").
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpx/log.h"
#include "query_int.h"

/* ------------------------------------------------------------ the result */

void gpx_query_result_init(gpx_query_result *r) {
  memset(r, 0, sizeof *r);
  r->error.status = 200;
  r->kind = -1;
}

void gpx_query_result_reset(gpx_query_result *r) {
  for (size_t i = 0; i < r->n_frames; i++) gpx_buf_reset(&r->frames[i]);
  free(r->frames);
  free(r->frame_ids);
  memset(r, 0, sizeof *r);
}

int gpx_query_result_add_frame(gpx_query_result *r, gpx_buf *frame) {
  if (r->n_frames == r->cap_frames) {
    size_t cap = r->cap_frames ? r->cap_frames * 2 : 4;
    gpx_buf *p = realloc(r->frames, cap * sizeof *p);
    if (p == NULL) return ENOMEM;
    r->frames = p;
    r->cap_frames = cap;
  }
  r->frames[r->n_frames++] = *frame;
  memset(frame, 0, sizeof *frame);
  return GPX_OK;
}

int gpx_query_fail(gpx_query_result *r, int code, int status, const char *source, const char *fmt, ...) {
  if (r->error.status != 200) return code; /* the first failure is the one reported */
  r->error.what = NULL;
  for (size_t i = 0; i < r->n_frames; i++) gpx_buf_reset(&r->frames[i]);
  r->n_frames = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error.message, sizeof r->error.message, fmt, ap);
  va_end(ap);
  gpx_utf8_scrub(r->error.message); /* a protobuf string: Grafana refuses one that is not UTF-8 */
  r->error.status = status;
  r->error.source = source;
  return code;
}

/* ------------------------------------------------------------ errors */

void gpx_query_error_from_pg(const gpx_pg_error *pe, int timeout_s, gpx_query_error *e) {
  static const char *const what[] = {
      [GPX_PG_OK] = "Query failed",           [GPX_PG_UNAVAILABLE] = "Cannot reach Postgres",
      [GPX_PG_AUTH] = "Authentication failed", [GPX_PG_NO_DATABASE] = "Database not found",
      [GPX_PG_TIMEOUT] = "Timed out",          [GPX_PG_CANCELLED] = "Request cancelled",
      [GPX_PG_QUERY_ERROR] = "Query failed"};
  e->source = "downstream";
  e->what = (unsigned)pe->status < sizeof what / sizeof what[0] ? what[pe->status] : "Query failed";
  /* A hot standby cancels a query (ERROR) or ends an idle-in-transaction
     session between two FETCHes (FATAL: then UNAVAILABLE) when replaying
     the primary's changes (VACUUM removing rows the query may still need,
     an exclusive lock) waited max_standby_streaming_delay for it: 40001,
     or 40P01 for a buffer-pin deadlock. Not the query's fault and not an
     outage: worth a retry, and fixed on the standby. The message text is
     matched too for servers before 14 (no in_hot_standby); it is English
     unless lc_messages says otherwise. */
  if ((!strcmp(pe->sqlstate, "40001") || !strcmp(pe->sqlstate, "40P01")) &&
      (pe->standby || strstr(pe->msg, "conflict with recovery"))) {
    e->status = 503;
    e->what = "Cancelled by the standby";
    snprintf(e->message, sizeof e->message,
             "the standby cancelled the query: replaying the primary's changes conflicted with it (%s); retry, or "
             "raise max_standby_streaming_delay or enable hot_standby_feedback on the standby",
             pe->msg);
    return;
  }
  switch (pe->status) {
    case GPX_PG_UNAVAILABLE:
      e->status = 502;
      snprintf(e->message, sizeof e->message, "Postgres unavailable: %s", pe->msg);
      return;
    case GPX_PG_AUTH:
      e->status = 502;
      snprintf(e->message, sizeof e->message, "Postgres unavailable (authentication failed): %s", pe->msg);
      return;
    case GPX_PG_NO_DATABASE:
      e->status = 502;
      snprintf(e->message, sizeof e->message, "Postgres unavailable (database not found): %s", pe->msg);
      return;
    case GPX_PG_TIMEOUT:
      e->status = 504;
      snprintf(e->message, sizeof e->message, "query timed out after %d s", timeout_s);
      return;
    case GPX_PG_CANCELLED:
      e->status = 499;
      e->source = "plugin";
      snprintf(e->message, sizeof e->message, "request cancelled");
      return;
    case GPX_PG_OK:
    case GPX_PG_QUERY_ERROR: break;
  }
  const char *st = pe->sqlstate;
  /* Undefined table/column/function, wrong type: the settings' mapping is
     wrong, not Postgres. A bad value (class 22, e.g. an unknown time zone)
     is the query's. */
  int config = !strcmp(st, "42P01") || !strcmp(st, "42703") || !strcmp(st, "3F000") || !strcmp(st, "42883") ||
               !strcmp(st, "42804");
  if (config) {
    e->status = 400;
    snprintf(e->message, sizeof e->message, "%s (check the data source's table and column mapping)", pe->msg);
  } else if (!strcmp(st, "42501")) {
    e->status = 400;
    snprintf(e->message, sizeof e->message, "%s (grant the data source's user SELECT on the table)", pe->msg);
  } else if (strncmp(st, "22", 2) == 0) {
    e->status = 400;
    snprintf(e->message, sizeof e->message, "%s", pe->msg);
  } else {
    e->status = 500;
    snprintf(e->message, sizeof e->message, "query failed: %s", pe->msg);
  }
}

/* ------------------------------------------------------------ running SQL */

static double gpx__now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int gpx_qrun_fail_pg(gpx_qrun *r, const gpx_pg_error *pe) {
  gpx_query_error e;
  gpx_query_error_from_pg(pe, r->s->query_timeout_s, &e);
  return gpx_query_fail(r->out, EIO, e.status, e.source, "%s", e.message);
}

int gpx_qrun_group(gpx_qrun *r, const char *name, gpx_qgroup **out) {
  *out = gpx_groups_get(&r->groups, name);
  if (*out) return GPX_OK;
  if (!r->groups.full) return gpx_qrun_fail(r, ENOMEM, "groups", NULL);
  return gpx_query_fail(r->out, E2BIG, 400, "plugin",
                        "groupBy %s: more than %zu groups (at most %d points per query: groups × maxDataPoints %lld); "
                        "narrow the filters or lower maxDataPoints",
                        gpx_group_label(r->q->group_by), r->groups.max, GPX_QUERY_MAX_POINTS,
                        (long long)r->q->max_points);
}

int gpx_qrun_ensure_ungrouped(gpx_qrun *r) {
  gpx_qgroup *g;
  return r->q->group_by == GPX_GROUP_NONE ? gpx_qrun_group(r, NULL, &g) : GPX_OK;
}

int gpx_qrun_note_bad_pnl(gpx_qrun *r) {
  if (r->q->finite_only) return GPX_OK;
  r->q->finite_only = 1;
  gpx_stmt st = {0};
  PGresult *res = NULL;
  int rc = gpx_stmt_build(&st, &gpx_stmt_bad_pnl, r->s, r->q, 0, 0);
  if (rc != GPX_OK) rc = gpx_qrun_fail(r, rc, "non-finite P&L", "building the statement failed");
  else rc = gpx_qrun_exec(r, &st, &res);
  if (rc == GPX_OK && PQntuples(res) == 1) {
    r->bad_rows = gpx_stmt_i64(&st, res, 0, GPX_BAD_N);
    size_t len = 0;
    const char *id = gpx_stmt_text(&st, res, 0, GPX_BAD_FIRST_ID, &len);
    if (id) snprintf(r->bad_first_id, sizeof r->bad_first_id, "%.*s", (int)gpx_utf8_clip(id, 60), id);
  }
  PQclear(res);
  gpx_stmt_reset(&st);
  return rc;
}

int gpx_qrun_cancelled(gpx_qrun *r) {
  if (r->sess.cancelled == NULL || !r->sess.cancelled(r->sess.cancel_arg)) return 0;
  gpx_query_fail(r->out, ECANCELED, 499, "plugin", "request cancelled");
  return 1;
}

int gpx_qrun_fail(gpx_qrun *r, int code, const char *what, const char *detail) {
  if (code == ENOMEM) detail = "out of memory";
  return gpx_query_fail(r->out, code ? code : EINVAL, 500, "plugin", "%s: %s", what, detail && *detail ? detail : strerror(code));
}

/* Append a statement and its parameter values to meta.executedQueryString. */
void gpx_qrun_record(gpx_qrun *r, const char *prefix, gpx_sql *sql) {
  if (r->executed.len) gpx_buf_append_str(&r->executed, ";\n");
  gpx_buf_printf(&r->executed, "%s%s", prefix, sql ? gpx_sql_cstr(sql) : "");
  if (sql && sql->n) {
    gpx_buf_append_str(&r->executed, "\n-- parameters:");
    for (int i = 0; i < sql->n; i++) gpx_buf_printf(&r->executed, " $%d=%.*s", i + 1, (int)gpx_utf8_clip(sql->params[i], 200), sql->params[i]);
  }
}

int gpx_qrun_exec_raw(gpx_qrun *r, gpx_stmt *st, PGresult **res, gpx_pg_error *pe) {
  gpx_qrun_record(r, "", &st->sql);
  double t0 = gpx__now();
  int rc = gpx_pg_exec(&r->sess, gpx_sql_cstr(&st->sql), st->sql.n, (const char *const *)st->sql.params, 1, res, pe);
  r->out->sql_seconds += gpx__now() - t0;
  return rc;
}

int gpx_qrun_exec(gpx_qrun *r, gpx_stmt *st, PGresult **res) {
  gpx_pg_error pe;
  int rc = gpx_qrun_exec_raw(r, st, res, &pe);
  return rc == GPX_OK ? GPX_OK : gpx_qrun_fail_pg(r, &pe);
}

/* ------------------------------------------------------------ the entry */

void gpx_qrun_pooled(gpx_qrun *r, gpx_ds_instance *inst, gpx_pg_cancel_fn cancelled, void *cancel_arg) {
  gpx_pg_error pe;
  r->inst = inst;
  if (gpx_pg_acquire(inst->pool, &r->sess, cancelled, cancel_arg, r->in->deadline_ms, &pe) != GPX_OK) {
    gpx_qrun_fail_pg(r, &pe);
    return;
  }
  int rc = gpx_qrun_learn_types(r, inst);
  if (rc == GPX_OK) rc = r->kind->run(r);
  /* a runner that fails fills the error where it decides; this only
     guards against one that forgot (nanoarrow's rule, checked) */
  if (rc != GPX_OK && r->out->error.status == 200) gpx_qrun_fail(r, rc, r->kind->name, NULL);
  gpx_pg_release(&r->sess);
}

void gpx_query_execute(gpx_ds_instance *inst, const gpx_query_input *in, gpx_pg_cancel_fn cancelled,
                       void *cancel_arg, gpx_query_result *out) {
  gpx_error err;
  gpx_ds_settings defaults;
  gpx_ds_settings_default(&defaults);
  /* Without a data source the query is still validated, so its own
     mistakes are named first. */
  const gpx_ds_settings *s = inst ? &inst->settings : &defaults;
  gpx_query q;
  if (gpx_query_parse(in, s, &q, &err) != GPX_OK) {
    gpx_query_fail(out, EINVAL, 400, "plugin", "%s", err.msg);
    return;
  }
  out->kind = q.kind;
  gpx_qrun r;
  memset(&r, 0, sizeof r);
  r.kind = &gpx_query_kinds[q.kind];
  r.in = in;
  r.s = s;
  r.q = &q;
  r.out = out;
  /* bounded work: groups × points held at once */
  r.groups.max = (size_t)(GPX_QUERY_MAX_POINTS / (q.max_points > 0 ? q.max_points : 1));
  if (r.groups.max < 1) r.groups.max = 1;
  int live_rc = q.live && in->live && inst && !in->json_frames
                    ? gpx__live_issue(in->live, inst->uid, in, r.live_channel, sizeof r.live_channel)
                    : GPX_OK;
  if (live_rc != GPX_OK) {
    if (live_rc == ENOMEM) gpx_query_fail(out, ENOMEM, 500, "plugin", "live: out of memory issuing a channel");
    else gpx_query_fail(out, live_rc, 400, "plugin", "live: the data source uid is too long for a Grafana Live channel (160 characters)");
  } else if (r.kind->flags & GPX_QKIND_NO_DATASOURCE) {
    r.kind->run(&r);
  } else if (inst == NULL) {
    gpx_query_fail(out, EINVAL, 400, "plugin", "request has no data-source instance settings");
  } else {
    gpx_qrun_flight(&r, inst, cancelled, cancel_arg);
  }
  if (gpx_log_get_level() <= GPX_LOG_DEBUG) {
    json_t *f = json_pack("{s:s, s:s, s:i, s:f, s:i}", "refId", q.ref_id, "queryType", r.kind->name, "status",
                          out->error.status, "sqlSeconds", out->sql_seconds, "frames", (int)out->n_frames);
    gpx_log(GPX_LOG_DEBUG, "query answered", f);
  }
  gpx_groups_reset(&r.groups);
  free(r.day_start_ms);
  gpx_buf_reset(&r.executed);
  gpx_query_reset(&q);
}
