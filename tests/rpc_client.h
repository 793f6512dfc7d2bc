/*
** rpc_client.h — a test-only gRPC client on the C core API, for
** check_rpc.c: a channel with a pluck completion queue, unary calls, and
** server-streaming calls read one message at a time. It is not a client
** library: no metadata, no client streaming, one thread per channel. Every
** wait has a deadline; a timeout is reported (-1) for the test to fail on.
** Header-only (static inline) so the Check build needs no extra source.
*/
#ifndef GPX_TEST_RPC_CLIENT_H
#define GPX_TEST_RPC_CLIENT_H

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <string.h>

#include "gpx/core.h"

typedef struct gpx_tc {
  grpc_channel *ch;
  grpc_completion_queue *cq; /* pluck: each wait names its tag */
} gpx_tc;

/** Final status of a call as the client saw it. */
typedef struct gpx_tc_status {
  int code;
  char message[256];
} gpx_tc_status;

static inline gpr_timespec gpx_tc_in_ms(int64_t ms) {
  return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* 1/0: the tagged batch completed with that success; -1: not within ms. */
static inline int gpx_tc_wait(gpx_tc *t, void *tag, int64_t ms) {
  grpc_event ev = grpc_completion_queue_pluck(t->cq, tag, gpx_tc_in_ms(ms), NULL);
  if (ev.type != GRPC_OP_COMPLETE) return -1;
  return ev.success ? 1 : 0;
}

static inline void gpx_tc_open(gpx_tc *t, const char *target) {
  grpc_init();
  grpc_channel_credentials *cr = grpc_insecure_credentials_create();
  t->ch = grpc_channel_create(target, cr, NULL);
  grpc_channel_credentials_release(cr);
  t->cq = grpc_completion_queue_create_for_pluck(NULL);
}

/** Every call must have been freed first. */
static inline void gpx_tc_close(gpx_tc *t) {
  grpc_channel_destroy(t->ch);
  grpc_completion_queue_shutdown(t->cq);
  /* Nothing is outstanding, so this returns QUEUE_SHUTDOWN at once. */
  while (grpc_completion_queue_pluck(t->cq, t, gpx_tc_in_ms(5000), NULL).type == GRPC_OP_COMPLETE) {
  }
  grpc_completion_queue_destroy(t->cq);
  grpc_shutdown();
}

static inline void gpx_tc_read_bb(grpc_byte_buffer *bb, gpx_buf *out) {
  grpc_byte_buffer_reader rd;
  if (!grpc_byte_buffer_reader_init(&rd, bb)) return;
  grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
  gpx_buf_append(out, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
  grpc_slice_unref(all);
  grpc_byte_buffer_reader_destroy(&rd);
}

static inline void gpx_tc_copy_details(grpc_slice details, gpx_tc_status *st) {
  size_t n = GRPC_SLICE_LENGTH(details);
  if (n >= sizeof st->message) n = sizeof st->message - 1;
  memcpy(st->message, GRPC_SLICE_START_PTR(details), n);
  st->message[n] = '\0';
}

static inline grpc_call *gpx_tc_call(gpx_tc *t, const char *method, int64_t deadline_ms) {
  return grpc_channel_create_call(t->ch, NULL, GRPC_PROPAGATE_DEFAULTS, t->cq,
                                  grpc_slice_from_static_string(method), NULL,
                                  gpx_tc_in_ms(deadline_ms), NULL);
}

/**
 * One unary call: the response message is appended to resp (if any). Returns
 * 0 when the call finished (see st), -1 on a client-side failure or timeout.
 */
static inline int gpx_tc_unary(gpx_tc *t, const char *method, const void *req, size_t len,
                               int64_t deadline_ms, gpx_buf *resp, gpx_tc_status *st) {
  grpc_call *call = gpx_tc_call(t, method, deadline_ms);
  grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, len);
  grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
  grpc_slice_unref(body);
  grpc_byte_buffer *recv = NULL;
  grpc_metadata_array md, trailing;
  grpc_metadata_array_init(&md);
  grpc_metadata_array_init(&trailing);
  grpc_status_code code = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &recv;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
  ops[5].data.recv_status_on_client.status = &code;
  ops[5].data.recv_status_on_client.status_details = &details;
  int rc = -1;
  if (grpc_call_start_batch(call, ops, 6, call, NULL) == GRPC_CALL_OK) {
    if (gpx_tc_wait(t, call, deadline_ms + 2000) == 1) rc = 0;
  }
  if (rc == 0) {
    st->code = (int)code;
    gpx_tc_copy_details(details, st);
    if (recv != NULL) gpx_tc_read_bb(recv, resp);
  }
  if (recv != NULL) grpc_byte_buffer_destroy(recv);
  grpc_byte_buffer_destroy(send);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&md);
  grpc_metadata_array_destroy(&trailing);
  grpc_call_unref(call);
  return rc;
}

