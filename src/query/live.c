/*
** live.c — live queries: the channels QueryData issues and what keeps them
** fed (docs/query-model.md "Live queries"; Grafana's side in
** docs/grafana-live-annotations.md §1).
**
** Issuing. A query with `live: true` is remembered in a bounded table under
** a hash of (data source uid, refId, queryType, JSON, range, interval,
** maxDataPoints), and each of its frames carries meta.channel
** "ds/<uid>/live/<hash>/<frame id>" — Grafana's meta.channel route sends
** SubscribeStream and RunStream the path alone, so the path must name the
** query. An unknown hash (another process issued it, or this one forgot
** it) is ENOENT: the panel's next refresh issues a new one.
**
** Change detection. One listener thread per data-source instance while any
** of its channels runs, on a connection of its own (pg/listen.c): LISTEN on
** the channel sql/live_notify.sql's statement-level trigger notifies, else a
** watermark poll (count and max closed_at at or after the last max) every
** livePollSeconds. Either bumps the instance's generation; a lost
** connection is reopened (and counts as a change: something may have been
** missed). Without the trigger, only changes at or after the newest trade
** are seen: an update or delete of an older row waits for a refresh.
**
** Pushing. A channel recomputes its whole query (gpx_query_execute, JSON
** frames) when the generation moved — a burst of notifications while it
** computes costs one more run, not one per notification — and pushes its
** frame when it differs from the last one pushed. The channels of one query
** (one per frame: the groups of a grouped series) share each run: the first
** to need generation g computes, the others wait for and take its answer.
** What is pushed is always a fresh computation, so it equals what QueryData
** would answer at that moment; nothing is folded incrementally (yet: issue
** 14's fold cache). A range that ended "now" when the query was issued
** slides with the clock; a fixed past range does not.
**
** Why whole frames: Grafana's stream buffer can append rows or replace all
** values, not replace one row, so the last bucket of a down-sampled series
** or an updated trade could not be expressed as an append; the frontend
** has the buffer replace its values with each packet.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpx/log.h"
#include "query_int.h"

/* A range whose end was within this of the issue time is "until now". */
#define GPX__LIVE_NOW_SLACK_MS 60000
/* Listener: how long a statement may take, how long to wait before reconnecting. */
#define GPX__LIVE_STMT_MS 10000
#define GPX__LIVE_RECONNECT_MS 1000

typedef struct gpx__issued {
  uint64_t hash; /* 0: free slot */
  char uid[128];
  char *ref_id, *query_type, *json;
  size_t json_len;
  int has_time_range;
  int64_t from_ms, to_ms, interval_ms, max_points;
  int64_t issued_ms; /* wall clock when QueryData issued it */
  uint64_t used;     /* LRU tick */
} gpx__issued;

/* The last answer of one issued query, shared by its channels (under hub.mu). */
typedef struct gpx__shared {
  uint64_t hash;
  int refs;             /* channels of this query */
  int computing;        /* a channel is computing it now */
  int has;              /* res holds an answer computed for generation gen */
  uint64_t gen;
  int64_t at;           /* monotonic ms of that answer */
  gpx_query_result res; /* JSON frames and their ids, or the error */
  struct gpx__shared *next;
} gpx__shared;

typedef struct gpx__hub {
  gpx_ds_instance *inst; /* borrowed: every open channel holds a reference */
  int channels;          /* under gpx_live.mu */
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC; signals gen and stop */
  uint64_t gen;
  atomic_int stop;
  const char *_Atomic mode;
  gpx__shared *shared; /* under mu */
  struct gpx__hub *next;
} gpx__hub;

struct gpx_live {
  pthread_mutex_t mu;
  gpx__issued *issued; /* GPX_LIVE_ISSUED_MAX slots */
  uint64_t tick;
  gpx__hub *hubs;
};

