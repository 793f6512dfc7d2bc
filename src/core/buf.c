/*
** buf.c — growable byte buffer. Growth doubles capacity so n appends cost
** O(n) total; this matters for the Arrow writer's multi-GB frames.
*/
#include <stdio.h>
#include <stdlib.h>

#include "gpx/core.h"

void gpx_buf_init(gpx_buf *b) { memset(b, 0, sizeof *b); }

void gpx_buf_reset(gpx_buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

int gpx_buf_reserve(gpx_buf *b, size_t extra) {
  if (extra > SIZE_MAX - b->len) return ENOMEM;
  size_t need = b->len + extra;
  if (need <= b->cap) return GPX_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *p = realloc(b->data, cap);
  if (p == NULL) return ENOMEM;
  b->data = p;
  b->cap = cap;
  return GPX_OK;
}

int gpx_buf_append(gpx_buf *b, const void *p, size_t n) {
  if (n == 0) return GPX_OK;
  GPX_RETURN_NOT_OK(gpx_buf_reserve(b, n));
  gpx_buf_append_unsafe(b, p, n);
  return GPX_OK;
}

int gpx_buf_append_zeros(gpx_buf *b, size_t n) {
  if (n == 0) return GPX_OK;
  GPX_RETURN_NOT_OK(gpx_buf_reserve(b, n));
  memset(b->data + b->len, 0, n);
  b->len += n;
  return GPX_OK;
}

int gpx_buf_append_str(gpx_buf *b, const char *s) {
  return gpx_buf_append(b, s, strlen(s));
}

int gpx_buf_printf(gpx_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return EINVAL;
  GPX_RETURN_NOT_OK(gpx_buf_reserve(b, (size_t)n + 1));
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return GPX_OK;
}

int gpx_buf_terminate(gpx_buf *b) {
  GPX_RETURN_NOT_OK(gpx_buf_reserve(b, 1));
  b->data[b->len] = '\0';
  return GPX_OK;
}

uint8_t *gpx_buf_release(gpx_buf *b, size_t *len_out) {
  uint8_t *p = b->data;
  if (len_out) *len_out = b->len;
  memset(b, 0, sizeof *b);
  return p;
}
