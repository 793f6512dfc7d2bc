/*
** check_core.c — Check suite for src/core/: error messages, the byte
** buffer and the hclog line format.
*/
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpx/core.h"
#include "gpx/log.h"

#include "check_main.h"

/* gpx_par_run: every item once, in its own slot, with `threads` of them
   running at once — each item waits (bounded) until that many have started,
   which only happens when they overlap. */
typedef struct par_probe {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int running, peak, want;
  int done[64];
} par_probe;

static void par_item(void *arg, size_t i) {
  par_probe *p = arg;
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 5;
  pthread_mutex_lock(&p->mu);
  p->running++;
  if (p->running > p->peak) p->peak = p->running;
  pthread_cond_broadcast(&p->cv);
  while (p->peak < p->want && pthread_cond_timedwait(&p->cv, &p->mu, &dl) == 0) {}
  p->done[i]++;
  p->running--;
  pthread_mutex_unlock(&p->mu);
}

START_TEST(par_run_overlaps_and_keeps_slots) {
  static const int threads[] = {1, 3, 8};
  for (size_t t = 0; t < 3; t++) {
    par_probe p = {.want = threads[t]};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    ck_assert_int_eq(gpx_par_run(20, threads[t], par_item, &p), threads[t]);
    ck_assert_int_eq(p.peak, threads[t]); /* never more, and that many at once */
    for (int i = 0; i < 20; i++) ck_assert_int_eq(p.done[i], 1);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
  }
  /* never more threads than items; none at all is fine */
  par_probe p = {.want = 2};
  pthread_mutex_init(&p.mu, NULL);
  pthread_cond_init(&p.cv, NULL);
  ck_assert_int_eq(gpx_par_run(2, 16, par_item, &p), 2);
  ck_assert_int_eq(gpx_par_run(0, 4, par_item, &p), 1);
  ck_assert_int_eq(p.done[0] + p.done[1], 2);
  pthread_mutex_destroy(&p.mu);
  pthread_cond_destroy(&p.cv);
}
END_TEST