struct gpx_live_channel {
  gpx_live *live;
  gpx__hub *hub;
  gpx__shared *shared;
  gpx__issued q; /* owned copy */
  uint32_t frame_id;
  uint64_t gen_seen;
  int started;
  int64_t retry_at; /* monotonic ms; 0: no failed run to retry */
  char *last;       /* the JSON last pushed */
};

static int64_t gpx__real_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t gpx__fnv64(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ULL;
  }
  return h;
}

uint32_t gpx_live_frame_id(const char *name) {
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    h ^= *p;
    h *= 16777619u;
  }
  return h;
}

static void gpx__issued_free(gpx__issued *q) {
  free(q->ref_id);
  free(q->query_type);
  free(q->json);
  memset(q, 0, sizeof *q);
}

static char *gpx__dup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    if (n) memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static int gpx__issued_copy(gpx__issued *dst, const gpx__issued *src) {
  *dst = *src;
  dst->ref_id = gpx__dup(src->ref_id, strlen(src->ref_id));
  dst->query_type = gpx__dup(src->query_type, strlen(src->query_type));
  dst->json = gpx__dup(src->json, src->json_len);
  if (!dst->ref_id || !dst->query_type || !dst->json) {
    gpx__issued_free(dst);
    return ENOMEM;
  }
  return GPX_OK;
}

/* ------------------------------------------------------------ the table */

int gpx_live_new(gpx_live **out) {
  gpx_live *l = calloc(1, sizeof *l);
  if (l) l->issued = calloc(GPX_LIVE_ISSUED_MAX, sizeof *l->issued);
  if (l == NULL || l->issued == NULL) {
    free(l);
    return ENOMEM;
  }
  pthread_mutex_init(&l->mu, NULL);
  *out = l;
  return GPX_OK;
}

