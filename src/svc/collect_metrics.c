/*
** collect_metrics.c — Diagnostics/CollectMetrics: Prometheus text exposition
** of the plugin's own metrics. Grafana serves the bytes verbatim at
** /api/plugins/<id>/metrics (protocol spec §4.2), so the text must parse
** with Prometheus' own parser: HELP/TYPE once per family, label values
** escaped, histogram buckets cumulative and ending in +Inf.
*/
#include <dirent.h>
#include <grpc/grpc.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backend.pb-c.h"
#include "gpx/ds.h"
#include "gpx/query.h"
#include "gpx/svc.h"

static long gpx__rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
  fclose(f);
  return rss * sysconf(_SC_PAGESIZE);
}

static int gpx__open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  if (d == NULL) return 0;
  while (readdir(d) != NULL) n++;
  closedir(d);
  return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own fd */
}

static const char *const gpx__code_names[GPX_RPC_NCODES] = {
    "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
    "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"};

const int gpx_qstat_status_codes[GPX_QSTAT_STATUSES] = {200, 400, 499, 500, 502, 503, 504, 0};

/* Row of a kind in the tables; the row after the registry's is "invalid". */
static int gpx__qstat_row(int kind) {
  int invalid = (int)gpx_query_kind_count();
  return kind < 0 || kind >= invalid ? invalid : kind;
}

static const char *gpx__qstat_name(int t) {
  return t < (int)gpx_query_kind_count() ? gpx_query_kinds[t].name : "invalid";
}

/* Kinds listed with zero counts: every user-visible kind; others once used. */
static int gpx__qstat_listed(int t) {
  return t == (int)gpx_query_kind_count() || !(gpx_query_kinds[t].flags & GPX_QKIND_TEST_ONLY);
}

void gpx_query_stats_record(gpx_query_stats *qs, int kind, int status, double secs) {
  int t = gpx__qstat_row(kind);
  int k = 0;
  while (k < GPX_QSTAT_STATUSES - 1 && gpx_qstat_status_codes[k] != status) k++;
  int b = 0;
  while (b < GPX_RPC_HIST_BUCKETS && secs > gpx_rpc_hist_bounds[b]) b++;
  pthread_mutex_lock(&qs->mu);
  qs->count[t][k]++;
  qs->hist[t][b]++;
  qs->sum[t] += secs;
  pthread_mutex_unlock(&qs->mu);
}

