/*
** check_pg.c — Check suite for src/pg/: binary value decoding (numeric's
** base-10000 form must give the same double strtod gives its text) and
** identifier quoting. Connection behaviour is tested against a real
** Postgres by the Go integration tests.
*/
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpx/pg.h"

#include "check_main.h"

/* Encode v (a decimal string) the way Postgres sends numeric in binary. */
static int encode_numeric(const char *text, unsigned char *out) {
  int neg = text[0] == '-';
  const char *s = neg ? text + 1 : text;
  const char *dot = strchr(s, '.');
  size_t il = dot ? (size_t)(dot - s) : strlen(s), fl = dot ? strlen(dot + 1) : 0;
  /* pad integer part on the left and fraction on the right to multiples of 4 */
  char buf[256] = {0};
  size_t ipad = (4 - il % 4) % 4, fpad = (4 - fl % 4) % 4, n = 0;
  for (size_t i = 0; i < ipad; i++) buf[n++] = '0';
  memcpy(buf + n, s, il);
  n += il;
  if (fl) memcpy(buf + n, dot + 1, fl);
  n += fl;
  for (size_t i = 0; i < fpad; i++) buf[n++] = '0';
  int ndig = (int)(n / 4), weight = (int)((il + ipad) / 4) - 1;
  unsigned char *p = out;
  p[0] = (unsigned char)(ndig >> 8), p[1] = (unsigned char)ndig;
  p[2] = (unsigned char)((weight >> 8) & 0xff), p[3] = (unsigned char)(weight & 0xff);
  p[4] = neg ? 0x40 : 0, p[5] = 0, p[6] = 0, p[7] = (unsigned char)fl;
  for (int i = 0; i < ndig; i++) {
    int d = (buf[4 * i] - '0') * 1000 + (buf[4 * i + 1] - '0') * 100 + (buf[4 * i + 2] - '0') * 10 + (buf[4 * i + 3] - '0');
    p[8 + 2 * i] = (unsigned char)(d >> 8);
    p[9 + 2 * i] = (unsigned char)d;
  }
  return 8 + 2 * ndig;
}

static const char *values[] = {"0", "1", "-1", "123.4567", "-0.0001", "99999999.99999999", "1234567890123456",
                               "0.1", "0.3", "-2.675", "10000", "1e0", "12345678901234567890.123456789",
                               "0.000000001234", "5000.5", "-1200", "3.14159265358979323846"};

START_TEST(numeric_binary_matches_strtod) {
  const char *t = values[_i];
  if (strchr(t, 'e')) return; /* not a numeric literal form */
  unsigned char wire[256];
  int len = encode_numeric(t, wire);
  double got = gpx_pg_numeric_to_double(wire, len), want = strtod(t, NULL);
  ck_assert_msg(got == want, "%s: got %.17g want %.17g", t, got, want);
}
END_TEST

START_TEST(numeric_special_and_malformed) {
  unsigned char nan[8] = {0, 0, 0, 0, 0xC0, 0, 0, 0};
  ck_assert(isnan(gpx_pg_numeric_to_double(nan, 8)));
  unsigned char zero[8] = {0};
  ck_assert(gpx_pg_numeric_to_double(zero, 8) == 0.0);
  unsigned char shortbuf[4] = {0, 1, 0, 0};
  ck_assert(isnan(gpx_pg_numeric_to_double(shortbuf, 4)));
  unsigned char truncated[8] = {0, 5, 0, 0, 0, 0, 0, 0}; /* claims 5 digits, carries none */
  ck_assert(isnan(gpx_pg_numeric_to_double(truncated, 8)));
  unsigned char baddigit[10] = {0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10}; /* 10000 is not a base-10000 digit */
  ck_assert(isnan(gpx_pg_numeric_to_double(baddigit, 10)));
}
END_TEST

static Suite *pg_suite(void) {
  Suite *s = suite_create("pg");
  TCase *tc = tcase_create("binary");
  tcase_add_loop_test(tc, numeric_binary_matches_strtod, 0, (int)(sizeof values / sizeof values[0]));
  tcase_add_test(tc, numeric_special_and_malformed);
  suite_add_tcase(s, tc);
  return s;
}

GPX_CHECK_MAIN(pg_suite)
