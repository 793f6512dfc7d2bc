/*
** fake_setup.h — the fake Postgres servers of check_pg and check_pg_copy
** answer the session setup every connection sends after the startup
** (src/pg/connect.c: SET TimeZone, SET DateStyle, then the
** statement_timeout in force) as Postgres does: the statement_timeout is
** the one the startup packet's `options` carried. Also the pieces both
** fake servers are made of: a loopback listener, full reads, big-endian
** integers, protocol messages, the wall clock of caller deadlines.
*/
#ifndef GPX_TESTS_FAKE_SETUP_H
#define GPX_TESTS_FAKE_SETUP_H

#include <arpa/inet.h>
#include <check.h>
#include <endian.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The statement_timeout value in the startup packet pkt (n bytes), "0" if none. */
static inline void fake_setup_timeout(const unsigned char *pkt, size_t n, char *out, size_t cap) {
  snprintf(out, cap, "0");
  const char *key = "statement_timeout=";
  for (size_t i = 0; i + strlen(key) < n; i++) {
    if (memcmp(pkt + i, key, strlen(key)) != 0) continue;
    size_t j = i + strlen(key), k = 0;
    while (j < n && pkt[j] >= '0' && pkt[j] <= '9' && k + 1 < cap) out[k++] = (char)pkt[j++];
    out[k] = '\0';
    return;
  }
}

/* CLOCK_REALTIME in ms: the clock of a caller's deadline (gpx_pg_acquire). */
static inline int64_t fake_real_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A TCP listener on 127.0.0.1 (an ephemeral port, into *port). Never
   accepted, it is a frozen server: the kernel completes the handshake
   into the backlog and nothing answers. */
static inline int fake_listener(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(fd, 64), 0);
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  *port = ntohs(a.sin_port);
  return fd;
}

/* Read exactly n bytes; -1 at EOF or on an error. */
static inline int fake_read_full(int fd, void *buf, size_t n) {
  for (size_t got = 0; got < n;) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static inline uint32_t fake_get32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A protocol message: type, int32 length (itself included), body. */
static inline size_t fake_setup_msg(unsigned char *out, char type, const void *body, uint32_t n) {
  out[0] = (unsigned char)type;
  uint32_t be = htobe32(n + 4);
  memcpy(out + 1, &be, 4);
  if (n) memcpy(out + 5, body, n);
  return 5 + n;
}

/* RowDescription (one text column "setting") and one DataRow of value into
   out (at least 64 + strlen(value) bytes); returns the bytes written. */
static inline size_t fake_setup_row(unsigned char *out, const char *value) {
  unsigned char f[64], d[64];
  size_t n = 0, fl = 0, dl = 0;
  f[fl++] = 0, f[fl++] = 1;
  memcpy(f + fl, "setting", 8), fl += 8;
  static const unsigned char attrs[18] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0};
  memcpy(f + fl, attrs, sizeof attrs), fl += sizeof attrs;
  n += fake_setup_msg(out + n, 'T', f, (uint32_t)fl);
  uint32_t vl = (uint32_t)strlen(value), bvl = htobe32(vl);
  d[dl++] = 0, d[dl++] = 1;
  memcpy(d + dl, &bvl, 4), dl += 4;
  memcpy(d + dl, value, vl), dl += vl;
  n += fake_setup_msg(out + n, 'D', d, (uint32_t)dl);
  return n;
}

/* Read the setup Query on fd and answer it; 0 when done. */
static inline int fake_setup_answer(int fd, const char *timeout_ms) {
  unsigned char h[5], body[1024];
  size_t got = 0;
  while (got < 5) {
    ssize_t r = read(fd, h + got, 5 - got);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
  if (h[0] != 'Q' || len < 4 || len - 4 > sizeof body) return -1;
  for (got = 0; got < len - 4;) {
    ssize_t r = read(fd, body + got, len - 4 - got);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  unsigned char out[512];
  size_t n = 0;
  n += fake_setup_msg(out + n, 'C', "SET", 4);
  n += fake_setup_msg(out + n, 'C', "SET", 4);
  n += fake_setup_row(out + n, timeout_ms);
  n += fake_setup_msg(out + n, 'C', "SELECT 1", 9);
  n += fake_setup_msg(out + n, 'Z', "I", 1);
  return write(fd, out, n) == (ssize_t)n ? 0 : -1;
}

#endif /* GPX_TESTS_FAKE_SETUP_H */
