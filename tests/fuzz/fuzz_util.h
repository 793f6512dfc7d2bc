/*
** fuzz_util.h — helpers every fuzz target of tests/fuzz/ shares: a failed
** property check that libFuzzer records as a crash (the input is kept as an
** artifact), a reader that turns the fuzzer's bytes into typed values, and
** a UTF-8 validator. Test-only; header-only so each target stays one file.
*/
#ifndef GPX_FUZZ_UTIL_H
#define GPX_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A property that does not hold is a crash: print why, then abort so
   libFuzzer saves the input (crash-<sha1>) and the stage fails. */
#define FUZZ_CHECK(cond, ...)                                                   \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "\nFUZZ CHECK FAILED at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                             \
      fputc('\n', stderr);                                                      \
      abort();                                                                  \
    }                                                                           \
  } while (0)

/* Typed values from the input, front to back; 0 once it is used up. */
typedef struct fz {
  const uint8_t *p;
  size_t n;
} fz;

static inline uint8_t fz_u8(fz *f) {
  if (f->n == 0) return 0;
  f->n--;
  return *f->p++;
}

static inline uint64_t fz_uint(fz *f, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = v << 8 | fz_u8(f);
  return v;
}

static inline uint16_t fz_u16(fz *f) { return (uint16_t)fz_uint(f, 2); }
static inline uint32_t fz_u32(fz *f) { return (uint32_t)fz_uint(f, 4); }
static inline uint64_t fz_u64(fz *f) { return fz_uint(f, 8); }

/* A value in [lo, hi] (hi >= lo). */
static inline int64_t fz_range(fz *f, int64_t lo, int64_t hi) {
  uint64_t span = (uint64_t)hi - (uint64_t)lo;
  uint64_t v = span < 0xFF ? fz_u8(f) : span < 0xFFFF ? fz_u16(f) : span < 0xFFFFFFFFu ? fz_u32(f) : fz_u64(f);
  if (span != UINT64_MAX) v %= span + 1;
  return (int64_t)((uint64_t)lo + v);
}

/* Any double, NaN/Inf/subnormal included (raw bits). */
static inline double fz_f64_bits(fz *f) {
  uint64_t u = fz_u64(f);
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* Doubles a trading system produces, most of the time; any bits sometimes. */
static inline double fz_f64(fz *f) {
  uint8_t k = fz_u8(f);
  switch (k % 8) {
    case 0: return fz_f64_bits(f);
    case 1: return (double)(int16_t)fz_u16(f);
    case 2: return (double)(int32_t)fz_u32(f) / 100.0;
    case 3: return (double)(int16_t)fz_u16(f) * 1e-6;
    case 4: return (double)(int32_t)fz_u32(f) * 1e3;
    case 5: return 0.0;
    default: return (double)(int16_t)fz_u16(f) / 7.0;
  }
}

/* Up to max bytes (fewer once the input ends); *len the count. */
static inline const uint8_t *fz_bytes(fz *f, size_t max, size_t *len) {
  size_t n = max < f->n ? max : f->n;
  const uint8_t *p = f->p;
  f->p += n;
  f->n -= n;
  *len = n;
  return p;
}

/* Well-formed UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
static inline int fz_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    size_t k;
    unsigned min;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xC2 && c <= 0xDF) k = 1, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) k = 2, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) k = 3, min = 0x10000;
    else return 0;
    if (n - i <= k) return 0;
    unsigned cp = c & (0x3F >> k);
    for (size_t j = 1; j <= k; j++) {
      if ((p[i + j] & 0xC0) != 0x80) return 0;
      cp = cp << 6 | (p[i + j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += k + 1;
  }
  return 1;
}

#endif /* GPX_FUZZ_UTIL_H */