void gpx_live_free(gpx_live *l) {
  if (l == NULL) return;
  for (size_t i = 0; i < GPX_LIVE_ISSUED_MAX; i++) gpx__issued_free(&l->issued[i]);
  free(l->issued);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

int gpx__live_issue(gpx_live *l, const char *uid, const gpx_query_input *in, char *buf, size_t cap) {
  const char *ref = in->ref_id ? in->ref_id : "";
  const char *qt = in->query_type ? in->query_type : "";
  char nums[128];
  int nn = snprintf(nums, sizeof nums, "%d|%lld|%lld|%lld|%lld", in->has_time_range, (long long)in->from_ms,
                    (long long)in->to_ms, (long long)in->interval_ms, (long long)in->max_points);
  uint64_t h = 14695981039346656037ULL;
  h = gpx__fnv64(h, uid, strlen(uid) + 1);
  h = gpx__fnv64(h, ref, strlen(ref) + 1);
  h = gpx__fnv64(h, qt, strlen(qt) + 1);
  h = gpx__fnv64(h, in->json ? (const void *)in->json : "", in->json_len);
  h = gpx__fnv64(h, nums, (size_t)nn);
  if (h == 0) h = 1;
  /* Grafana's channel id is at most 160 characters: "ds/<uid>/" + path */
  if (strlen(uid) >= sizeof((gpx__issued *)0)->uid || 3 + strlen(uid) + 1 + 30 > 160) return EINVAL;
  pthread_mutex_lock(&l->mu);
  gpx__issued *slot = NULL, *oldest = NULL;
  for (size_t i = 0; i < GPX_LIVE_ISSUED_MAX; i++) {
    gpx__issued *e = &l->issued[i];
    if (e->hash == h && strcmp(e->uid, uid) == 0) {
      slot = e;
      break;
    }
    if (oldest == NULL || e->used < oldest->used) oldest = e; /* free slots have used 0 */
  }
  int rc = GPX_OK;
  if (slot == NULL) {
    slot = oldest;
    gpx__issued_free(slot);
    gpx__issued q = {.hash = h, .ref_id = (char *)ref, .query_type = (char *)qt,
                     .json = in->json ? (char *)in->json : "", .json_len = in->json ? in->json_len : 0,
                     .has_time_range = in->has_time_range, .from_ms = in->from_ms, .to_ms = in->to_ms,
                     .interval_ms = in->interval_ms, .max_points = in->max_points};
    snprintf(q.uid, sizeof q.uid, "%s", uid);
    rc = gpx__issued_copy(slot, &q);
  }
  if (rc == GPX_OK) {
    slot->issued_ms = gpx__real_ms();
    slot->used = ++l->tick;
  }
  pthread_mutex_unlock(&l->mu);
  if (rc == GPX_OK) snprintf(buf, cap, "ds/%s/live/%016llx", uid, (unsigned long long)h);
  return rc;
}

static int gpx__hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* "live/<16 hex>/<8 hex>" → hash, frame id; else EINVAL. */
static int gpx__parse_path(const char *path, uint64_t *hash, uint32_t *frame, gpx_error *err) {
  size_t n = path ? strnlen(path, 200) : 0;
  if (n != 30 || strncmp(path, "live/", 5) != 0 || path[21] != '/')
    return gpx_error_set(err, EINVAL,
                         "channel path is not one this data source issued (expected live/<query hash>/<frame id>, "
                         "as meta.channel of a live query's frame)");
  uint64_t h = 0;
  uint32_t f = 0;
  for (int i = 5; i < 21; i++) {
    int v = gpx__hexval(path[i]);
    if (v < 0) return gpx_error_set(err, EINVAL, "channel path: the query hash must be 16 lower-case hex digits");
    h = h << 4 | (uint64_t)v;
  }
  for (int i = 22; i < 30; i++) {
    int v = gpx__hexval(path[i]);
    if (v < 0) return gpx_error_set(err, EINVAL, "channel path: the frame id must be 8 lower-case hex digits");
    f = f << 4 | (uint32_t)v;
  }
  *hash = h;
  *frame = f;
  return GPX_OK;
}

/* Copy the entry uid issued under hash into *out (owned); ENOENT/ENOMEM. */
static int gpx__lookup(gpx_live *l, const char *uid, uint64_t hash, gpx__issued *out, gpx_error *err) {
  int rc = ENOENT;
  pthread_mutex_lock(&l->mu);
  for (size_t i = 0; i < GPX_LIVE_ISSUED_MAX; i++) {
    gpx__issued *e = &l->issued[i];
    if (e->hash == hash && hash != 0 && strcmp(e->uid, uid) == 0) {
      e->used = ++l->tick;
      rc = out ? gpx__issued_copy(out, e) : GPX_OK;
      break;
    }
  }
  pthread_mutex_unlock(&l->mu);
  if (rc == ENOENT)
    gpx_error_set(err, ENOENT,
                  "live channel unknown to this plugin process (it was issued before a plugin restart, by another "
                  "Grafana node, or long ago): refresh the panel to get a new one");
  else if (rc == ENOMEM)
    gpx_error_set(err, ENOMEM, "out of memory");
  return rc;
}

int gpx_live_check(gpx_live *l, const char *uid, const char *path, gpx_error *err) {
  uint64_t h;
  uint32_t f;
  GPX_RETURN_NOT_OK(gpx__parse_path(path, &h, &f, err));
  return gpx__lookup(l, uid ? uid : "", h, NULL, err);
}

/* ------------------------------------------------------------ the listener */

static void gpx__bump(gpx__hub *h) {
  pthread_mutex_lock(&h->mu);
  h->gen++;
  pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
}

static int gpx__hub_stopping(void *arg) { return atomic_load(&((gpx__hub *)arg)->stop); }

/* Sleep up to ms, woken by stop. */
static void gpx__hub_sleep(gpx__hub *h, int64_t ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&h->mu);
  if (!atomic_load(&h->stop)) pthread_cond_timedwait(&h->cv, &h->mu, &ts);
  pthread_mutex_unlock(&h->mu);
}