int gpx_svc_metrics_text(gpx_app *app, gpx_buf *b) {
  gpx_rpc_method_stats st[32];
  size_t n = app->server ? gpx_rpc_stats(app->server, st, 32) : 0;
  int rc = GPX_OK;
#define P(...) \
  if (rc == GPX_OK) rc = gpx_buf_printf(b, __VA_ARGS__)

  P("# HELP gpx_grpc_calls_total gRPC calls served, by method and status code.\n");
  P("# TYPE gpx_grpc_calls_total counter\n");
  for (size_t i = 0; i < n; i++)
    for (int c = 0; c < GPX_RPC_NCODES; c++)
      if (st[i].calls_by_code[c] || c == 0)
        P("gpx_grpc_calls_total{method=\"%s\",code=\"%s\"} %llu\n", st[i].name,
          gpx__code_names[c], (unsigned long long)st[i].calls_by_code[c]);

  P("# HELP gpx_grpc_call_duration_seconds Time from call arrival to reply sent.\n");
  P("# TYPE gpx_grpc_call_duration_seconds histogram\n");
  for (size_t i = 0; i < n; i++) {
    uint64_t cum = 0;
    for (int k = 0; k < GPX_RPC_HIST_BUCKETS; k++) {
      cum += st[i].hist[k];
      P("gpx_grpc_call_duration_seconds_bucket{method=\"%s\",le=\"%g\"} %llu\n", st[i].name,
        gpx_rpc_hist_bounds[k], (unsigned long long)cum);
    }
    cum += st[i].hist[GPX_RPC_HIST_BUCKETS];
    P("gpx_grpc_call_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n", st[i].name,
      (unsigned long long)cum);
    P("gpx_grpc_call_duration_seconds_sum{method=\"%s\"} %.9f\n", st[i].name, st[i].sum_seconds);
    P("gpx_grpc_call_duration_seconds_count{method=\"%s\"} %llu\n", st[i].name,
      (unsigned long long)st[i].count);
  }

  P("# HELP gpx_grpc_calls_in_flight Calls currently being served.\n");
  P("# TYPE gpx_grpc_calls_in_flight gauge\n");
  P("gpx_grpc_calls_in_flight %lld\n", (long long)(app->server ? gpx_rpc_in_flight(app->server) : 0));

  /* Queries by type and answer status; durations by type. */
  gpx_query_stats qs;
  pthread_mutex_lock(&app->qstats.mu);
  memcpy(qs.count, app->qstats.count, sizeof qs.count);
  memcpy(qs.hist, app->qstats.hist, sizeof qs.hist);
  memcpy(qs.sum, app->qstats.sum, sizeof qs.sum);
  pthread_mutex_unlock(&app->qstats.mu);
  P("# HELP gpx_queries_total Queries answered, by query type and answer status (HTTP-like).\n");
  P("# TYPE gpx_queries_total counter\n");
  int rows = (int)gpx_query_kind_count() + 1;
  for (int t = 0; t < rows; t++) {
    const char *tn = gpx__qstat_name(t);
    for (int k = 0; k < GPX_QSTAT_STATUSES; k++) {
      if (!qs.count[t][k] && !(k == 0 && t < rows - 1 && gpx__qstat_listed(t))) continue;
      if (gpx_qstat_status_codes[k]) {
        P("gpx_queries_total{query_type=\"%s\",status=\"%d\"} %llu\n", tn, gpx_qstat_status_codes[k],
          (unsigned long long)qs.count[t][k]);
      } else {
        P("gpx_queries_total{query_type=\"%s\",status=\"other\"} %llu\n", tn, (unsigned long long)qs.count[t][k]);
      }
    }
  }
  P("# HELP gpx_query_duration_seconds Time to answer one query (SQL, analytics and encoding).\n");
  P("# TYPE gpx_query_duration_seconds histogram\n");
  for (int t = 0; t < rows; t++) {
    const char *tn = gpx__qstat_name(t);
    uint64_t total = qs.count[t][0];
    for (int k = 1; k < GPX_QSTAT_STATUSES; k++) total += qs.count[t][k];
    if (!total && !gpx__qstat_listed(t)) continue;
    uint64_t cum = 0;
    for (int k = 0; k < GPX_RPC_HIST_BUCKETS; k++) {
      cum += qs.hist[t][k];
      P("gpx_query_duration_seconds_bucket{query_type=\"%s\",le=\"%g\"} %llu\n", tn, gpx_rpc_hist_bounds[k],
        (unsigned long long)cum);
    }
    cum += qs.hist[t][GPX_RPC_HIST_BUCKETS];
    P("gpx_query_duration_seconds_bucket{query_type=\"%s\",le=\"+Inf\"} %llu\n", tn, (unsigned long long)cum);
    P("gpx_query_duration_seconds_sum{query_type=\"%s\"} %.9f\n", tn, qs.sum[t]);
    P("gpx_query_duration_seconds_count{query_type=\"%s\"} %llu\n", tn, (unsigned long long)cum);
  }
  P("# HELP gpx_query_coalesced_total Queries answered from an identical computation another query was running "
    "(single flight: e.g. a dashboard's stat panels), instead of their own.\n");
  P("# TYPE gpx_query_coalesced_total counter\ngpx_query_coalesced_total %llu\n",
    (unsigned long long)gpx_query_coalesced_total());
  static const struct {
    int which;
    const char *name, *type, *help;
  } fc[] = {
      {GPX_QCACHE_HITS, "gpx_cache_hits_total", "counter",
       "Queries answered from a fold-cache entry whose fingerprint matched, plus the trades after it."},
      {GPX_QCACHE_MISSES, "gpx_cache_misses_total", "counter",
       "Queries that found no usable fold-cache entry (none, or one that failed its check) and read their whole range."},
      {GPX_QCACHE_VERIFY_FAILED, "gpx_cache_verify_failed_total", "counter",
       "Fold-cache entries whose covered trades changed (fingerprint mismatch): dropped and read again."},
      {GPX_QCACHE_EVICTIONS, "gpx_cache_evictions_total", "counter",
       "Fold-cache entries evicted, least recently used first, to stay within cacheMegabytes."},
      {GPX_QCACHE_BYTES, "gpx_cache_bytes", "gauge", "Bytes held by the fold cache's entries, all data sources."},
  };
  for (size_t i = 0; i < sizeof fc / sizeof fc[0]; i++)
    P("# HELP %s %s\n# TYPE %s %s\n%s %llu\n", fc[i].name, fc[i].help, fc[i].name, fc[i].type, fc[i].name,
      (unsigned long long)gpx_query_cache_stat(fc[i].which));
  P("# HELP gpx_cache_checks_total Fold-cache checks, by method: the change log of sql/cache_changes.sql (reads a "
    "few rows) or the fingerprint (scans the cached range).\n# TYPE gpx_cache_checks_total counter\n");
  P("gpx_cache_checks_total{method=\"log\"} %llu\ngpx_cache_checks_total{method=\"fingerprint\"} %llu\n",
    (unsigned long long)gpx_query_cache_stat(GPX_QCACHE_CHECKS_LOG),
    (unsigned long long)gpx_query_cache_stat(GPX_QCACHE_CHECKS_FINGERPRINT));
  int open = 0, idle = 0, inst = 0;
  if (app->ds) gpx_ds_cache_pool_stats(app->ds, &open, &idle, &inst);
  P("# HELP gpx_pg_connections Postgres connections held by the plugin's pools, by state.\n");
  P("# TYPE gpx_pg_connections gauge\n");
  P("gpx_pg_connections{state=\"idle\"} %d\ngpx_pg_connections{state=\"in_use\"} %d\n", idle, open - idle);
  P("# HELP gpx_datasource_instances Data-source instances with parsed settings and a pool.\n");
  P("# TYPE gpx_datasource_instances gauge\ngpx_datasource_instances %d\n", inst);

  P("# HELP gpx_build_info Plugin build information.\n# TYPE gpx_build_info gauge\n");
  P("gpx_build_info{version=\"%s\",grpc_version=\"%s\"} 1\n", GPX_VERSION, grpc_version_string());

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
  P("# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n");
  P("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n", cpu);
  P("# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
  P("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n", gpx__rss_bytes());
  P("# HELP process_open_fds Number of open file descriptors.\n");
  P("# TYPE process_open_fds gauge\nprocess_open_fds %d\n", gpx__open_fds());
  P("# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n");
  P("# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n", app->start_time);
#undef P
  return rc;
}

void gpx_svc_collect_metrics(gpx_rpc_ctx *ctx, const uint8_t *req, size_t len,
                             gpx_rpc_reply *reply) {
  /* every scrape (15–60 s) hands the heap's freed pages back to the OS, so
     RSS follows what is in use rather than the busiest moment */
  malloc_trim(0);
  Pluginv2__CollectMetricsRequest *in = pluginv2__collect_metrics_request__unpack(NULL, len, req);
  if (in == NULL) {
    gpx_rpc_reply_error(reply, GPX_RPC_INVALID_ARGUMENT, "malformed CollectMetricsRequest");
    return;
  }
  pluginv2__collect_metrics_request__free_unpacked(in, NULL);
  gpx_buf text = {0};
  if (gpx_svc_metrics_text(gpx_rpc_app(ctx), &text) != GPX_OK) {
    gpx_buf_reset(&text);
    gpx_rpc_reply_error(reply, GPX_RPC_RESOURCE_EXHAUSTED, "out of memory rendering metrics");
    return;
  }
  Pluginv2__CollectMetricsResponse out = PLUGINV2__COLLECT_METRICS_RESPONSE__INIT;
  Pluginv2__CollectMetricsResponse__Payload pl = PLUGINV2__COLLECT_METRICS_RESPONSE__PAYLOAD__INIT;
  pl.prometheus.data = text.data;
  pl.prometheus.len = text.len;
  out.metrics = &pl;
  gpx_svc_pack(&out.base, reply);
  gpx_buf_reset(&text);
}
