/*
** ds.h — data-source instance settings and the instance cache.
**
** One plugin process serves every data source of this type in every org
** (protocol spec §8.3). Each instance's jsonData and decrypted secrets are
** parsed and validated once, then cached under uid + lastUpdatedMS; a save
** in Grafana bumps lastUpdatedMS, so the next request builds a fresh
** instance and the old one is freed when its last user lets go. Each
** instance owns a bounded Postgres connection pool (pg.h).
**
** Secrets: the password and TLS material come only from
** decryptedSecureJsonData and are never logged nor put in error messages.
*/
#ifndef GPX_DS_H
#define GPX_DS_H

#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "gpx/core.h"

/* Logical columns of the trade table (docs/query-model.md). */
typedef enum gpx_col {
  GPX_COL_TRADE_ID = 0,
  GPX_COL_ACCOUNT,
  GPX_COL_EXCHANGE,
  GPX_COL_STRATEGY,
  GPX_COL_SYMBOL,
  GPX_COL_SIDE,
  GPX_COL_QTY,
  GPX_COL_ENTRY_PRICE,
  GPX_COL_EXIT_PRICE,
  GPX_COL_EXPECTED_ENTRY_PRICE,
  GPX_COL_EXPECTED_EXIT_PRICE,
  GPX_COL_OPENED_AT,
  GPX_COL_CLOSED_AT,
  GPX_COL_FEES,
  GPX_COL_REALIZED_PNL,
  GPX_COL_ENTRY_TAG,   /* optional: the signal that opened the trade (freqtrade's enter_tag) */
  GPX_COL_EXIT_REASON, /* optional: why it closed (roi, stop_loss, exit_signal, …) */
  GPX_COL_COUNT
} gpx_col;

/** Logical column names, indexed by gpx_col. */
extern const char *const gpx_col_names[GPX_COL_COUNT];
/** 1 for the columns that may not be mapped to null (closed_at, realized_pnl). */
extern const int gpx_col_required[GPX_COL_COUNT];

/*
** The column mapping (docs/query-model.md, "Column mapping"): each logical
** column is absent (JSON null), one column, or — for the number columns —
** a list of columns added together; `as` says how side and the time
** columns are stored. The SQL for a logical column is built from this in
** one place (gpx_sql_column, src/query/sql.c).
*/
typedef enum gpx_col_as {
  GPX_AS_PLAIN = 0,  /* text side (long/short, buy/sell), timestamp[tz] time, any number */
  GPX_AS_IS_SHORT,   /* side: a boolean, true = short */
  GPX_AS_IS_LONG,    /* side: a boolean, true = long */
  GPX_AS_EPOCH_S,    /* time: a number of seconds since 1970 (UTC) */
  GPX_AS_EPOCH_MS,
  GPX_AS_EPOCH_US,
  GPX_AS_EPOCH_NS,
  GPX_AS_COUNT
} gpx_col_as;

/** How the mapping's `as` spells each gpx_col_as (text and timestamp for PLAIN). */
extern const char *const gpx_col_as_names[GPX_AS_COUNT];

#define GPX_COL_MAX_PARTS 8
#define GPX_COL_NAME_MAX 128

typedef struct gpx_col_map {
  int n;                                         /* columns: 0 = absent, 1, or 2..8 added */
  gpx_col_as as;
  char name[GPX_COL_MAX_PARTS][GPX_COL_NAME_MAX]; /* the table's column names */
} gpx_col_map;

struct gpx_ds_settings;

/** Presets (jsonData.preset): a table name and a whole mapping. */
typedef enum gpx_preset { GPX_PRESET_DEFAULT = 0, GPX_PRESET_FREQTRADE, GPX_PRESET_COUNT } gpx_preset;
extern const char *const gpx_preset_names[GPX_PRESET_COUNT];

/**
 * Apply preset p's table and mapping to s (src/ds/presets.c). The mapping
 * is described as the JSON a user would write in jsonData.columns and read
 * by the same parser, so a preset and an override are one thing.
 */