/* Run one statement on the listener's connection (text results). */
static int gpx__hub_exec(gpx_pg_session *s, gpx_sql *sql, PGresult **res, gpx_pg_error *pe) {
  gpx_pg_dedicated_rearm(s, GPX__LIVE_STMT_MS);
  return gpx_pg_exec(s, gpx_sql_cstr(sql), sql->n, (const char *const *)sql->params, 0, res, pe);
}

/* Connect, learn the channel name and whether the trigger is there, LISTEN if so. */
static int gpx__hub_connect(gpx__hub *h, gpx_pg_session *s, int *notify, gpx_pg_error *pe) {
  const gpx_ds_settings *st = &h->inst->settings;
  GPX_RETURN_NOT_OK(gpx_pg_open_dedicated(h->inst->pool, s, gpx__hub_stopping, h, GPX__LIVE_STMT_MS, pe));
  gpx_sql sql = {0};
  PGresult *res = NULL;
  int rc = gpx_sql_live_probe(&sql, st);
  if (rc == GPX_OK) rc = gpx__hub_exec(s, &sql, &res, pe);
  gpx_sql_reset(&sql);
  if (rc == GPX_OK && PQntuples(res) == 1) {
    *notify = PQgetvalue(res, 0, 1)[0] == 't';
    if (*notify) {
      gpx_buf_append_str(&sql.text, "LISTEN ");
      rc = gpx_pg_quote_ident(&sql.text, PQgetvalue(res, 0, 0));
      PQclear(res);
      res = NULL;
      if (rc == GPX_OK) rc = gpx__hub_exec(s, &sql, &res, pe);
      gpx_sql_reset(&sql);
    }
  } else if (rc == GPX_OK) {
    rc = EIO;
  }
  PQclear(res);
  if (rc != GPX_OK) gpx_pg_close_dedicated(s);
  return rc;
}

static void *gpx__hub_main(void *arg) {
  gpx__hub *h = arg;
  gpx_pg_session s;
  memset(&s, 0, sizeof s);
  int connected = 0, ever = 0, notify = 0, warned = 0;
  char wm[64] = "-infinity";
  int64_t wm_n = -1, next_poll = 0;
  while (!atomic_load(&h->stop)) {
    gpx_pg_error pe;
    if (!connected) {
      if (gpx__hub_connect(h, &s, &notify, &pe) != GPX_OK) {
        atomic_store(&h->mode, "connecting");
        if (!warned++ && !atomic_load(&h->stop))
          gpx_logf(GPX_LOG_WARN, "live: change listener of %s cannot connect (%s); retrying", h->inst->uid, pe.msg);
        gpx__hub_sleep(h, GPX__LIVE_RECONNECT_MS);
        continue;
      }
      connected = 1;
      warned = 0;
      atomic_store(&h->mode, notify ? "notify" : "poll");
      gpx_logf(GPX_LOG_DEBUG, "live: change listener of %s: %s", h->inst->uid, notify ? "LISTEN (trigger)" : "watermark poll");
      if (ever) gpx__bump(h); /* reconnected: a change may have been missed */
      ever = 1;
      snprintf(wm, sizeof wm, "-infinity");
      wm_n = -1;
      next_poll = 0;
    }
    if (notify) {
      int n = 0;
      if (gpx_pg_wait_notify(&s, 250, &n, &pe) != GPX_OK) {
        gpx_pg_close_dedicated(&s);
        connected = 0;
        continue;
      }
      if (n) gpx__bump(h);
      continue;
    }
    int64_t now = gpx_pg_now_ms();
    if (now < next_poll) {
      gpx__hub_sleep(h, next_poll - now < 250 ? next_poll - now : 250);
      continue;
    }
    next_poll = now + (int64_t)h->inst->settings.live_poll_s * 1000;
    /* Twice when the newest trade moved: once to see it, once to count
       the rows at the new watermark (the next poll's baseline). */
    for (int pass = 0; pass < 2 && connected; pass++) {
      gpx_sql sql = {0};
      PGresult *res = NULL;
      int rc = gpx_sql_live_watermark(&sql, &h->inst->settings, wm);
      if (rc == GPX_OK) rc = gpx__hub_exec(&s, &sql, &res, &pe);
      gpx_sql_reset(&sql);
      if (rc != GPX_OK || PQntuples(res) != 1) {
        PQclear(res);
        gpx_pg_close_dedicated(&s);
        connected = 0;
        break;
      }
      int64_t n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
      const char *max = PQgetisnull(res, 0, 1) ? "-infinity" : PQgetvalue(res, 0, 1);
      int moved = strcmp(max, wm) != 0;
      if (moved || (wm_n >= 0 && n != wm_n)) {
        if (wm_n >= 0 || strcmp(wm, "-infinity") != 0) gpx__bump(h);
      }
      snprintf(wm, sizeof wm, "%s", max);
      wm_n = moved ? -1 : n;
      PQclear(res);
      if (!moved) break;
    }
  }
  gpx_pg_close_dedicated(&s);
  return NULL;
}