START_TEST(error_set_and_prefix) {
  gpx_error e;
  ck_assert_int_eq(gpx_error_set(&e, EINVAL, "port: %d is out of range", 70000), EINVAL);
  ck_assert_str_eq(e.msg, "port: 70000 is out of range");
  ck_assert_int_eq(gpx_error_prefix(&e, EINVAL, "jsonData"), EINVAL);
  ck_assert_str_eq(e.msg, "jsonData: port: 70000 is out of range");
  ck_assert_int_eq(gpx_error_set(NULL, ENOMEM, "ignored"), ENOMEM);
  char big[2000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  gpx_error_set(&e, EINVAL, "%s", big);
  ck_assert_uint_eq(strlen(e.msg), GPX_ERROR_MSG_SIZE - 1);
  gpx_error_prefix(&e, EINVAL, "%s", big); /* truncated, never overflowed */
  ck_assert_uint_lt(strlen(e.msg), GPX_ERROR_MSG_SIZE);
}
END_TEST

START_TEST(utf8_chars_and_scrub) {
  ck_assert_uint_eq(gpx_utf8_char("a"), 1);
  ck_assert_uint_eq(gpx_utf8_char(""), 0);
  ck_assert_uint_eq(gpx_utf8_char("\xc3\xa9"), 2);         /* é */
  ck_assert_uint_eq(gpx_utf8_char("\xe2\x82\xac"), 3);     /* € */
  ck_assert_uint_eq(gpx_utf8_char("\xf0\x9f\x98\x80"), 4); /* 😀 */
  ck_assert_uint_eq(gpx_utf8_char("\xc3"), 0);             /* cut */
  ck_assert_uint_eq(gpx_utf8_char("\xc0\xaf"), 0);         /* overlong */
  ck_assert_uint_eq(gpx_utf8_char("\xed\xa0\x80"), 0);     /* surrogate */
  ck_assert_uint_eq(gpx_utf8_char("\xf4\x90\x80\x80"), 0); /* past U+10FFFF */
  char s[] = "ok \xc3\xa9 \xff cut:\xe2\x82";
  gpx_utf8_scrub(s);
  ck_assert_str_eq(s, "ok \xc3\xa9 ? cut:??");
  /* a message quoting input cut inside a character stays UTF-8 */
  gpx_error e;
  gpx_error_set(&e, EINVAL, "x: \"%.4s\"", "ab\xc3\xa9");
  ck_assert_str_eq(e.msg, "x: \"ab\xc3\xa9\"");
  gpx_error_set(&e, EINVAL, "x: \"%.3s\"", "ab\xc3\xa9");
  ck_assert_str_eq(e.msg, "x: \"ab?\"");
}
END_TEST

START_TEST(buf_grows_and_releases) {
  gpx_buf b;
  gpx_buf_init(&b);
  gpx_buf_reset(&b); /* safe on an empty buffer */
  for (int i = 0; i < 10000; i++) ck_assert_int_eq(gpx_buf_append(&b, "abc", 3), GPX_OK);
  ck_assert_uint_eq(b.len, 30000);
  ck_assert_int_eq(memcmp(b.data + 29997, "abc", 3), 0);
  ck_assert_int_eq(gpx_buf_printf(&b, "%d-%s", 42, "z"), GPX_OK);
  ck_assert_int_eq(gpx_buf_terminate(&b), GPX_OK);
  ck_assert_str_eq((char *)b.data + 30000, "42-z");
  ck_assert_int_eq(gpx_buf_append_zeros(&b, 5), GPX_OK);
  ck_assert_uint_eq(b.len, 30009);
  size_t n = 0;
  uint8_t *p = gpx_buf_release(&b, &n);
  ck_assert_uint_eq(n, 30009);
  ck_assert_ptr_null(b.data);
  ck_assert_uint_eq(b.len, 0);
  free(p);
  ck_assert_int_eq(gpx_buf_reserve(&b, SIZE_MAX), ENOMEM);
  gpx_buf_reset(&b);
}
END_TEST

START_TEST(log_line_is_hclog_json) {
  json_t *f = json_pack("{s:s, s:i}", "refId", "A", "rows", 42);
  char *line = gpx_log_format(GPX_LOG_WARN, "query \"slow\"\n", f);
  ck_assert_ptr_nonnull(line);
  ck_assert_ptr_null(strchr(line, '\n')); /* one line, newline escaped */
  json_error_t je;
  json_t *o = json_loads(line, 0, &je);
  ck_assert_ptr_nonnull(o);
  ck_assert_str_eq(json_string_value(json_object_get(o, "@level")), "warn");
  ck_assert_str_eq(json_string_value(json_object_get(o, "@message")), "query \"slow\"\n");
  ck_assert_str_eq(json_string_value(json_object_get(o, "refId")), "A");
  const char *ts = json_string_value(json_object_get(o, "@timestamp"));
  /* 2006-01-02T15:04:05.000000Z: exactly six fractional digits and Z */
  ck_assert_uint_eq(strlen(ts), 27);
  ck_assert_int_eq(ts[19], '.');
  ck_assert_int_eq(ts[26], 'Z');
  json_decref(o);
  free(line);
  /* invalid UTF-8 in a message never loses the line */
  line = gpx_log_format(GPX_LOG_INFO, "bad \xff\xfe", NULL);
  ck_assert_ptr_nonnull(line);
  o = json_loads(line, 0, &je);
  ck_assert_ptr_nonnull(o);
  json_decref(o);
  free(line);
}
END_TEST

START_TEST(log_levels_and_filtering) {
  ck_assert_int_eq(gpx_log_level_parse("DEBUG"), GPX_LOG_DEBUG);
  ck_assert_int_eq(gpx_log_level_parse("warning"), GPX_LOG_WARN);
  ck_assert_int_eq(gpx_log_level_parse("loud"), -1);
  ck_assert_int_eq(gpx_log_level_parse(NULL), -1);
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  gpx_log_set_fd(fds[1]);
  gpx_log_set_level(GPX_LOG_WARN);
  gpx_log(GPX_LOG_INFO, "hidden", json_pack("{s:s}", "k", "v")); /* fields freed even when filtered */
  gpx_logf(GPX_LOG_ERROR, "shown %d", 7);
  close(fds[1]);
  char buf[1024] = {0};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  gpx_log_set_fd(2);
  gpx_log_set_level(GPX_LOG_INFO);
  ck_assert_int_gt(n, 0);
  ck_assert_ptr_null(strstr(buf, "hidden"));
  ck_assert_ptr_nonnull(strstr(buf, "\"shown 7\""));
  ck_assert_int_eq(buf[n - 1], '\n');
}
END_TEST

static Suite *core_suite(void) {
  Suite *s = suite_create("core");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, error_set_and_prefix);
  tcase_add_test(tc, par_run_overlaps_and_keeps_slots);
  tcase_add_test(tc, utf8_chars_and_scrub);
  tcase_add_test(tc, buf_grows_and_releases);
  tcase_add_test(tc, log_line_is_hclog_json);
  tcase_add_test(tc, log_levels_and_filtering);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(core_suite)
