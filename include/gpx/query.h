/*
** query.h — the query layer's public face: one query from JSON to encoded
** frames, the resources the editors use, and the one mapping from a
** failure to an HTTP-like status.
**
** What it is: the registry of query kinds (src/query/kinds.c), the query
** model's parser, the SQL builders and the per-kind runners, behind
** gpx_query_execute. What it is not: a gRPC or protobuf module. The caller
** (svc/query_data.c) looks up the data-source instance, hands in plain
** values (gpx_query_input) and turns the gpx_query_result into a
** DataResponse; nothing here includes svc/, rpc/ or a protobuf header.
**
** Errors: every runner fills the result's one error record once, where the
** failure is decided; a failed query never turns into a gRPC error.
*/
#ifndef GPX_QUERY_H
#define GPX_QUERY_H

#include <jansson.h>

#include "gpx/core.h"
#include "gpx/ds.h"
#include "gpx/pg.h"

/* ------------------------------------------------------------ the registry */

/** Options a kind reads from the query JSON (docs/query-model.md). */
enum {
  GPX_QOPT_FILTERS = 1 << 0,       /* the dimension lists: strategies, symbols, accounts, sides, … (dims.c) */
  GPX_QOPT_GROUP_BY = 1 << 1,      /* groupBy */
  GPX_QOPT_METRICS = 1 << 2,       /* metrics */
  GPX_QOPT_DRAWDOWN_MODE = 1 << 3, /* drawdownMode */
  GPX_QOPT_LIMIT = 1 << 4,         /* limit */
  GPX_QOPT_ANALYTICS = 1 << 5,     /* initialCapital, timezone, tradingDays, annualization, riskFreeRate */
  GPX_QOPT_PERIOD = 1 << 6,        /* period, layout (period_returns) */
  GPX_QOPT_ROLLING = 1 << 7,       /* metric, window (rolling) */
  GPX_QOPT_EVENTS = 1 << 8,        /* events, threshold (annotations) */
};

/** Flags of a kind. */
enum {
  GPX_QKIND_TEST_ONLY = 1 << 0, /* served only with GPX_TEST_QUERIES=1, listed nowhere */
  GPX_QKIND_NO_DATASOURCE = 1 << 1, /* runs without a data-source instance or Postgres */
};

struct gpx_qrun;

/** One row of the registry: everything the rest of the plugin knows of a kind. */
typedef struct gpx_query_kind {
  const char *name;        /* queryType value */
  const char *description; /* one line, for the editor and the docs */
  unsigned options;        /* GPX_QOPT_* */
  unsigned flags;          /* GPX_QKIND_* */
  const char *frame_type;  /* Grafana frame type of the answer, e.g. "timeseries-multi" */
  int (*run)(struct gpx_qrun *r); /* fills r's result; 0 or the error's errno-style code */
} gpx_query_kind;

/** Room the metrics tables reserve per kind; kinds.c asserts the registry fits. */
#define GPX_QUERY_KINDS_MAX 48

/** The registry and its length (test-only kinds included, at the end). */
extern const gpx_query_kind gpx_query_kinds[];
size_t gpx_query_kind_count(void);
/** Index of a kind by name, -1 when unknown (test-only kinds only when allowed). */
int gpx_query_kind_find(const char *name, int allow_test);
/** Kinds a user may ask for, comma-separated, for messages ("equity, pnl, …"). */
const char *gpx_query_kind_list(void);

/* ------------------------------------------------------------ one query */

/** A query as the host hands it in (borrowed values). */
typedef struct gpx_query_input {
  const char *ref_id;
  const char *query_type;  /* DataQuery.queryType; the JSON's queryType wins */
  const uint8_t *json;     /* DataQuery.json */
  size_t json_len;
  int has_time_range;
  int64_t from_ms, to_ms;  /* epoch ms */
  int64_t interval_ms;     /* 0: default */
  int64_t max_points;      /* maxDataPoints; 0: default */
  int allow_test;          /* GPX_TEST_QUERIES=1: test-only kinds may run */
  int64_t deadline_ms;     /* the caller's deadline, ms since the epoch; 0: none (the query timeout still bounds it) */
} gpx_query_input;