static void gpx__hub_free(gpx__hub *h) {
  pthread_mutex_destroy(&h->mu);
  pthread_cond_destroy(&h->cv);
  free(h);
}

/* ------------------------------------------------------------ channels */

int gpx_live_open(gpx_live *l, gpx_ds_instance *inst, const char *path, gpx_live_channel **out, gpx_error *err) {
  *out = NULL;
  uint64_t hash;
  uint32_t frame;
  GPX_RETURN_NOT_OK(gpx__parse_path(path, &hash, &frame, err));
  gpx_live_channel *c = calloc(1, sizeof *c);
  if (c == NULL) return gpx_error_set(err, ENOMEM, "out of memory");
  int rc = gpx__lookup(l, inst->uid, hash, &c->q, err);
  if (rc != GPX_OK) {
    free(c);
    return rc;
  }
  c->live = l;
  c->frame_id = frame;
  pthread_mutex_lock(&l->mu);
  gpx__hub *h = l->hubs;
  while (h && h->inst != inst) h = h->next;
  if (h && h->channels >= inst->settings.max_live_channels) {
    rc = gpx_error_set(err, EBUSY,
                       "too many live channels for this data source (%d open, maxLiveChannels %d): turn live off on "
                       "some panels or raise maxLiveChannels",
                       h->channels, inst->settings.max_live_channels);
  } else if (h == NULL && inst->settings.max_live_channels < 1) {
    rc = gpx_error_set(err, EBUSY, "live queries are turned off for this data source (maxLiveChannels 0)");
  } else if (h == NULL) {
    h = calloc(1, sizeof *h);
    if (h == NULL) {
      rc = gpx_error_set(err, ENOMEM, "out of memory");
    } else {
      h->inst = inst;
      atomic_store(&h->mode, "connecting");
      pthread_mutex_init(&h->mu, NULL);
      pthread_condattr_t ca;
      pthread_condattr_init(&ca);
      pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
      pthread_cond_init(&h->cv, &ca);
      pthread_condattr_destroy(&ca);
      if (pthread_create(&h->th, NULL, gpx__hub_main, h) != 0) {
        gpx__hub_free(h);
        h = NULL;
        rc = gpx_error_set(err, EAGAIN, "cannot start the change listener (no thread)");
      } else {
        h->next = l->hubs;
        l->hubs = h;
      }
    }
  }
  if (rc == GPX_OK) {
    pthread_mutex_lock(&h->mu);
    gpx__shared *e = h->shared;
    while (e && e->hash != hash) e = e->next;
    if (e == NULL && (e = calloc(1, sizeof *e)) != NULL) {
      e->hash = hash;
      gpx_query_result_init(&e->res);
      e->next = h->shared;
      h->shared = e;
    }
    if (e) e->refs++;
    pthread_mutex_unlock(&h->mu);
    if (e == NULL) {
      rc = gpx_error_set(err, ENOMEM, "out of memory");
    } else {
      h->channels++;
      c->hub = h;
      c->shared = e;
    }
  }
  pthread_mutex_unlock(&l->mu);
  if (rc != GPX_OK) {
    gpx__issued_free(&c->q);
    free(c);
    return rc;
  }
  *out = c;
  return GPX_OK;
}

