/*
** log.h — hclog-compatible JSON lines on stderr.
**
** go-plugin parses each stderr line as JSON with string "@level",
** "@message" and "@timestamp" (layout 2006-01-02T15:04:05.000000Z07:00) and
** forwards it into Grafana's log (protocol spec §3). Stdout is never used:
** it belongs to the handshake line alone. Each line is written with a single
** write(2) so lines from concurrent threads never interleave.
*/
#ifndef GPX_LOG_H
#define GPX_LOG_H

#include <jansson.h>

typedef enum gpx_log_level {
  GPX_LOG_TRACE = 0,
  GPX_LOG_DEBUG,
  GPX_LOG_INFO,
  GPX_LOG_WARN,
  GPX_LOG_ERROR,
  GPX_LOG_OFF
} gpx_log_level;

/** Set the minimum level; thread-safe. */
void gpx_log_set_level(gpx_log_level level);
gpx_log_level gpx_log_get_level(void);
/** Parse "trace|debug|info|warn|warning|error|off" (case-insensitive); -1 if unknown. */
int gpx_log_level_parse(const char *s);
/** Redirect where lines go (default fd 2); for tests. */
void gpx_log_set_fd(int fd);

/**
 * Log one line. `fields` (may be NULL) is an object of extra key/values and
 * is STOLEN (decref'd here), like json_object_set_new.
 */
void gpx_log(gpx_log_level level, const char *message, json_t *fields);
/** printf-style message without extra fields. */
void gpx_logf(gpx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Format one line into buf (without the trailing newline); for tests. */
char *gpx_log_format(gpx_log_level level, const char *message, json_t *fields);

#endif /* GPX_LOG_H */