/** A server-streaming call; tags are the addresses of the *_tag fields. */
typedef struct gpx_tc_stream {
  gpx_tc *t;
  grpc_call *call;
  grpc_byte_buffer *send, *recv;
  grpc_metadata_array md, trailing;
  grpc_status_code code;
  grpc_slice details;
  int got_md;
  int ended;       /* the server's messages are over */
  int status_seen; /* the status batch was plucked */
  char start_tag, recv_tag, status_tag;
} gpx_tc_stream;

/** Start the call and send the request; 0 or -1. Free it with gpx_tc_stream_free either way. */
static inline int gpx_tc_stream_start(gpx_tc *t, gpx_tc_stream *s, const char *method, const void *req,
                                      size_t len, int64_t deadline_ms) {
  memset(s, 0, sizeof *s);
  s->t = t;
  s->call = gpx_tc_call(t, method, deadline_ms);
  grpc_metadata_array_init(&s->md);
  grpc_metadata_array_init(&s->trailing);
  s->details = grpc_empty_slice();
  grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, len);
  s->send = grpc_raw_byte_buffer_create(&body, 1);
  grpc_slice_unref(body);
  grpc_op ops[3];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = s->send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  s->status_seen = 1; /* until the status batch is started: nothing to collect */
  if (grpc_call_start_batch(s->call, ops, 3, &s->start_tag, NULL) != GRPC_CALL_OK) return -1;
  if (gpx_tc_wait(t, &s->start_tag, 5000) < 0) return -1;
  /* The status arrives last; ask for it now, in its own batch. */
  grpc_op st;
  memset(&st, 0, sizeof st);
  st.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  st.data.recv_status_on_client.trailing_metadata = &s->trailing;
  st.data.recv_status_on_client.status = &s->code;
  st.data.recv_status_on_client.status_details = &s->details;
  if (grpc_call_start_batch(s->call, &st, 1, &s->status_tag, NULL) != GRPC_CALL_OK) return -1;
  s->status_seen = 0;
  return 0;
}

/** Next message into out (appended): 1, end of stream: 0, timeout or error: -1. */
static inline int gpx_tc_stream_next(gpx_tc_stream *s, gpx_buf *out, int64_t ms) {
  if (s->ended) return 0;
  grpc_op ops[2];
  size_t n = 0;
  memset(ops, 0, sizeof ops);
  if (!s->got_md) { /* with the first read: a silent stream sends none until its status */
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n].data.recv_initial_metadata.recv_initial_metadata = &s->md;
    n++;
    s->got_md = 1;
  }
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  ops[n].data.recv_message.recv_message = &s->recv;
  n++;
  if (grpc_call_start_batch(s->call, ops, n, &s->recv_tag, NULL) != GRPC_CALL_OK) return -1;
  int ok = gpx_tc_wait(s->t, &s->recv_tag, ms);
  if (ok < 0) {
    /* Still outstanding: cancel so it completes, and collect it. */
    grpc_call_cancel(s->call, NULL);
    gpx_tc_wait(s->t, &s->recv_tag, 5000);
  }
  if (s->recv == NULL) {
    s->ended = 1;
    return ok < 0 ? -1 : 0;
  }
  gpx_tc_read_bb(s->recv, out);
  grpc_byte_buffer_destroy(s->recv);
  s->recv = NULL;
  return ok < 0 ? -1 : 1;
}

static inline void gpx_tc_stream_cancel(gpx_tc_stream *s) { grpc_call_cancel(s->call, NULL); }

/**
 * Wait for the status; 0 with *st filled, or -1 on timeout. Messages not
 * read yet are read and dropped first: the core delivers the status only
 * after the initial metadata and every message were received.
 */
static inline int gpx_tc_stream_status(gpx_tc_stream *s, int64_t ms, gpx_tc_status *st) {
  if (s->status_seen) return -1;
  gpx_buf drop = {0};
  while (gpx_tc_stream_next(s, &drop, ms) == 1) drop.len = 0;
  gpx_buf_reset(&drop);
  if (gpx_tc_wait(s->t, &s->status_tag, ms) < 0) return -1;
  s->status_seen = 1;
  st->code = (int)s->code;
  gpx_tc_copy_details(s->details, st);
  return 0;
}

static inline void gpx_tc_stream_free(gpx_tc_stream *s) {
  if (!s->status_seen) { /* make the status batch complete, then collect it */
    grpc_call_cancel(s->call, NULL);
    gpx_tc_wait(s->t, &s->status_tag, 5000);
  }
  if (s->send) grpc_byte_buffer_destroy(s->send);
  if (s->recv) grpc_byte_buffer_destroy(s->recv);
  grpc_metadata_array_destroy(&s->md);
  grpc_metadata_array_destroy(&s->trailing);
  grpc_slice_unref(s->details);
  grpc_call_unref(s->call);
}

#endif /* GPX_TEST_RPC_CLIENT_H */