int gpx_ds_preset_apply(gpx_preset p, struct gpx_ds_settings *s, gpx_error *err);

/**
 * Parse jsonData.columns over s->columns (keys present override; absent
 * keys keep what is there). prefix names the source in messages
 * ("jsonData.columns.").
 */
int gpx_ds_columns_parse(json_t *cols, const char *prefix, struct gpx_ds_settings *s, gpx_error *err);

/** Analytics settings a query may override. */
typedef struct gpx_analytics_settings {
  double initial_capital;
  char timezone[64];
  int trading_days;       /* 0 all, 1 weekdays (gpx_trading_days) */
  double annualization;
  double risk_free_rate;
} gpx_analytics_settings;

typedef struct gpx_ds_settings {
  char host[256];          /* one host, or a comma-separated list tried in order */
  int port;                /* the port (the first of port_list when that is set) */
  char port_list[96];      /* "5432,5433": one port per host; empty = port for every host */
  char target_session_attrs[16]; /* libpq's: any, read-write, read-only, primary, standby, prefer-standby */
  char database[128];
  char user[128];
  char sslmode[16];
  char ssl_root_cert_path[512];
  char schema[128];
  char table[128];
  gpx_preset preset;
  gpx_col_map columns[GPX_COL_COUNT];
  char currency[8];
  gpx_analytics_settings analytics;
  int max_open_connections;
  int query_timeout_s;
  int row_limit;
  int max_queued_queries;  /* beyond max_open_connections; more at once get a prompt 503 */
  int concurrent_queries;  /* queries of one request run at once, each on its own connection; <= max_open_connections */
  int idle_connection_s;   /* close pooled connections idle longer than this; 0 = never */
  int live_poll_s;         /* live queries without the NOTIFY trigger: watermark poll interval */
  int max_live_channels;   /* live channels open at once for this data source */
  int cache_mb;            /* the fold cache's bound per instance (src/query/cache.c), MiB; 0 = off */
  int cache_fingerprint;   /* without the change log, check entries by a fingerprint scan (else no cache) */
  /* secrets (owned, NUL-terminated; NULL when absent) */
  char *password;
  char *tls_ca_cert;
  char *tls_client_cert;
  char *tls_client_key;
} gpx_ds_settings;

/** 1 when logical column c is mapped (not null). */
static inline int gpx_col_present(const gpx_ds_settings *s, gpx_col c) { return s->columns[c].n > 0; }
/** The logical columns mapped to null, as a mask (1 << gpx_col). */
uint32_t gpx_ds_absent(const gpx_ds_settings *s);
/** 1 for a time column stored as epoch numbers (as epoch_s … epoch_ns). */
int gpx_col_epoch(const gpx_ds_settings *s, gpx_col c);
/** 1 for the logical columns that may be a list of columns added (the numbers). */
int gpx_col_is_number(gpx_col c);

/** Defaults of docs/query-model.md. */
void gpx_ds_settings_default(gpx_ds_settings *s);
/** Free the secrets and zero the struct; safe on a zeroed struct. */
void gpx_ds_settings_reset(gpx_ds_settings *s);

/**
 * Parse jsonData (may be empty) and the secure map into *s (initialised by
 * this call). EINVAL with a message naming the field ("jsonData.port: …").
 */
/** One decryptedSecureJsonData entry (borrowed strings). */
typedef struct gpx_ds_secret {
  const char *key;
  const char *value;
} gpx_ds_secret;

int gpx_ds_settings_parse(const uint8_t *json, size_t len, const gpx_ds_secret *secure, size_t n_secure,
                          gpx_ds_settings *s, gpx_error *err);

/**
 * Parse the analytics keys (initialCapital, timezone, tradingDays,
 * annualization, riskFreeRate) of object o over *a, keeping what is absent.
 * Shared by jsonData and per-query overrides; prefix names the source in
 * messages ("jsonData." or "").
 */
int gpx_analytics_parse(json_t *o, const char *prefix, gpx_analytics_settings *a, gpx_error *err);

