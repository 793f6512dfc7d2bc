/*
** core.h — the project's error model and growable byte buffer.
**
** Every fallible function returns an int status (0 = GPX_OK, otherwise an
** errno-style code such as EINVAL or ENOMEM) and, when given a non-NULL
** gpx_error, fills its message on every failure path (nanoarrow's model).
** gpx_buf follows "reserve, then append": callers that know their sizes
** reserve once and then use the unchecked appenders.
*/
#ifndef GPX_CORE_H
#define GPX_CORE_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GPX_OK 0
#define GPX_ERROR_MSG_SIZE 512

/** Caller-owned error message, always valid UTF-8 (user input quoted in it is
 *  scrubbed, see gpx_utf8_scrub); zero-initialise or leave uninitialised. */
typedef struct gpx_error {
  char msg[GPX_ERROR_MSG_SIZE];
} gpx_error;

/**
 * Format a message into err (if non-NULL) and return code unchanged, so a
 * failure path reads `return gpx_error_set(err, EINVAL, "…", …);`.
 */
int gpx_error_set(gpx_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Prefix an existing message: "ctx: old message". Returns code. */
int gpx_error_prefix(gpx_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Length in bytes of the well-formed UTF-8 character s starts with
 * (RFC 3629), 0 when it starts none or at the terminating NUL.
 */
size_t gpx_utf8_char(const char *s);
/**
 * Make the NUL-terminated s valid UTF-8 in place, length unchanged: each
 * byte that does not start a well-formed character becomes '?'.
 */
void gpx_utf8_scrub(char *s);

/** Propagate a non-zero status from an expression. */
#define GPX_RETURN_NOT_OK(expr) \
  do {                          \
    int gpx__rc = (expr);       \
    if (gpx__rc != GPX_OK) return gpx__rc; \
  } while (0)

/**
 * Growable byte buffer. Zeroed struct == empty buffer; gpx_buf_reset frees
 * and re-zeroes (safe on a zeroed struct). Not thread-safe.
 */
typedef struct gpx_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} gpx_buf;

void gpx_buf_init(gpx_buf *b);
void gpx_buf_reset(gpx_buf *b);
/** Ensure room for `extra` more bytes. ENOMEM on failure (buffer intact). */
int gpx_buf_reserve(gpx_buf *b, size_t extra);
int gpx_buf_append(gpx_buf *b, const void *p, size_t n);
int gpx_buf_append_zeros(gpx_buf *b, size_t n);
int gpx_buf_append_str(gpx_buf *b, const char *s);
int gpx_buf_printf(gpx_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Append a NUL without counting it in len, so data is a C string. */
int gpx_buf_terminate(gpx_buf *b);
/** Hand the allocation to the caller (free() it); the buffer becomes empty. */
uint8_t *gpx_buf_release(gpx_buf *b, size_t *len_out);

/** Unchecked append: the caller reserved enough room before. */
static inline void gpx_buf_append_unsafe(gpx_buf *b, const void *p, size_t n) {
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* ---- UTF-8 (utf8.c): every string the plugin emits is valid UTF-8 ---- */

/** 1 when s[0..n) is valid UTF-8 (RFC 3629). */
int gpx_utf8_valid(const char *s, size_t n);
/** Bytes of NUL-terminated s to keep so at most max bytes remain, cut on a
 *  character boundary: printf("%.*s", (int)gpx_utf8_clip(s, 64), s). */
size_t gpx_utf8_clip(const char *s, size_t max);
/** Append s[0..n), each invalid byte replaced by U+FFFD. ENOMEM. */
int gpx_utf8_append(gpx_buf *out, const char *s, size_t n);

/* ---- par.c: one piece of work on a few threads ---- */

/**
 * Call fn(arg, i) once for each i in [0, n), on at most `threads` threads
 * at once: the caller's and up to threads - 1 helpers started for this call
 * and joined before it returns. Each i is taken by one thread only, in
 * increasing order of start, so fn may write slot i of an array without a
 * lock. fn runs concurrently with itself: whatever else it shares must be
 * thread-safe. Returns how many threads ran (1 when no helper could be
 * started: the caller then does all the work). Blocks until every item is
 * done — fn must be bounded.
 */
int gpx_par_run(size_t n, int threads, void (*fn)(void *arg, size_t i), void *arg);

#ifdef __cplusplus
}
#endif
#endif /* GPX_CORE_H */