/** The one error record of a query: written once, where it is decided. */
typedef struct gpx_query_error {
  int status;             /* HTTP-like; 200 = no error */
  const char *source;     /* "plugin" or "downstream" (static strings) */
  const char *what;       /* short title of a Postgres failure ("Authentication failed"), or NULL */
  char message[1024];     /* valid UTF-8, empty when status is 200 */
} gpx_query_error;

/** One query's answer. Zeroed + gpx_query_result_init; free with _reset. */
typedef struct gpx_query_result {
  gpx_buf *frames;        /* encoded Arrow IPC files, owned */
  size_t n_frames, cap_frames;
  gpx_query_error error;
  int kind;               /* registry index, or -1 when the query named no valid kind */
  double sql_seconds;     /* time spent waiting for Postgres (debug log) */
} gpx_query_result;

void gpx_query_result_init(gpx_query_result *r);
/** Free the frames and zero; safe on a zeroed struct. */
void gpx_query_result_reset(gpx_query_result *r);
/** Append an encoded frame; *frame is moved (left empty). ENOMEM. */
int gpx_query_result_add_frame(gpx_query_result *r, gpx_buf *frame);
/**
 * Record the error unless one is recorded already (the first failure is the
 * one that is reported) and drop the frames. Returns `code` so a failure
 * path reads `return gpx_query_fail(…)`.
 */
int gpx_query_fail(gpx_query_result *r, int code, int status, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/**
 * Answer one query into out (initialised by the caller). inst may be NULL
 * (no data source in the request): the query is still validated, so its
 * own mistakes are named first, then it fails with 400. Thread-safe;
 * blocks on Postgres; polls cancelled(cancel_arg) and cancels the SQL when
 * it returns 1.
 */
void gpx_query_execute(gpx_ds_instance *inst, const gpx_query_input *in, gpx_pg_cancel_fn cancelled,
                       void *cancel_arg, gpx_query_result *out);

/* ------------------------------------------------------------ errors */

/**
 * The one mapping from a Postgres failure to status, source and message
 * (README "Errors"): unavailable/auth/missing database 502 downstream,
 * timeout 504, cancelled 499, bad mapping or value 400, other SQL errors
 * 500. timeout_s only words the timeout message. Fills e (overwrites).
 */
void gpx_query_error_from_pg(const gpx_pg_error *pe, int timeout_s, gpx_query_error *e);

/* ------------------------------------------------------------ resources */

/** Logical column served by a values resource ("strategies" → strategy); GPX_COL_COUNT if none. */
gpx_col gpx_query_resource_column(const char *resource);
/** The values resources, comma-separated, for messages ("strategies, symbols, …"). */
const char *gpx_query_resource_names(void);

/**
 * The `kinds` resource: the registry's user-visible rows as a JSON array of
 * {name, description, options, frameType}, options naming what the kind
 * reads ("filters", "groupBy", "metrics", "limit", …). New reference, NULL
 * on ENOMEM. Needs no database.
 */
json_t *gpx_query_kinds_json(void);

/**
 * Distinct values of a column (case-insensitive literal substring filter,
 * at most limit) as a JSON array (*out, new reference). On failure e holds
 * the status and message.
 */
int gpx_query_distinct(gpx_pg_session *sess, const gpx_ds_settings *s, gpx_col col, const char *substr,
                       int limit, json_t **out, gpx_query_error *e);

/**
 * Check the table and column mapping; *out (new reference) is the JSON of the
 * `schema` resource: {ok, table, tableExists, columns:[{name, column, type,
 * required, ok, error}], trades, from, to}. Postgres failures → non-zero
 * with pe filled.
 */
int gpx_schema_check(gpx_pg_session *sess, const gpx_ds_settings *s, json_t **out, gpx_pg_error *pe);

#endif /* GPX_QUERY_H */
