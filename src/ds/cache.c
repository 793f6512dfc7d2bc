/*
** cache.c — data-source instances keyed by uid + lastUpdatedMS.
**
** Like the Go SDK's instance manager: settings are parsed once per version
** of a data source, and a newer lastUpdatedMS (the user saved the settings)
** retires the old instance. A retired instance is freed when its last
** in-flight request releases it, so a save never breaks a running query.
*/
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gpx/ds.h"
#include "gpx/pg.h"

typedef struct gpx__node {
  gpx_ds_instance *inst;
  struct gpx__node *next;
} gpx__node;

struct gpx_ds_cache {
  pthread_mutex_t mu;
  gpx__node *head;
};

int gpx_ds_cache_new(gpx_ds_cache **out) {
  gpx_ds_cache *c = calloc(1, sizeof *c);
  if (c == NULL) return ENOMEM;
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return GPX_OK;
}

/* ---- memo of light answers ---- */

#define GPX__MEMO_N 64

typedef struct gpx_ds_memo {
  pthread_mutex_t mu;
  struct {
    char *key, *value;
    double at;
  } e[GPX__MEMO_N];
} gpx_ds_memo;

static void gpx__memo_free(gpx_ds_memo *m) {
  if (m == NULL) return;
  for (int i = 0; i < GPX__MEMO_N; i++) {
    free(m->e[i].key);
    free(m->e[i].value);
  }
  pthread_mutex_destroy(&m->mu);
  free(m);
}

static void gpx__remove_tls_dir(const char *dir) {
  const char *files[] = {"ca.pem", "client.pem", "client.key"};
  char p[400];
  for (int k = 0; k < 3; k++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[k]);
    unlink(p);
  }
  rmdir(dir);
}

int gpx_ds_sweep_tls_dirs(const char *tmpdir) {
  const char *tmp = tmpdir && *tmpdir ? tmpdir : getenv("TMPDIR");
  if (tmp == NULL || *tmp == '\0') tmp = "/tmp";
  DIR *d = opendir(tmp);
  if (d == NULL) return 0;
  int removed = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int pid = 0, used = 0;
    if (sscanf(e->d_name, "gpx-tls-%d-%*6[A-Za-z0-9]%n", &pid, &used) != 1 || used == 0 || e->d_name[used] ||
        pid <= 0 || pid == (int)getpid())
      continue;
    /* a live process (ours or another plugin's) keeps its directory */
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", tmp, e->d_name);
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) continue;
    gpx__remove_tls_dir(dir);
    removed++;
  }
  closedir(d);
  return removed;
}

static void gpx__inst_free(gpx_ds_instance *i) {
  void *fc = atomic_load(&i->fold_cache);
  if (fc && i->fold_cache_free) i->fold_cache_free(fc);
  gpx__memo_free(i->memo);
  gpx_pg_pool_free(i->pool);
  if (i->tls_dir[0]) gpx__remove_tls_dir(i->tls_dir);
  gpx_ds_settings_reset(&i->settings);
  free(i);
}

