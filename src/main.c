/*
** main.c — process entry: environment, go-plugin handshake, serve, exit.
**
** The only file outside the core library. Grafana starts this binary as a
** hashicorp go-plugin child (protocol spec §1): it checks the magic cookie,
** requires app protocol 2, listens on a unix socket, and only once serving
** prints exactly "1|2|unix|<path>|grpc" on stdout. After that stdout is
** pointed at /dev/null so nothing else can ever reach it.
*/
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gpx/ds.h"
#include "gpx/log.h"
#include "gpx/pg.h"
#include "gpx/rpc.h"
#include "gpx/svc.h"

#define GPX_EXECUTABLE "gpx_algotrading_pnl"

static void gpx__usage(FILE *f) {
  fprintf(f,
          "%s %s — Grafana backend data source for trading-bot P&L analytics\n"
          "\n"
          "usage: %s [--version | --help]\n"
          "\n"
          "Grafana starts this program itself; it is not meant to be run by hand.\n"
          "Install: copy the plugin folder (dist/) as %s/ into Grafana's plugins\n"
          "directory and allow it while unsigned:\n"
          "  GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=%s\n"
          "Log level: GF_PLUGIN_LOG_LEVEL (trace, debug, info, warn, error; default info),\n"
          "set by Grafana from [plugin.%s] log_level.\n",
          GPX_PLUGIN_ID, GPX_VERSION, GPX_EXECUTABLE, GPX_PLUGIN_ID, GPX_PLUGIN_ID, GPX_PLUGIN_ID);
}

/* "1,2" contains version 2? */
static int gpx__has_version2(const char *list) {
  if (list == NULL) return 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    while (*t == ' ') t++;
    if (strcmp(t, "2") == 0) return 1;
  }
  return 0;
}

typedef struct gpx__sigctx {
  sigset_t set;
  gpx_rpc_server *server;
} gpx__sigctx;

/* SIGTERM arrives here (it is blocked in every other thread): graceful stop. */
static void *gpx__signal_thread(void *arg) {
  gpx__sigctx *sc = arg;
  for (;;) {
    int sig = 0;
    if (sigwait(&sc->set, &sig) != 0) continue;
    if (sig == SIGTERM) {
      gpx_log(GPX_LOG_INFO, "SIGTERM received, shutting down", NULL);
      gpx_rpc_request_shutdown(sc->server);
      return NULL;
    }
    if (sig == SIGUSR2) return NULL; /* internal: main is exiting */
  }
}

