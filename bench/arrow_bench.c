/*
** arrow_bench — Arrow encoder throughput against memcpy of the same bytes.
**
** For 1M, 2M, 5M and 10M rows of a (time, float64) frame, measure in the
** same process: a plain memcpy of the two columns (16 bytes/row) into a
** destination buffer, and gpx_frame_encode of the frame. Each is timed
** "warm" (destination reused, pages already faulted in — the steady state
** of a server that reuses its output buffer) and "cold" (fresh allocation
** each time, page faults included). Best of R runs. Time per row of the
** warm encode shows whether growth is linear.
**
** Usage: arrow_bench [runs]   (default 7). Prints a table and one verdict
** line "arrow-bench: ratio >= 0.50 at every size: yes|no".
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpx/frame.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keep the compiler from discarding copies nobody reads. */
static volatile uint8_t sink;

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 7;
  if (runs < 1) runs = 1;
  static const size_t sizes[] = {1000000, 2000000, 5000000, 10000000};
  printf("%-10s %8s %12s %12s %6s %10s %12s %12s %7s\n", "rows", "MB", "memcpy GB/s",
         "encode GB/s", "ratio", "ns/row", "cold memcpy", "cold encode", "batches");
  int all_ok = 1;
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
    size_t n = sizes[si];
    gpx_frame f;
    gpx_frame_init(&f);
    gpx_error err = {{0}};
    gpx_field *t = gpx_frame_add_field(&f, "time", GPX_FIELD_TIME, 0, &err);
    gpx_field *v = gpx_frame_add_field(&f, "value", GPX_FIELD_FLOAT64, 0, &err);
    int64_t *ts = malloc(n * sizeof *ts);
    double *vs = malloc(n * sizeof *vs);
    if (!t || !v || !ts || !vs) {
      fprintf(stderr, "arrow_bench: setup failed\n");
      return 1;
    }
    for (size_t i = 0; i < n; i++) {
      ts[i] = 1700000000000000000LL + (int64_t)i * 1000000000LL;
      vs[i] = 100000.0 + (double)(i % 977) * 0.5;
    }
    if (gpx_field_append_i64s(t, ts, n, &err) || gpx_field_append_f64s(v, vs, n, &err)) {
      fprintf(stderr, "arrow_bench: %s\n", err.msg);
      return 1;
    }
    free(ts);
    free(vs);
    size_t bytes = n * 16;

    /* Warm destinations: touched once before timing. */
    uint8_t *dst = malloc(bytes);
    if (dst == NULL) return 1;
    memset(dst, 1, bytes);
    gpx_buf out;
    gpx_buf_init(&out);
    size_t nb = 0;
    if (gpx_frame_encode_ex(&f, &out, &nb, &err)) {
      fprintf(stderr, "arrow_bench: %s\n", err.msg);
      return 1;
    }
    double best_mc = 1e9, best_mc_cold = 1e9, best_enc = 1e9, best_enc_cold = 1e9;
    /* Interleave the four measurements so machine load hits them alike. */
    for (int r = 0; r < runs; r++) {
      double a = now();
      memcpy(dst, t->values.data, n * 8);
      memcpy(dst + n * 8, v->values.data, n * 8);
      double b = now();
      sink = dst[bytes - 1];
      if (b - a < best_mc) best_mc = b - a;

      out.len = 0;
      a = now();
      int rc = gpx_frame_encode(&f, &out, &err);
      b = now();
      if (rc) return 1;
      sink = out.data[out.len - 1];
      if (b - a < best_enc) best_enc = b - a;

      a = now();
      uint8_t *d = malloc(bytes);
      if (d == NULL) return 1;
      memcpy(d, t->values.data, n * 8);
      memcpy(d + n * 8, v->values.data, n * 8);
      b = now();
      sink = d[bytes - 1];
      free(d);
      if (b - a < best_mc_cold) best_mc_cold = b - a;

      gpx_buf o;
      gpx_buf_init(&o);
      a = now();
      rc = gpx_frame_encode(&f, &o, &err);
      b = now();
      if (rc) return 1;
      sink = o.data[o.len - 1];
      gpx_buf_reset(&o);
      if (b - a < best_enc_cold) best_enc_cold = b - a;
    }
    free(dst);
    gpx_buf_reset(&out);
    double gb = (double)bytes / 1e9;
    double ratio = best_mc / best_enc;
    if (ratio < 0.5) all_ok = 0;
    printf("%-10zu %8.0f %12.2f %12.2f %6.2f %10.3f %12.2f %12.2f %7zu\n", n,
           (double)bytes / 1e6, gb / best_mc, gb / best_enc, ratio, best_enc * 1e9 / (double)n,
           gb / best_mc_cold, gb / best_enc_cold, nb);
    fflush(stdout);
    gpx_frame_reset(&f);
  }
  printf("arrow-bench: ratio >= 0.50 at every size: %s\n", all_ok ? "yes" : "no");
  return 0;
}
