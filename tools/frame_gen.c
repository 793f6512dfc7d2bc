/*
** frame_gen — write test frames as Arrow IPC files for the Go SDK checks.
**
**   frame_gen golden <outdir>                 every named case → <outdir>/<case>.arrow
**   frame_gen random <seed0> <count> <outdir> seeds seed0.. → rand-<seed>.arrow + .json
**   frame_gen case <name> <seed> <file>       one case to one file
**
** The .json next to a random frame is the generator's own record of the
** values it appended (gpx_testframe_build_described), never derived from the
** Arrow bytes. Exit status 0 on success, 1 on any failure (message on stderr).
*/
#include <stdio.h>
#include <stdlib.h>

#include "gpx/frame.h"

static const char *const GOLDEN[] = {"all_types", "all_types_nulls", "nullable_no_nulls",
                                     "empty",     "zero_rows",       "unicode",
                                     "labels_config", "nan_to_null", "split3", "big_1m"};

static int write_file(const char *path, const void *p, size_t n) {
  FILE *fp = fopen(path, "wb");
  if (fp == NULL) {
    perror(path);
    return 1;
  }
  int bad = fwrite(p, 1, n, fp) != n;
  bad |= fclose(fp) != 0;
  if (bad) perror(path);
  return bad;
}

static int one(const char *name, uint64_t seed, const char *arrow_path, const char *json_path) {
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_buf out;
  gpx_buf_init(&out);
  gpx_error err = {{0}};
  json_t *desc = NULL;
  int rc = gpx_testframe_build_described(name, seed, &f, json_path ? &desc : NULL, &err);
  if (!rc) rc = gpx_frame_encode(&f, &out, &err);
  if (rc) {
    fprintf(stderr, "frame_gen: %s/%llu: %s\n", name, (unsigned long long)seed, err.msg);
  } else {
    rc = write_file(arrow_path, out.data, out.len);
    if (!rc && json_path && desc && json_dump_file(desc, json_path, JSON_COMPACT)) {
      fprintf(stderr, "frame_gen: cannot write %s\n", json_path);
      rc = 1;
    }
  }
  json_decref(desc);
  gpx_buf_reset(&out);
  gpx_frame_reset(&f);
  return rc ? 1 : 0;
}

int main(int argc, char **argv) {
  char a[4096], j[4096];
  if (argc == 3 && !strcmp(argv[1], "golden")) {
    for (size_t i = 0; i < sizeof GOLDEN / sizeof GOLDEN[0]; i++) {
      snprintf(a, sizeof a, "%s/%s.arrow", argv[2], GOLDEN[i]);
      if (one(GOLDEN[i], 0, a, NULL)) return 1;
    }
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "random")) {
    uint64_t s0 = strtoull(argv[2], NULL, 10);
    long n = strtol(argv[3], NULL, 10);
    for (long i = 0; i < n; i++) {
      uint64_t s = s0 + (uint64_t)i;
      snprintf(a, sizeof a, "%s/rand-%llu.arrow", argv[4], (unsigned long long)s);
      snprintf(j, sizeof j, "%s/rand-%llu.json", argv[4], (unsigned long long)s);
      if (one("random", s, a, j)) return 1;
    }
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "case"))
    return one(argv[2], strtoull(argv[3], NULL, 10), argv[4], NULL);
  fprintf(stderr,
          "usage: frame_gen golden <outdir>\n"
          "       frame_gen random <seed0> <count> <outdir>\n"
          "       frame_gen case <name> <seed> <file>\n");
  return 2;
}
