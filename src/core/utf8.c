/*
** utf8.c — UTF-8 well-formedness for text that leaves the plugin as a
** protobuf string or JSON (error messages, executedQueryString). Grafana's
** Go side refuses a response with a string that is not UTF-8, and our
** messages quote user input cut at byte limits ("%.64s"), which can split
** a character. Validation only: no normalisation, no decoding.
*/
#include "gpx/core.h"

size_t gpx_utf8_char(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  unsigned c = p[0], k, cp, min;
  if (c < 0x80) return c ? 1 : 0;
  if (c >= 0xC2 && c <= 0xDF) k = 1, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) k = 2, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) k = 3, min = 0x10000;
  else return 0;
  cp = c & (0x3Fu >> k);
  for (unsigned i = 1; i <= k; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0; /* also stops at the NUL */
    cp = cp << 6 | (p[i] & 0x3Fu);
  }
  /* RFC 3629: no overlong forms, surrogates or code points past U+10FFFF */
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return k + 1;
}

void gpx_utf8_scrub(char *s) {
  while (*s) {
    size_t k = gpx_utf8_char(s);
    if (k == 0) *s++ = '?';
    else s += k;
  }
}
