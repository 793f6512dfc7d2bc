/*
** binary.c — decoding Postgres binary result values.
**
** Numbers arrive in whatever type the user's column has: numeric (the
** default schema), float8/float4 or an integer type. Asking Postgres to cast
** numeric to float8 costs a text round trip per value inside the server, so
** we take numeric's binary form (base-10000 digits) and convert here: when
** the digits fit in 53 bits the value is an exact integer divided by an
** exact power of ten, which IEEE division rounds correctly — the same double
** strtod gives; otherwise we build the decimal text and call strtod.
*/
#include <endian.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gpx/pg.h"

/* Type OIDs (pg_type.h): stable across Postgres versions. */
#define GPX_OID_INT8 20
#define GPX_OID_INT2 21
#define GPX_OID_INT4 23
#define GPX_OID_FLOAT4 700
#define GPX_OID_FLOAT8 701
#define GPX_OID_NUMERIC 1700

static uint16_t gpx__u16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

double gpx_pg_numeric_to_double(const unsigned char *p, int len) {
  if (len < 8) return NAN;
  int ndigits = gpx__u16(p);
  int weight = (int16_t)gpx__u16(p + 2);
  int sign = gpx__u16(p + 4);
  if (sign == 0xC000) return NAN; /* NaN */
  if (sign == 0xD000) return INFINITY;
  if (sign == 0xF000) return -INFINITY;
  /* Malformed as Postgres' numeric_recv judges it (a sign or a digit it
     would refuse): NaN on every path, not a number built from it. */
  if (sign != 0x0000 && sign != 0x4000) return NAN;
  if (len < 8 + 2 * ndigits) return NAN;
  if (ndigits == 0) return 0.0;
  /* Fast path: value = mantissa · 10000^(weight − ndigits + 1). */
  uint64_t m = 0;
  int ok = ndigits <= 4; /* 16 decimal digits < 2^53 */
  for (int i = 0; i < ndigits; i++) {
    int d = gpx__u16(p + 8 + 2 * i);
    if (d > 9999) return NAN;
    if (ok) m = m * 10000 + (uint64_t)d;
  }
  int e4 = weight - ndigits + 1; /* power of 10000 */
  if (ok && m < (UINT64_C(1) << 53) && e4 >= -5 && e4 <= 5) {
    static const double p10[] = {1, 1e4, 1e8, 1e12, 1e16, 1e20};
    /* both operands exact (10^20 < 2^53·2^20 is exact too): one rounding */
    double v = e4 >= 0 ? (double)m * p10[e4] : (double)m / p10[-e4];
    return sign == 0x4000 ? -v : v;
  }
  /* Every digit goes into the text: past ~17 significant digits one far
     digit can still decide the rounding of a halfway case. */
  char small[512];
  size_t cap = 4 * (size_t)ndigits + 16;
  char *buf = cap <= sizeof small ? small : malloc(cap);
  if (buf == NULL) return NAN;
  int off = 0;
  if (sign == 0x4000) buf[off++] = '-';
  buf[off++] = '0';
  buf[off++] = '.';
  for (int i = 0; i < ndigits; i++)
    off += snprintf(buf + off, cap - (size_t)off, "%04d", gpx__u16(p + 8 + 2 * i));
  /* 0.dddd… × 10^(4·(weight+1)) */
  snprintf(buf + off, cap - (size_t)off, "e%d", 4 * (weight + 1));
  double v = strtod(buf, NULL);
  if (buf != small) free(buf);
  return v;
}

double gpx_pg_get_number(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col)) return NAN;
  return gpx_pg_number(PQftype(r, col), PQgetvalue(r, row, col), PQgetlength(r, row, col));
}

double gpx_pg_number(unsigned int type, const char *p, int len) {
  if (p == NULL || len < 0) return NAN;
  const unsigned char *v = (const unsigned char *)p;
  uint64_t u;
  uint32_t u32;
  switch (type) {
    case GPX_OID_NUMERIC: return gpx_pg_numeric_to_double(v, len);
    case GPX_OID_FLOAT8: {
      if (len != 8) return NAN;
      memcpy(&u, v, 8);
      u = be64toh(u);
      double d;
      memcpy(&d, &u, 8);
      return d;
    }
    case GPX_OID_FLOAT4: {
      if (len != 4) return NAN;
      memcpy(&u32, v, 4);
      u32 = be32toh(u32);
      float f;
      memcpy(&f, &u32, 4);
      return (double)f;
    }
    case GPX_OID_INT8:
      if (len != 8) return NAN;
      memcpy(&u, v, 8);
      return (double)(int64_t)be64toh(u);
    case GPX_OID_INT4:
      if (len != 4) return NAN;
      memcpy(&u32, v, 4);
      return (double)(int32_t)be32toh(u32);
    case GPX_OID_INT2: return len == 2 ? (double)(int16_t)gpx__u16(v) : NAN;
    default: return NAN;
  }
}
