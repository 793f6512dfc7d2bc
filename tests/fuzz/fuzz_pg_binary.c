/*
** fuzz_pg_binary.c — Postgres binary value decoders (src/pg/binary.c,
** src/pg/pool.c) and the statement row readers of src/query/rows.c, checked
** against a reference written here from Postgres' wire format.
**
** The first input byte picks a mode (the rest is its input):
**  'D'  a decimal string (non-digits dropped; '-' first, one '.'): it is
**       encoded the way Postgres' numeric_send does (base-10000 digits,
**       weight, sign, dscale; zero groups stripped) and the decoder must
**       give exactly strtod() of the string — the header's promise;
**  'W'  arbitrary numeric wire bytes: the decoder must agree bit for bit
**       with a plain reference (malformed: short, invalid sign or a digit
**       >= 10000, as numeric_recv rejects them → NaN; NaN/±Infinity;
**       otherwise strtod of all the digits), and decode the same way twice;
**  'R'  a result row built with libpq's PQmakeEmptyPGresult/PQsetvalue:
**       typed columns (int2/4/8, float4/8, numeric, timestamptz, others,
**       NULLs, wrong lengths) read through gpx_pg_get_number & co. and the
**       statement readers gpx_stmt_num/_i64/_text/_isnull/_group.
** Any other first byte picks one of the three by its value.
*/
#include <endian.h>
#include <math.h>

#include "fuzz/fuzz_util.h"
#include "query/query_int.h"

#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_TIMESTAMPTZ 1184
#define OID_NUMERIC 1700

static int same(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  return a == b && signbit(a) == signbit(b);
}

/* ---- reference numeric decoder (Postgres numeric_recv's checks + strtod) ---- */