void gpx_live_close(gpx_live_channel *c) {
  if (c == NULL) return;
  gpx_live *l = c->live;
  gpx__hub *h = c->hub, *done = NULL;
  pthread_mutex_lock(&l->mu);
  pthread_mutex_lock(&h->mu);
  if (--c->shared->refs == 0) {
    for (gpx__shared **p = &h->shared; *p; p = &(*p)->next) {
      if (*p == c->shared) {
        *p = c->shared->next;
        break;
      }
    }
    gpx_query_result_reset(&c->shared->res);
    free(c->shared);
  }
  pthread_mutex_unlock(&h->mu);
  if (--h->channels == 0) {
    for (gpx__hub **p = &l->hubs; *p; p = &(*p)->next) {
      if (*p == h) {
        *p = h->next;
        break;
      }
    }
    done = h;
  }
  pthread_mutex_unlock(&l->mu);
  if (done) {
    pthread_mutex_lock(&done->mu);
    atomic_store(&done->stop, 1);
    pthread_cond_broadcast(&done->cv);
    pthread_mutex_unlock(&done->mu);
    pthread_join(done->th, NULL); /* every wait of the thread ends by stop within ~250 ms */
    gpx__hub_free(done);
  }
  gpx__issued_free(&c->q);
  free(c->last);
  free(c);
}

/* Wait on the hub's condition for at most ms (h->mu held). */
static void gpx__hub_wait(gpx__hub *h, int64_t ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_nsec += (ms < 1 ? 1 : ms) * 1000000L;
  while (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&h->cv, &h->mu, &ts);
}

/* Compute the channel's query now (no lock held); res initialised by the caller. */
static void gpx__compute(gpx_live_channel *c, gpx_pg_cancel_fn cancelled, void *arg, gpx_query_result *res) {
  gpx_query_input in;
  memset(&in, 0, sizeof in);
  in.ref_id = c->q.ref_id;
  in.query_type = c->q.query_type;
  in.json = (const uint8_t *)c->q.json;
  in.json_len = c->q.json_len;
  in.has_time_range = c->q.has_time_range;
  in.from_ms = c->q.from_ms;
  in.to_ms = c->q.to_ms;
  int64_t now = gpx__real_ms();
  if (in.has_time_range && llabs(c->q.to_ms - c->q.issued_ms) <= GPX__LIVE_NOW_SLACK_MS && now > c->q.issued_ms) {
    in.from_ms += now - c->q.issued_ms; /* "last 6 hours" stays the last 6 hours */
    in.to_ms += now - c->q.issued_ms;
  }
  in.interval_ms = c->q.interval_ms;
  in.max_points = c->q.max_points;
  in.json_frames = 1;
  gpx_query_execute(c->hub->inst, &in, cancelled, arg, res);
}

