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
  GPX_QOPT_LIVE = 1 << 8,          /* live: Grafana Live pushes updates (live.c) */
  GPX_QOPT_EVENTS = 1 << 9,        /* events, threshold (annotations) */
  GPX_QOPT_CACHE = 1 << 10,        /* cache: served by the fold cache (cache.c); `cache: false` bypasses it */
};

/** Flags of a kind. */
enum {
  GPX_QKIND_TEST_ONLY = 1 << 0, /* served only with GPX_TEST_QUERIES=1, listed nowhere */
  GPX_QKIND_NO_DATASOURCE = 1 << 1, /* runs without a data-source instance or Postgres */
};

struct gpx_qrun;
struct gpx_query;
struct gpx_stream_need;

/** One row of the registry: everything the rest of the plugin knows of a kind. */
typedef struct gpx_query_kind {
  const char *name;        /* queryType value */
  const char *description; /* one line, for the editor and the docs */
  unsigned options;        /* GPX_QOPT_* */
  unsigned flags;          /* GPX_QKIND_* */
  const char *frame_type;  /* Grafana frame type of the answer, e.g. "timeseries-multi" */
  int (*run)(struct gpx_qrun *r); /* fills r's result; 0 or the error's errno-style code */
  /* Kinds whose SQL is the one-pass read alone (stream.c): what it folds for
     this query. Set, concurrent runs that differ only in what selects output
     (metrics, refId) share one read (single flight, flight.c); NULL: never shared. */
  void (*stream_need)(const struct gpx_query *q, struct gpx_stream_need *need);
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
  struct gpx_live *live;   /* non-NULL: a `live` query is issued a channel here (QueryData); NULL: `live` is ignored */
  int json_frames;         /* 1: frames as JSON (gpx_query_result.json) instead of Arrow: a live push */
  int skip_cache;          /* 1: the request said X-Cache-Skip: the fold cache is neither read nor filled */
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
  uint32_t *frame_ids;    /* with input json_frames: each frame's id (gpx_live_frame_id of its name) */
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

/* ------------------------------------------------------------ single flight (flight.c) */

/**
 * Single flight (issue 14): a query of a kind with a stream_need whose
 * computation — data source instance, filters, groupBy, analytics options,
 * time range, maxDataPoints, interval and what the read folds — equals one
 * already running waits for that one's result instead of starting its own,
 * then builds its own frames (its metrics, its refId) from it. On by
 * default; off (GPX_SINGLE_FLIGHT=0, for benchmarks) every query runs
 * alone. Thread-safe.
 */
void gpx_query_single_flight(int on);
/** Queries answered from another query's computation since start (gpx_query_coalesced_total). */
uint64_t gpx_query_coalesced_total(void);

/* ------------------------------------------------------------ the fold cache (cache.c) */

/** The fold cache's counters (CollectMetrics): hits, misses, failed checks, evictions; and bytes held now. */
enum { GPX_QCACHE_HITS, GPX_QCACHE_MISSES, GPX_QCACHE_VERIFY_FAILED, GPX_QCACHE_EVICTIONS, GPX_QCACHE_CHECKS_LOG,
       GPX_QCACHE_CHECKS_FINGERPRINT, GPX_QCACHE_NSTATS, GPX_QCACHE_BYTES = GPX_QCACHE_NSTATS };
uint64_t gpx_query_cache_stat(int which);

/* ------------------------------------------------------------ live (live.c) */

/** Issued queries remembered at once (the oldest unused is forgotten first). */
#define GPX_LIVE_ISSUED_MAX 4096

/**
 * Grafana Live for queries (docs/query-model.md "Live queries"): the table
 * of channels QueryData issued (path "live/<query hash>/<frame id>" → the
 * query), and per data-source instance one change listener — LISTEN on a
 * connection of its own when sql/live_notify.sql's trigger is installed,
 * else a watermark poll every livePollSeconds — that wakes the channels,
 * each of which recomputes its query and pushes the frame when it changed.
 * Thread-safe. Free only when no channel is open.
 */
typedef struct gpx_live gpx_live;
int gpx_live_new(gpx_live **out);
void gpx_live_free(gpx_live *l);

/** Id of a frame within its query's channels: FNV-1a of its name. */
uint32_t gpx_live_frame_id(const char *frame_name);

/**
 * Check a channel path against the issued table: 0 when uid issued it;
 * ENOENT (unknown: not issued here, or the plugin restarted since — the
 * panel's next refresh issues a new one), EINVAL (malformed: e not
 * issued by this plugin), each with a message in err.
 */
int gpx_live_check(gpx_live *l, const char *uid, const char *path, gpx_error *err);

typedef struct gpx_live_channel gpx_live_channel;
/**
 * Open a channel of instance inst (the caller keeps its reference while
 * the channel is open): ENOENT/EINVAL as gpx_live_check, EBUSY beyond
 * maxLiveChannels for the instance; err says which.
 */
int gpx_live_open(gpx_live *l, gpx_ds_instance *inst, const char *path, gpx_live_channel **out, gpx_error *err);
/**
 * Wait up to wait_ms for a change (the first call does not wait), then
 * recompute; when the channel's frame differs from the last one pushed,
 * *packet gets the JSON to push (a whole frame, schema and data: the
 * browser replaces its values). 0 with packet->len 0: nothing to push.
 * A failed recompute returns its status in e and is retried after the next
 * change or GPX_LIVE_RETRY_MS. Stops waiting when cancelled(arg).
 */
#define GPX_LIVE_RETRY_MS 5000
int gpx_live_next(gpx_live_channel *c, int wait_ms, gpx_pg_cancel_fn cancelled, void *arg, gpx_buf *packet,
                  gpx_query_error *e);
/** Close a channel; the instance's listener closes with its last channel. */
void gpx_live_close(gpx_live_channel *c);

/** Live state of an instance for CheckHealth: channels open, and the change-detection mode in use
    ("notify", "poll", "connecting") or NULL when no channel runs. */
const char *gpx_live_status(gpx_live *l, gpx_ds_instance *inst, int *channels);
/** Whether sql/live_notify.sql's trigger is on the instance's table (CheckHealth when no channel runs): 1/0, or -1 on error. */
int gpx_live_probe(gpx_pg_session *sess, const gpx_ds_settings *s, gpx_pg_error *pe);

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
 * The `tag-keys` resource (Grafana's ad-hoc filter keys): the dimensions the
 * mapping of s has, as a JSON array of {text, resource} ("strategy",
 * "strategies"), in the order of the dimensions; a dimension mapped to null
 * is left out. New reference, NULL on ENOMEM. Needs no database.
 */
json_t *gpx_query_tag_keys_json(const gpx_ds_settings *s);

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