static unsigned u16be(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

static double ref_numeric(const uint8_t *p, int len) {
  if (len < 8) return NAN;
  unsigned ndigits = u16be(p), sign = u16be(p + 4);
  int weight = (int16_t)u16be(p + 2);
  if (sign == 0xC000) return NAN;
  if (sign == 0xD000) return INFINITY;
  if (sign == 0xF000) return -INFINITY;
  if (sign != 0x0000 && sign != 0x4000) return NAN; /* "invalid sign in external numeric value" */
  if ((size_t)len < 8 + 2 * (size_t)ndigits) return NAN;
  for (unsigned i = 0; i < ndigits; i++)
    if (u16be(p + 8 + 2 * i) > 9999) return NAN; /* "invalid digit in external numeric value" */
  if (ndigits == 0) return 0.0;
  /* -0.<all digits>e<4·(weight+1)>, every digit kept */
  char *s = malloc(4 * (size_t)ndigits + 32), *w = s;
  FUZZ_CHECK(s != NULL, "out of memory");
  if (sign == 0x4000) *w++ = '-';
  *w++ = '0';
  *w++ = '.';
  for (unsigned i = 0; i < ndigits; i++) w += sprintf(w, "%04u", u16be(p + 8 + 2 * i));
  sprintf(w, "e%d", 4 * (weight + 1));
  double v = strtod(s, NULL);
  free(s);
  return v;
}

/* ---- decimal text → numeric wire form (numeric_send) ------------------------ */

/* Returns the wire length; *text the canonical decimal string for strtod. */
static size_t encode_decimal(const uint8_t *in, size_t n, uint8_t **wire, char **text) {
  char *ip = malloc(n + 8), *fp = malloc(n + 8);
  FUZZ_CHECK(ip && fp, "out of memory");
  size_t il = 0, fl = 0;
  int neg = 0, dot = 0;
  for (size_t i = 0; i < n; i++) {
    char c = (char)in[i];
    if (c == '-' && i == 0) neg = 1;
    else if (c == '.' && !dot) dot = 1;
    else if (c >= '0' && c <= '9') {
      if (dot) fp[fl++] = c;
      else ip[il++] = c;
    }
  }
  size_t lead = 0;
  while (lead < il && ip[lead] == '0') lead++;
  *text = malloc(il + fl + 8);
  FUZZ_CHECK(*text != NULL, "out of memory");
  snprintf(*text, il + fl + 8, "%s%.*s.%.*s0", neg ? "-" : "", (int)(il - lead), ip + lead, (int)fl, fp);
  /* groups of 4 decimal digits: integer part padded left, fraction right */
  size_t ipad = (4 - (il - lead) % 4) % 4, fpad = (4 - fl % 4) % 4;
  size_t nd = (il - lead + ipad + fl + fpad) / 4;
  char *dig = malloc(4 * nd + 1);
  FUZZ_CHECK(dig != NULL, "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < ipad; i++) dig[k++] = '0';
  memcpy(dig + k, ip + lead, il - lead);
  k += il - lead;
  memcpy(dig + k, fp, fl);
  k += fl;
  for (size_t i = 0; i < fpad; i++) dig[k++] = '0';
  int weight = (int)((il - lead + ipad) / 4) - 1;
  size_t first = 0, last = nd;
  while (first < nd && memcmp(dig + 4 * first, "0000", 4) == 0) first++, weight--;
  while (last > first && memcmp(dig + 4 * (last - 1), "0000", 4) == 0) last--;
  size_t ndig = last - first;
  int sign = neg ? 0x4000 : 0;
  if (ndig == 0) weight = 0, sign = 0; /* zero is positive in numeric */
  *wire = malloc(8 + 2 * ndig);
  FUZZ_CHECK(*wire != NULL, "out of memory");
  uint8_t *p = *wire;
  size_t dscale = fl > 16383 ? 16383 : fl;
  p[0] = (uint8_t)(ndig >> 8), p[1] = (uint8_t)ndig;
  p[2] = (uint8_t)((unsigned)weight >> 8), p[3] = (uint8_t)weight;
  p[4] = (uint8_t)(sign >> 8), p[5] = 0;
  p[6] = (uint8_t)(dscale >> 8), p[7] = (uint8_t)dscale;
  for (size_t i = 0; i < ndig; i++) {
    const char *g = dig + 4 * (first + i);
    unsigned d = (unsigned)((g[0] - '0') * 1000 + (g[1] - '0') * 100 + (g[2] - '0') * 10 + (g[3] - '0'));
    p[8 + 2 * i] = (uint8_t)(d >> 8);
    p[9 + 2 * i] = (uint8_t)d;
  }
  free(ip);
  free(fp);
  free(dig);
  return 8 + 2 * ndig;
}

/* A one-row result with these column types and values (len < 0: NULL). */
static PGresult *make_row(int n, const Oid *types, const uint8_t *const *vals, const int *lens) {
  PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  FUZZ_CHECK(r != NULL, "out of memory");
  PGresAttDesc att[32];
  char names[32][8];
  for (int c = 0; c < n; c++) {
    snprintf(names[c], sizeof names[c], "c%d", c);
    att[c] = (PGresAttDesc){.name = names[c], .format = 1, .typid = types[c], .typlen = -1, .atttypmod = -1};
  }
  FUZZ_CHECK(PQsetResultAttrs(r, n, att), "PQsetResultAttrs");
  for (int c = 0; c < n; c++) FUZZ_CHECK(PQsetvalue(r, 0, c, (char *)vals[c], lens[c]), "PQsetvalue");
  return r;
}

static double ref_number(Oid t, const uint8_t *v, int len) {
  if (len < 0) return NAN;
  uint64_t u = 0;
  for (int i = 0; i < len && i < 8; i++) u = u << 8 | v[i];
  switch (t) {
    case OID_NUMERIC: return ref_numeric(v, len);
    case OID_FLOAT8: {
      if (len != 8) return NAN;
      double d;
      memcpy(&d, &u, 8);
      return d;
    }
    case OID_FLOAT4: {
      if (len != 4) return NAN;
      uint32_t u32 = (uint32_t)u;
      float f;
      memcpy(&f, &u32, 4);
      return f;
    }
    case OID_INT8: return len == 8 ? (double)(int64_t)u : NAN;
    case OID_INT4: return len == 4 ? (double)(int32_t)(uint32_t)u : NAN;
    case OID_INT2: return len == 2 ? (double)(int16_t)(uint16_t)u : NAN;
    default: return NAN;
  }
}

static void mode_decimal(const uint8_t *in, size_t n) {
  uint8_t *wire;
  char *text;
  size_t wl = encode_decimal(in, n, &wire, &text);
  double want = strtod(text, NULL), got = gpx_pg_numeric_to_double(wire, (int)wl);
  FUZZ_CHECK(got == want, "numeric %s: got %.17g, strtod gives %.17g", text, got, want);
  const uint8_t *vals[1] = {wire};
  int lens[1] = {(int)wl};
  Oid t[1] = {OID_NUMERIC};
  PGresult *r = make_row(1, t, vals, lens);
  FUZZ_CHECK(gpx_pg_get_number(r, 0, 0) == want, "gpx_pg_get_number(numeric %s)", text);
  PQclear(r);
  free(wire);
  free(text);
}

static void mode_wire(const uint8_t *in, size_t n) {
  double got = gpx_pg_numeric_to_double(in, (int)n), again = gpx_pg_numeric_to_double(in, (int)n);
  double want = ref_numeric(in, (int)n);
  FUZZ_CHECK(memcmp(&got, &again, sizeof got) == 0, "not deterministic");
  if (n >= 8) {
    unsigned ndigits = u16be(in);
    FUZZ_CHECK(same(got, want), "numeric wire (ndigits %u, weight %d, sign %04x, %zu bytes): got %.17g, want %.17g",
               ndigits, (int16_t)u16be(in + 2), u16be(in + 4), n, got, want);
  } else {
    FUZZ_CHECK(isnan(got), "%zu bytes decoded to %g", n, got);
  }
}

/* Statements whose readers are checked, and their column counts. */
static const gpx_stmt_def *const defs[] = {&gpx_stmt_base, &gpx_stmt_buckets, &gpx_stmt_trade_stream,
                                           &gpx_stmt_daily, &gpx_stmt_slippage, &gpx_stmt_trades};

static Oid oid_for(gpx_dec d) {
  switch (d) {
    case GPX_DEC_TIME: return OID_TIMESTAMPTZ;
    case GPX_DEC_TEXT: return OID_TEXT;
    case GPX_DEC_NUMBER: return OID_NUMERIC;
    case GPX_DEC_F8: return OID_FLOAT8;
    case GPX_DEC_I8: return OID_INT8;
    default: return OID_INT4;
  }
}

static int len_for(Oid t) {
  switch (t) {
    case OID_INT8: case OID_FLOAT8: case OID_TIMESTAMPTZ: return 8;
    case OID_INT4: case OID_FLOAT4: return 4;
    case OID_INT2: return 2;
    default: return -2; /* variable */
  }
}

static void mode_result(const uint8_t *in, size_t n) {
  fz f = {in, n};
  const gpx_stmt_def *def = defs[fz_u8(&f) % (sizeof defs / sizeof defs[0])];
  gpx_stmt st = {.def = def, .first = fz_u8(&f) & 1};
  int nc = st.first + def->ncols;
  Oid types[32];
  const uint8_t *vals[32];
  int lens[32];
  static const Oid any[] = {OID_INT8, OID_INT2, OID_INT4, OID_TEXT, OID_FLOAT4, OID_FLOAT8, OID_TIMESTAMPTZ,
                            OID_NUMERIC, 16, 1082};
  for (int c = 0; c < nc; c++) {
    uint8_t how = fz_u8(&f);
    gpx_dec dec = c < st.first ? GPX_DEC_TEXT : def->cols[c - st.first].dec;
    types[c] = (how & 3) ? oid_for(dec) : any[(how >> 2) % (sizeof any / sizeof any[0])];
    int want = len_for(types[c]);
    size_t got;
    if ((how & 0x70) == 0x70) {
      vals[c] = NULL, lens[c] = -1; /* NULL */
      continue;
    }
    size_t len = want > 0 && (how & 0x80) == 0 ? (size_t)want : fz_range(&f, 0, 24);
    vals[c] = fz_bytes(&f, len, &got);
    lens[c] = (int)got;
  }
  PGresult *r = make_row(nc, types, vals, lens);
  for (int c = 0; c < nc; c++) {
    int len = PQgetisnull(r, 0, c) ? -1 : PQgetlength(r, 0, c);
    FUZZ_CHECK(len == lens[c], "libpq kept length %d of %d", len, lens[c]);
    double num = gpx_pg_get_number(r, 0, c);
    FUZZ_CHECK(same(num, ref_number(types[c], vals[c], len)), "gpx_pg_get_number(type %u, %d bytes) = %.17g",
               types[c], len, num);
    if (len == 8) { /* the raw readers' precondition */
      uint64_t u;
      memcpy(&u, vals[c], 8);
      u = be64toh(u);
      FUZZ_CHECK(gpx_pg_get_int8(r, 0, c) == (int64_t)u, "int8");
      double d = gpx_pg_get_float8(r, 0, c);
      FUZZ_CHECK(memcmp(&d, &u, 8) == 0, "float8");
      /* timestamptz: µs since 2000-01-01 → ns since 1970, saturated at int64's ends */
      int64_t ns = gpx_pg_get_timestamptz_ns(r, 0, c), want;
      if (__builtin_add_overflow((int64_t)u, INT64_C(946684800000000), &want) ||
          __builtin_mul_overflow(want, 1000, &want))
        want = (int64_t)u < 0 ? INT64_MIN : INT64_MAX;
      FUZZ_CHECK(ns == want, "timestamptz %lld µs → %lld ns, want %lld", (long long)(int64_t)u, (long long)ns,
                 (long long)want);
    }
    if (c < st.first) continue;
    int k = c - st.first;
    int isnull = gpx_stmt_isnull(&st, r, 0, k);
    FUZZ_CHECK(isnull == (len < 0), "isnull");
    double v = gpx_stmt_num(&st, r, 0, k);
    int64_t i = gpx_stmt_i64(&st, r, 0, k);
    size_t tl = 99;
    const char *t = gpx_stmt_text(&st, r, 0, k, &tl);
    if (isnull) {
      FUZZ_CHECK(isnan(v) && i == 0 && t == NULL && tl == 0, "NULL column %d read as a value", k);
    } else {
      FUZZ_CHECK(t != NULL && tl == (size_t)len && (len == 0 || memcmp(t, vals[c], (size_t)len) == 0), "text");
      if (def->cols[k].dec == GPX_DEC_NUMBER) FUZZ_CHECK(same(v, num), "number column");
    }
  }
  const char *g = gpx_stmt_group(&st, r, 0);
  if (st.first == 0) FUZZ_CHECK(g == NULL, "group without a group column");
  else FUZZ_CHECK(g != NULL, "no group name");
  PQclear(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 16384) return 0;
  int mode = data[0] == 'D' ? 0 : data[0] == 'W' ? 1 : data[0] == 'R' ? 2 : data[0] % 3;
  if (mode == 0) mode_decimal(data + 1, size - 1);
  else if (mode == 1) mode_wire(data + 1, size - 1);
  else mode_result(data + 1, size - 1);
  return 0;
}