/** Validate a time-zone name's spelling (Postgres decides if it exists). */
int gpx_ds_timezone_valid(const char *tz);

/* ---------------------------------------------------------------- cache */

struct gpx_pg_pool;

typedef struct gpx_ds_instance {
  gpx_ds_settings settings;
  struct gpx_pg_pool *pool;
  char uid[128];
  int64_t updated_ms;
  int refs;            /* guarded by the cache mutex */
  int retired;         /* replaced by a newer version; freed at refs == 0 */
  double last_used;    /* monotonic seconds of the last acquire (eviction) */
  atomic_int inflight; /* queries running or waiting for a connection (gpx_ds_admit) */
  struct gpx_ds_memo *memo; /* recent answers of light requests (gpx_ds_memo_get) */
  char tls_dir[256];   /* temp dir holding TLS files written from secrets */
  /* the query layer's fold cache of this instance (src/query/cache.c), made
     on first use; freed with the instance through fold_cache_free */
  _Atomic(void *) fold_cache;
  void (*fold_cache_free)(void *);
} gpx_ds_instance;

typedef struct gpx_ds_cache gpx_ds_cache;

/** Instances unused this long are dropped with their pools (a deleted data source). */
#define GPX_DS_EVICT_SECONDS 3600

int gpx_ds_cache_new(gpx_ds_cache **out);

/**
 * Remove the TLS directories (gpx-tls-<pid>-XXXXXX in tmpdir, default
 * $TMPDIR or /tmp) that a plugin process which no longer runs left behind
 * (SIGKILL, a crash); called once at start-up. Returns how many.
 */
int gpx_ds_sweep_tls_dirs(const char *tmpdir);
void gpx_ds_cache_free(gpx_ds_cache *c);

/**
 * Get (creating if needed) the instance for these settings; the caller holds
 * a reference until gpx_ds_release. EINVAL (message names the field) when the
 * settings are invalid; the bad settings are not cached.
 */
/**
 * A data source as the request describes it (the host's
 * DataSourceInstanceSettings, borrowed): svc/ fills it from protobuf, so
 * this module and the query layer know nothing of the wire format.
 */
typedef struct gpx_ds_source {
  const char *uid;          /* may be empty: then id names it */
  int64_t id;
  int64_t updated_ms;       /* lastUpdatedMS: the settings version */
  const uint8_t *json;      /* jsonData */
  size_t json_len;
  const gpx_ds_secret *secure;
  size_t n_secure;
} gpx_ds_source;

int gpx_ds_acquire(gpx_ds_cache *c, const gpx_ds_source *src, gpx_ds_instance **out, gpx_error *err);
void gpx_ds_release(gpx_ds_cache *c, gpx_ds_instance *inst);

/**
 * Admission control per data source: at most maxOpenConnections queries
 * run and maxQueuedQueries wait for a connection; 0 (refused, answer 503
 * at once) beyond that, so one data source pointing at a black hole cannot
 * tie up the plugin's workers. 1: admitted, call gpx_ds_leave when done.
 * Thread-safe.
 */
int gpx_ds_admit(gpx_ds_instance *inst);
void gpx_ds_leave(gpx_ds_instance *inst);

/**
 * A short memory of light answers (the editors' and variables' value lists):
 * a dashboard opening runs the same few resource requests for every panel
 * and variable, and they need not cost a table scan each. get copies the
 * answer stored under key within max_age_s into *out (free() it) and
 * returns 1, else 0; put stores a copy (at most 64 entries, the oldest
 * replaced). Thread-safe.
 */
int gpx_ds_memo_get(gpx_ds_instance *inst, const char *key, double max_age_s, char **out);
void gpx_ds_memo_put(gpx_ds_instance *inst, const char *key, const char *value);

/** Pool statistics across instances, for CollectMetrics. */
void gpx_ds_cache_pool_stats(gpx_ds_cache *c, int *open, int *idle, int *instances);

#endif /* GPX_DS_H */
