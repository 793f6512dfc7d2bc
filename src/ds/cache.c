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
#include <sys/stat.h>
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

static void gpx__inst_free(gpx_ds_instance *i) {
  gpx_pg_pool_free(i->pool);
  if (i->tls_dir[0]) {
    const char *files[] = {"ca.pem", "client.pem", "client.key"};
    char p[400];
    for (int k = 0; k < 3; k++) {
      snprintf(p, sizeof p, "%s/%s", i->tls_dir, files[k]);
      unlink(p);
    }
    rmdir(i->tls_dir);
  }
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
  snprintf(i->uid, sizeof i->uid, "%s", key);
  i->updated_ms = dsi->updated_ms;
  gpx_ds_settings *s = &i->settings;
  if (s->tls_ca_cert || s->tls_client_cert || s->tls_client_key) {
    /* libpq reads TLS material only from files: write the secrets to a
       private (0700) directory that lives as long as this instance. */
    const char *tmp = getenv("TMPDIR");
    snprintf(i->tls_dir, sizeof i->tls_dir, "%s/gpx-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
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

int gpx_ds_acquire(gpx_ds_cache *c, const gpx_ds_source *dsi, gpx_ds_instance **out, gpx_error *err) {
  *out = NULL;
  if (dsi == NULL)
    return gpx_error_set(err, EINVAL, "request has no data-source instance settings");
  char key[128];
  if (dsi->uid && dsi->uid[0]) snprintf(key, sizeof key, "%s", dsi->uid);
  else snprintf(key, sizeof key, "id:%lld", (long long)dsi->id);
  pthread_mutex_lock(&c->mu);
  for (gpx__node **pp = &c->head; *pp; pp = &(*pp)->next) {
    gpx_ds_instance *i = (*pp)->inst;
    if (strcmp(i->uid, key) != 0) continue;
    if (i->updated_ms == dsi->updated_ms) {
      i->refs++;
      pthread_mutex_unlock(&c->mu);
      *out = i;
      return GPX_OK;
    }
    /* Settings changed: retire the old version. */
    gpx__node *dead = *pp;
    *pp = dead->next;
    i->retired = 1;
    if (i->refs == 0) gpx__inst_free(i);
    free(dead);
    break;
  }
  pthread_mutex_unlock(&c->mu);
  /* Parse outside the lock; two racing creators are resolved below. */
  gpx_ds_instance *fresh = NULL;
  int rc = gpx__inst_new(dsi, key, &fresh, err);
  if (rc != GPX_OK) return rc;
  pthread_mutex_lock(&c->mu);
  for (gpx__node *n = c->head; n; n = n->next) {
    if (strcmp(n->inst->uid, key) == 0 && n->inst->updated_ms == dsi->updated_ms) {
      n->inst->refs++;
      pthread_mutex_unlock(&c->mu);
      gpx__inst_free(fresh);
      *out = n->inst;
      return GPX_OK;
    }
  }
  gpx__node *n = calloc(1, sizeof *n);
  if (n == NULL) {
    pthread_mutex_unlock(&c->mu);
    gpx__inst_free(fresh);
    return gpx_error_set(err, ENOMEM, "out of memory");
  }
  n->inst = fresh;
  n->next = c->head;
  c->head = n;
  fresh->refs = 1;
  pthread_mutex_unlock(&c->mu);
  *out = fresh;
  return GPX_OK;
}

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
