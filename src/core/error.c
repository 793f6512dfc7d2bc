/*
** error.c — gpx_error formatting. Messages are truncated, never overflowed,
** and always valid UTF-8 (a cut never splits a character: utf8.c).
*/
#include <stdio.h>

#include "gpx/core.h"

int gpx_error_set(gpx_error *err, int code, const char *fmt, ...) {
  if (err != NULL) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* quoted input ("%.64s") or the size limit may split a character */
    gpx_utf8_scrub(err->msg);
  }
  return code;
}

int gpx_error_prefix(gpx_error *err, int code, const char *fmt, ...) {
  if (err != NULL) {
    char prefix[GPX_ERROR_MSG_SIZE];
    char old[GPX_ERROR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Truncation is intended: an over-long message keeps its head. */
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t rest = sizeof err->msg - n - 3;
    size_t m = strlen(old);
    if (m > rest) m = rest;
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    gpx_utf8_scrub(err->msg);
  }
  return code;
}
