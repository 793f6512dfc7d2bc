/*
** utf8.c — every string the plugin emits is valid UTF-8.
**
** Grafana's Go protobuf decoder rejects a string field that is not valid
** UTF-8, and then the whole QueryData reply fails, not just one refId. So
** text is cut only on character boundaries, and bytes that are not UTF-8
** (a SQL_ASCII database, a hostile query) are replaced, never passed
** through: U+FFFD where the text is copied, '?' where a fixed buffer is
** repaired in place (a replacement must not grow it).
*/
#include "gpx/core.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid
   or incomplete. RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF. */
static size_t gpx__seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return len;
}

int gpx_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
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

void gpx_utf8_scrub(char *s) {
  unsigned char *p = (unsigned char *)s;
  size_t n = strlen(s), i = 0;
  while (i < n) {
    size_t k = gpx__seq(p + i, n - i);
    if (k) {
      i += k;
      continue;
    }
    /* an incomplete character at the very end (a cut) is dropped */
    size_t rest = n - i;
    int lead = p[i] >= 0xC2 && p[i] <= 0xF4;
    int tail_only = lead && rest < 4;
    for (size_t j = 1; tail_only && j < rest; j++) tail_only = (p[i + j] & 0xC0) == 0x80;
    if (tail_only && rest < (size_t)(p[i] >= 0xF0 ? 4 : p[i] >= 0xE0 ? 3 : 2)) {
      p[i] = '\0';
      return;
    }
    p[i++] = '?';
  }
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
