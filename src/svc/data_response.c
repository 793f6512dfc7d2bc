/*
** data_response.c — building one refId's DataResponse (spec §5.8): frames,
** or an error with an HTTP-like status and an errorSource.
*/
#include <stdio.h>
#include <stdlib.h>

#include "gpx/svc.h"

void gpx_data_response_init(gpx_data_response *r) {
  memset(r, 0, sizeof *r);
  r->status = 200;
}

void gpx_data_response_reset(gpx_data_response *r) {
  for (size_t i = 0; i < r->n_frames; i++) gpx_buf_reset(&r->frames[i]);
  free(r->frames);
  memset(r, 0, sizeof *r);
}

int gpx_data_response_add_frame(gpx_data_response *r, gpx_buf *frame) {
  if (r->n_frames == r->cap_frames) {
    size_t cap = r->cap_frames ? r->cap_frames * 2 : 4;
    gpx_buf *p = realloc(r->frames, cap * sizeof *p);
    if (p == NULL) return ENOMEM;
    r->frames = p;
    r->cap_frames = cap;
  }
  r->frames[r->n_frames++] = *frame;
  memset(frame, 0, sizeof *frame);
  return GPX_OK;
}

void gpx_data_response_error(gpx_data_response *r, int status, const char *source,
                             const char *fmt, ...) {
  for (size_t i = 0; i < r->n_frames; i++) gpx_buf_reset(&r->frames[i]);
  r->n_frames = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  r->status = status;
  r->error_source = source;
}
