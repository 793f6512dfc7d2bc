/*
** utf8.c — every string the plugin emits is valid UTF-8.
**
** Grafana's Go protobuf decoder rejects a string field that is not valid
** UTF-8, and then the whole QueryData reply fails, not just one refId. Our
** messages quote user input cut at byte limits, and a database may hand
** over any bytes (SQL_ASCII). So text is cut on character boundaries
** (gpx_utf8_clip), repaired in place where a buffer must not grow ('?' per
** bad byte, gpx_utf8_scrub), or copied with U+FFFD for each bad byte
** (gpx_utf8_append). Validation only: no normalisation, no decoding.
*/
#include "gpx/core.h"

/* Length of the well-formed character at s (at most n bytes), 0 if none.
   RFC 3629: no overlong forms, surrogates or code points past U+10FFFF. */
static size_t gpx__seq(const unsigned char *s, size_t n) {
  unsigned c = s[0], k, cp, min;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) k = 1, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) k = 2, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) k = 3, min = 0x10000;
  else return 0;
  if (n < k + 1) return 0;
  cp = c & (0x3Fu >> k);
  for (unsigned i = 1; i <= k; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return k + 1;
}

size_t gpx_utf8_char(const char *s) {
  if (*s == '\0') return 0;
  /* a continuation byte is never NUL, so the NUL ends a cut character */
  size_t n = 1;
  while (n < 4 && s[n] != '\0') n++;
  return gpx__seq((const unsigned char *)s, n);
}

void gpx_utf8_scrub(char *s) {
  while (*s) {
    size_t k = gpx_utf8_char(s);
    if (k == 0) *s++ = '?';
    else s += k;
  }
}

int gpx_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  /* ASCII, eight bytes at a time: most text values are nothing else */
  for (uint64_t w; i + 8 <= n; i += 8) {
    memcpy(&w, p + i, 8);
    if (w & UINT64_C(0x8080808080808080)) break;
  }
  while (i < n && p[i] < 0x80) i++;
  while (i < n) {
    size_t k = gpx__seq(p + i, n - i);
    if (k == 0) return 0;
    i += k;
  }
  return 1;
}

size_t gpx_utf8_clip(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n <= max) return n;
  /* back up over continuation bytes to the start of the cut character */
  size_t k = max;
  while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
  return k;
}

int gpx_utf8_append(gpx_buf *out, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  GPX_RETURN_NOT_OK(gpx_buf_reserve(out, n));
  for (size_t i = 0; i < n;) {
    size_t k = gpx__seq(p + i, n - i);
    if (k) {
      GPX_RETURN_NOT_OK(gpx_buf_append(out, p + i, k));
      i += k;
    } else {
      GPX_RETURN_NOT_OK(gpx_buf_append(out, "\xEF\xBF\xBD", 3)); /* U+FFFD */
      i++;
    }
  }
  return GPX_OK;
}