int gpx_live_next(gpx_live_channel *c, int wait_ms, gpx_pg_cancel_fn cancelled, void *arg, gpx_buf *packet,
                  gpx_query_error *e) {
  gpx__hub *h = c->hub;
  gpx__shared *sh = c->shared;
  pthread_mutex_lock(&h->mu);
  if (c->started) {
    int64_t end = gpx_pg_now_ms() + (wait_ms > 0 ? wait_ms : 0);
    for (;;) {
      int64_t now = gpx_pg_now_ms();
      if (h->gen != c->gen_seen || (c->retry_at && now >= c->retry_at)) break;
      if (now >= end || (cancelled && cancelled(arg))) {
        pthread_mutex_unlock(&h->mu);
        return GPX_OK;
      }
      gpx__hub_wait(h, end - now < 100 ? end - now : 100); /* the caller's cancel is polled */
    }
  }
  uint64_t gen = h->gen; /* read before computing: a change during the run means one more run */
  int retry = c->retry_at != 0;
  c->started = 1;
  c->gen_seen = gen;
  /* The answer for generation >= gen: another channel of the query may have
     it, or be computing it; else this one computes it for all. A failed
     answer is shared only while fresh, so a retry runs the query again. */
  for (;;) {
    int64_t now = gpx_pg_now_ms();
    int fresh_fail = sh->res.error.status != 200 && now - sh->at < 1000 && !retry;
    if (sh->has && sh->gen >= gen && (sh->res.error.status == 200 || fresh_fail)) break;
    if (!sh->computing) {
      sh->computing = 1;
      pthread_mutex_unlock(&h->mu);
      gpx_query_result res;
      gpx_query_result_init(&res);
      gpx__compute(c, cancelled, arg, &res);
      pthread_mutex_lock(&h->mu);
      gpx_query_result_reset(&sh->res);
      sh->res = res; /* moved */
      sh->has = 1;
      sh->gen = gen;
      sh->at = gpx_pg_now_ms();
      sh->computing = 0;
      pthread_cond_broadcast(&h->cv);
      retry = 0;
      continue;
    }
    if (cancelled && cancelled(arg)) {
      pthread_mutex_unlock(&h->mu);
      return GPX_OK;
    }
    gpx__hub_wait(h, 100);
  }
  int rc = GPX_OK;
  if (sh->res.error.status != 200) {
    *e = sh->res.error;
    c->retry_at = gpx_pg_now_ms() + GPX_LIVE_RETRY_MS;
    rc = EIO;
  } else {
    c->retry_at = 0;
    for (size_t i = 0; i < sh->res.n_frames; i++) {
      if (sh->res.frame_ids[i] != c->frame_id) continue;
      const gpx_buf *f = &sh->res.frames[i];
      if (c->last && strlen(c->last) == f->len && memcmp(c->last, f->data, f->len) == 0) break;
      char *copy = gpx__dup((const char *)f->data, f->len);
      if (copy == NULL || gpx_buf_append(packet, f->data, f->len) != GPX_OK) {
        free(copy);
        gpx_buf_reset(packet);
        memset(e, 0, sizeof *e);
        e->status = 500;
        e->source = "plugin";
        snprintf(e->message, sizeof e->message, "live: out of memory");
        rc = ENOMEM;
        break;
      }
      free(c->last);
      c->last = copy;
      break;
    }
  }
  pthread_mutex_unlock(&h->mu);
  return rc;
}

const char *gpx_live_status(gpx_live *l, gpx_ds_instance *inst, int *channels) {
  const char *mode = NULL;
  *channels = 0;
  pthread_mutex_lock(&l->mu);
  for (gpx__hub *h = l->hubs; h; h = h->next) {
    if (h->inst == inst) {
      *channels = h->channels;
      mode = atomic_load(&h->mode);
    }
  }
  pthread_mutex_unlock(&l->mu);
  return mode;
}

int gpx_live_probe(gpx_pg_session *sess, const gpx_ds_settings *s, gpx_pg_error *pe) {
  gpx_sql sql = {0};
  PGresult *res = NULL;
  int rc = gpx_sql_live_probe(&sql, s);
  if (rc == GPX_OK)
    rc = gpx_pg_exec(sess, gpx_sql_cstr(&sql), sql.n, (const char *const *)sql.params, 0, &res, pe);
  gpx_sql_reset(&sql);
  int out = rc == GPX_OK && PQntuples(res) == 1 ? PQgetvalue(res, 0, 1)[0] == 't' : -1;
  PQclear(res);
  return out;
}