void gpx_ds_cache_free(gpx_ds_cache *c) {
  if (c == NULL) return;
  for (gpx__node *n = c->head, *next; n; n = next) {
    next = n->next;
    gpx__inst_free(n->inst);
    free(n);
  }
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static int gpx__write_secret(const char *dir, const char *name, const char *content, gpx_error *err) {
  char p[400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return gpx_error_set(err, EIO, "cannot write TLS material to a temporary file");
  size_t n = strlen(content);
  ssize_t w = write(fd, content, n);
  close(fd);
  if (w != (ssize_t)n) return gpx_error_set(err, EIO, "cannot write TLS material to a temporary file");
  return GPX_OK;
}

static int gpx__inst_new(const gpx_ds_source *dsi, const char *key,
                         gpx_ds_instance **out, gpx_error *err) {
  gpx_ds_instance *i = calloc(1, sizeof *i);
  if (i == NULL) return gpx_error_set(err, ENOMEM, "out of memory");
  int rc = gpx_ds_settings_parse(dsi->json, dsi->json_len, dsi->secure, dsi->n_secure, &i->settings, err);
  if (rc != GPX_OK) {
    free(i);
    return rc;
  }
  if ((i->memo = calloc(1, sizeof *i->memo)) == NULL) {
    gpx__inst_free(i);
    return gpx_error_set(err, ENOMEM, "out of memory");
  }
  pthread_mutex_init(&i->memo->mu, NULL);
  snprintf(i->uid, sizeof i->uid, "%s", key);
  i->updated_ms = dsi->updated_ms;
  gpx_ds_settings *s = &i->settings;
  if (s->tls_ca_cert || s->tls_client_cert || s->tls_client_key) {
    /* libpq reads TLS material only from files: write the secrets to a
       private (0700) directory that lives as long as this instance. */
    const char *tmp = getenv("TMPDIR");
    /* the pid in the name lets a later process sweep what a killed one left */
    snprintf(i->tls_dir, sizeof i->tls_dir, "%s/gpx-tls-%d-XXXXXX", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    if (mkdtemp(i->tls_dir) == NULL) {
      i->tls_dir[0] = '\0';
      rc = gpx_error_set(err, EIO, "cannot create a private directory for TLS material");
    }
    if (rc == GPX_OK && s->tls_ca_cert) rc = gpx__write_secret(i->tls_dir, "ca.pem", s->tls_ca_cert, err);
    if (rc == GPX_OK && s->tls_client_cert) rc = gpx__write_secret(i->tls_dir, "client.pem", s->tls_client_cert, err);
    if (rc == GPX_OK && s->tls_client_key) rc = gpx__write_secret(i->tls_dir, "client.key", s->tls_client_key, err);
  }
  if (rc == GPX_OK) rc = gpx_pg_pool_new(&i->settings, i->tls_dir, &i->pool, err);
  if (rc != GPX_OK) {
    gpx__inst_free(i);
    return rc;
  }
  *out = i;
  return GPX_OK;
}

/* The cached instance of uid, or NULL; caller holds the lock. */
static gpx__node **gpx__find(gpx_ds_cache *c, const char *key) {
  for (gpx__node **pp = &c->head; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->inst->uid, key) == 0) return pp;
  return NULL;
}

static double gpx__now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Unlink node *pp and retire its instance: freed now if unused, else by
   the last gpx_ds_release (its pool closes once its queries finish).
   Caller holds the lock; returns the instance to free after unlocking. */
static gpx_ds_instance *gpx__retire(gpx__node **pp) {
  gpx__node *dead = *pp;
  gpx_ds_instance *i = dead->inst;
  *pp = dead->next;
  free(dead);
  i->retired = 1;
  return i->refs == 0 ? i : NULL;
}

/* Instances nobody used for GPX_DS_EVICT_SECONDS (a deleted data source,
   an org gone) are dropped with their pools. Caller holds the lock. */
static void gpx__evict_idle(gpx_ds_cache *c, double now, gpx_ds_instance **to_free, size_t cap, size_t *n) {
  for (gpx__node **pp = &c->head; *pp && *n < cap;) {
    gpx_ds_instance *i = (*pp)->inst;
    if (i->refs == 0 && now - i->last_used > GPX_DS_EVICT_SECONDS) to_free[(*n)++] = gpx__retire(pp);
    else pp = &(*pp)->next;
  }
}

int gpx_ds_acquire(gpx_ds_cache *c, const gpx_ds_source *dsi, gpx_ds_instance **out, gpx_error *err) {
  *out = NULL;
  if (dsi == NULL)
    return gpx_error_set(err, EINVAL, "request has no data-source instance settings");
  char key[128];
  if (dsi->uid && dsi->uid[0]) snprintf(key, sizeof key, "%s", dsi->uid);
  else snprintf(key, sizeof key, "id:%lld", (long long)dsi->id);
  gpx_ds_instance *to_free[9] = {0};
  size_t nfree = 0;
  double now = gpx__now();
  pthread_mutex_lock(&c->mu);
  gpx__evict_idle(c, now, to_free, 8, &nfree);
  gpx__node **pp = gpx__find(c, key);
  /* The newest settings win: a request with an older lastUpdatedMS (another
     Grafana replica mid-rollout) is answered with the newer instance
     instead of replacing it back and forth, each time with a new pool. */
  gpx_ds_instance *hit = pp && (*pp)->inst->updated_ms >= dsi->updated_ms ? (*pp)->inst : NULL;
  if (hit) {
    hit->refs++;
    hit->last_used = now;
  }
  pthread_mutex_unlock(&c->mu);
  for (size_t k = 0; k < nfree; k++) gpx__inst_free(to_free[k]);
  if (hit) {
    *out = hit;
    return GPX_OK;
  }
  /* Parse and open outside the lock; racing creators are resolved below. */
  gpx_ds_instance *fresh = NULL;
  int rc = gpx__inst_new(dsi, key, &fresh, err);
  if (rc != GPX_OK) return rc;
  gpx_ds_instance *loser = NULL;
  pthread_mutex_lock(&c->mu);
  pp = gpx__find(c, key);
  if (pp && (*pp)->inst->updated_ms >= fresh->updated_ms) {
    /* another request installed this version, or a newer one, meanwhile */
    hit = (*pp)->inst;
    hit->refs++;
    hit->last_used = now;
    loser = fresh;
  } else {
    gpx__node *n = calloc(1, sizeof *n);
    if (n == NULL) {
      pthread_mutex_unlock(&c->mu);
      gpx__inst_free(fresh);
      return gpx_error_set(err, ENOMEM, "out of memory");
    }
    if (pp) loser = gpx__retire(pp); /* an older version: retired, one version per uid */
    n->inst = fresh;
    n->next = c->head;
    c->head = n;
    fresh->refs = 1;
    fresh->last_used = now;
    hit = fresh;
  }
  pthread_mutex_unlock(&c->mu);
  if (loser) gpx__inst_free(loser);
  *out = hit;
  return GPX_OK;
}

int gpx_ds_memo_get(gpx_ds_instance *inst, const char *key, double max_age_s, char **out) {
  gpx_ds_memo *m = inst->memo;
  *out = NULL;
  if (m == NULL) return 0;
  double now = gpx__now();
  pthread_mutex_lock(&m->mu);
  for (int i = 0; i < GPX__MEMO_N && *out == NULL; i++)
    if (m->e[i].key && strcmp(m->e[i].key, key) == 0 && now - m->e[i].at <= max_age_s) *out = strdup(m->e[i].value);
  pthread_mutex_unlock(&m->mu);
  return *out != NULL;
}

void gpx_ds_memo_put(gpx_ds_instance *inst, const char *key, const char *value) {
  gpx_ds_memo *m = inst->memo;
  if (m == NULL) return;
  char *k = strdup(key), *v = strdup(value);
  if (k == NULL || v == NULL) {
    free(k);
    free(v);
    return;
  }
  pthread_mutex_lock(&m->mu);
  int slot = 0; /* the same key, else an empty slot, else the oldest */
  for (int i = 0; i < GPX__MEMO_N; i++) {
    if (m->e[i].key && strcmp(m->e[i].key, key) == 0) {
      slot = i;
      break;
    }
    if (m->e[slot].key && (m->e[i].key == NULL || m->e[i].at < m->e[slot].at)) slot = i;
  }
  free(m->e[slot].key);
  free(m->e[slot].value);
  m->e[slot].key = k;
  m->e[slot].value = v;
  m->e[slot].at = gpx__now();
  pthread_mutex_unlock(&m->mu);
}

int gpx_ds_admit(gpx_ds_instance *inst) {
  int limit = inst->settings.max_open_connections + inst->settings.max_queued_queries;
  if (atomic_fetch_add(&inst->inflight, 1) < limit) return 1;
  atomic_fetch_sub(&inst->inflight, 1);
  return 0;
}

void gpx_ds_leave(gpx_ds_instance *inst) { atomic_fetch_sub(&inst->inflight, 1); }

void gpx_ds_release(gpx_ds_cache *c, gpx_ds_instance *inst) {
  if (inst == NULL) return;
  pthread_mutex_lock(&c->mu);
  int free_it = --inst->refs == 0 && inst->retired;
  pthread_mutex_unlock(&c->mu);
  if (free_it) gpx__inst_free(inst);
}

void gpx_ds_cache_pool_stats(gpx_ds_cache *c, int *open, int *idle, int *instances) {
  *open = *idle = *instances = 0;
  pthread_mutex_lock(&c->mu);
  for (gpx__node *n = c->head; n; n = n->next) {
    int o, i;
    gpx_pg_pool_stats(n->inst->pool, &o, &i);
    *open += o;
    *idle += i;
    (*instances)++;
  }
  pthread_mutex_unlock(&c->mu);
}