int main(int argc, char **argv) {
  /* glibc gives each of up to 8×cores threads its own heap arena, and 64
     workers building frames leave each arena's freed pages behind: RSS
     grew for minutes under the soak's 50 clients. Four arenas keep
     contention low on a small machine; MALLOC_ARENA_MAX still overrides. */
  if (getenv("MALLOC_ARENA_MAX") == NULL) mallopt(M_ARENA_MAX, 4);
  /* A query's frame, its Arrow bytes and the packed reply are each a few
     hundred KB (1,000 trades: ~200 KB): above glibc's starting mmap
     threshold (128 KB) or its trim threshold, so every query mapped and
     unmapped them, or trimmed the heap and faulted the pages back in
     (perf: page faults in Arrow and protobuf copies, 6 % of the plugin's
     CPU on `trades`). Fixed thresholds keep up to 4 MB free per arena
     (four arenas) for the next query; larger blocks are still mapped and
     returned at once. MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_
     still override. */
  if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL) mallopt(M_MMAP_THRESHOLD, 1 << 20);
  if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL) mallopt(M_TRIM_THRESHOLD, 4 << 20);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
      printf("%s %s\n", GPX_PLUGIN_ID, GPX_VERSION);
      return 0;
    }
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      gpx__usage(stdout);
      return 0;
    }
    fprintf(stderr, "%s: unknown option %s (try --help)\n", GPX_EXECUTABLE, argv[i]);
    return 2;
  }
  const char *cookie = getenv("grafana_plugin_type");
  if (cookie == NULL || strcmp(cookie, "datasource") != 0) {
    fprintf(stderr,
            "This binary is a Grafana plugin (%s %s). It is started by Grafana, not by hand.\n"
            "To install it, copy the plugin folder into Grafana's plugins directory as %s/\n"
            "and set GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=%s. See --help.\n",
            GPX_PLUGIN_ID, GPX_VERSION, GPX_PLUGIN_ID, GPX_PLUGIN_ID);
    return 1;
  }

  const char *lvl = getenv("GF_PLUGIN_LOG_LEVEL");
  int level = gpx_log_level_parse(lvl);
  if (level >= 0) gpx_log_set_level((gpx_log_level)level);
  if (lvl != NULL && level < 0) gpx_logf(GPX_LOG_WARN, "GF_PLUGIN_LOG_LEVEL=%.32s not recognised; using info", lvl);

  if (!gpx__has_version2(getenv("PLUGIN_PROTOCOL_VERSIONS"))) {
    gpx_logf(GPX_LOG_ERROR, "PLUGIN_PROTOCOL_VERSIONS=%s does not offer version 2",
             getenv("PLUGIN_PROTOCOL_VERSIONS") ? getenv("PLUGIN_PROTOCOL_VERSIONS") : "(unset)");
    fprintf(stderr, "%s: the host does not speak go-plugin app protocol 2\n", GPX_EXECUTABLE);
    return 1;
  }

  /* Ignore SIGINT like go-plugin servers (a terminal Ctrl-C must not kill the
     plugin before the host stops it); SIGTERM is handled by one thread. Block
     before grpc_init so gRPC's threads inherit the mask. */
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  gpx__sigctx sc;
  sigemptyset(&sc.set);
  sigaddset(&sc.set, SIGTERM);
  sigaddset(&sc.set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &sc.set, NULL);

  const char *dir = getenv("PLUGIN_UNIX_SOCKET_DIR");
  if (dir == NULL || !*dir) dir = getenv("TMPDIR");
  if (dir == NULL || !*dir) dir = "/tmp";
  struct timeval tv;
  gettimeofday(&tv, NULL);
  char path[256];
  int pn = snprintf(path, sizeof path, "%s/gpx-%d-%06ld.sock", dir, (int)getpid(), (long)tv.tv_usec);
  if (pn <= 0 || (size_t)pn >= 100) { /* sun_path is 108 bytes */
    snprintf(path, sizeof path, "/tmp/gpx-%d-%06ld.sock", (int)getpid(), (long)tv.tv_usec);
  }
  char address[300];
  snprintf(address, sizeof address, "unix:%s", path);

  gpx_app app;
  memset(&app, 0, sizeof app);
  app.start_time = (double)tv.tv_sec + tv.tv_usec / 1e6;
  const char *tq = getenv("GPX_TEST_QUERIES");
  app.test_queries = tq != NULL && strcmp(tq, "1") == 0;
  /* single flight off only for benchmarks that measure what it saves */
  const char *sf = getenv("GPX_SINGLE_FLIGHT");
  gpx_query_single_flight(!(sf != NULL && strcmp(sf, "0") == 0));
  /* named prepared statements per connection: fewer (0 = none) only for
     benchmarks and tests */
  const char *pp = getenv("GPX_PG_PREPARED");
  if (pp != NULL && *pp) gpx_pg_prepared_max(atoi(pp));
  pthread_mutex_init(&app.qstats.mu, NULL);
  if (gpx_ds_cache_new(&app.ds) != GPX_OK) {
    gpx_log(GPX_LOG_ERROR, "out of memory", NULL);
    return 1;
  }
  if (gpx_live_new(&app.live) != GPX_OK) {
    gpx_log(GPX_LOG_ERROR, "out of memory", NULL);
    return 1;
  }
  /* TLS material a killed plugin process left in $TMPDIR goes now */
  int swept = gpx_ds_sweep_tls_dirs(NULL);
  if (swept > 0) gpx_logf(GPX_LOG_INFO, "removed %d TLS directories left by earlier plugin processes", swept);

  size_t nm = 0;
  gpx_rpc_options opts;
  memset(&opts, 0, sizeof opts);
  opts.address = address;
  opts.methods = gpx_svc_methods(&nm);
  opts.n_methods = nm;
  opts.app = &app;
  gpx_error err;
  gpx_rpc_server *server = NULL;
  if (gpx_rpc_server_start(&opts, &server, NULL, &err) != GPX_OK) {
    gpx_log(GPX_LOG_ERROR, err.msg, NULL);
    return 1;
  }
  app.server = server;
  sc.server = server;
  pthread_t sig_thread;
  pthread_create(&sig_thread, NULL, gpx__signal_thread, &sc);

  /* The handshake: the first and only line on stdout (spec §1.4). */
  printf("1|2|unix|%s|grpc\n", path);
  fflush(stdout);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, STDOUT_FILENO);
    close(devnull);
  }
  json_t *f = json_pack("{s:s, s:s}", "version", GPX_VERSION, "socket", path);
  gpx_log(GPX_LOG_INFO, "plugin serving", f);

  int rc = gpx_rpc_run(server);
  unlink(path);
  if (rc != GPX_OK) {
    /* Workers are stuck in calls that ignored cancellation: leave now, the
       host is about to SIGKILL us anyway. */
    gpx_log(GPX_LOG_WARN, "exiting with calls still running", NULL);
    _exit(0);
  }
  pthread_kill(sig_thread, SIGUSR2);
  pthread_join(sig_thread, NULL);
  gpx_rpc_server_free(server);
  gpx_live_free(app.live); /* every RunStream has returned: no channel is open */
  gpx_ds_cache_free(app.ds);
  gpx_log(GPX_LOG_INFO, "plugin stopped", NULL);
  return 0;
}
