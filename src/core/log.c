/*
** log.c — hclog JSON line writer (protocol spec §3.1).
**
** Keys @level/@message/@timestamp are always strings: go-plugin uses
** unchecked type assertions on them, so anything else would panic inside the
** host. "@module" names the plugin so Grafana's filters can select it.
*/
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gpx/core.h"
#include "gpx/log.h"

static atomic_int gpx__log_level = GPX_LOG_INFO;
static atomic_int gpx__log_fd = 2;

static const char *const gpx__level_names[] = {"trace", "debug", "info", "warn", "error"};

void gpx_log_set_level(gpx_log_level level) { atomic_store(&gpx__log_level, (int)level); }
gpx_log_level gpx_log_get_level(void) { return (gpx_log_level)atomic_load(&gpx__log_level); }
void gpx_log_set_fd(int fd) { atomic_store(&gpx__log_fd, fd); }

int gpx_log_level_parse(const char *s) {
  if (s == NULL) return -1;
  for (int i = 0; i < 5; i++)
    if (strcasecmp(s, gpx__level_names[i]) == 0) return i;
  if (strcasecmp(s, "warning") == 0) return GPX_LOG_WARN;
  if (strcasecmp(s, "off") == 0) return GPX_LOG_OFF;
  return -1;
}

char *gpx_log_format(gpx_log_level level, const char *message, json_t *fields) {
  struct timeval tv;
  struct tm tm;
  char ts[96];
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  /* Exactly six fractional digits and a Z (hclog TimeFormatJSON). */
  snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
  json_t *o = (fields != NULL && json_is_object(fields)) ? fields : json_object();
  if (fields != NULL && o != fields) json_decref(fields);
  if (o == NULL) return NULL;
  if ((int)level < 0 || level > GPX_LOG_ERROR) level = GPX_LOG_ERROR;
  json_object_set_new(o, "@level", json_string(gpx__level_names[level]));
  /* json_string rejects invalid UTF-8; never lose the line because of it. */
  json_t *m = json_string(message ? message : "");
  if (m == NULL) m = json_string("(message with invalid UTF-8)");
  json_object_set_new(o, "@message", m);
  json_object_set_new(o, "@timestamp", json_string(ts));
  json_object_set_new(o, "@module", json_string(GPX_PLUGIN_ID));
  char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
  json_decref(o);
  return s;
}

void gpx_log(gpx_log_level level, const char *message, json_t *fields) {
  if ((int)level < atomic_load(&gpx__log_level)) {
    json_decref(fields);
    return;
  }
  char *s = gpx_log_format(level, message, fields);
  if (s == NULL) return;
  size_t n = strlen(s);
  s[n] = '\n'; /* json_dumps allocated n+1 bytes: overwrite the NUL */
  const char *p = s;
  size_t left = n + 1;
  int fd = atomic_load(&gpx__log_fd);
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w <= 0) break;
    p += w;
    left -= (size_t)w;
  }
  free(s);
}

void gpx_logf(gpx_log_level level, const char *fmt, ...) {
  if ((int)level < atomic_load(&gpx__log_level)) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  gpx_log(level, msg, NULL);
}
