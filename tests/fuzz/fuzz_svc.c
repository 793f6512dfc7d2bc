/*
** fuzz_svc.c — what the gRPC handlers do with a request's bytes, short of
** the handler functions themselves.
**
** Two levels: the QueryData handler itself (gpx_svc_query_data through a
** test context, gpx_rpc_test_ctx_new) on the request with its data-source
** settings removed — settings would make it connect to whatever host the
** fuzzer wrote, and a fuzz target sends no traffic — and one step below
** the handlers: the protobuf-c decode of every request, the request's
** data-source settings through gpx_ds_settings_parse (the pure part of
** gpx_svc_instance), and for QueryData each query through
** gpx_query_execute with no instance, filled from the DataQuery exactly as
** svc/query_data.c fills it.
**
** Input: the first byte picks the method (0 QueryData, 1 CheckHealth,
** 2 CallResource, by value mod 3); the rest is that request's protobuf.
**
** Properties: decoding never crashes; every query is answered once: status
** 200 with frames that are valid Arrow IPC files, or an error with no
** frames, a source, a message that is non-empty and valid UTF-8 (a
** protobuf string: Grafana cannot decode a response that is not); a
** settings error names a jsonData field and is valid UTF-8; the answer
** packs into a QueryDataResponse that decodes back to the same statuses
** and messages; the same request answers the same way twice.
*/
#include <jansson.h>
#include <pthread.h>

#include "backend.pb-c.h"
#include "fuzz/fuzz_util.h"
#include "gpx/ds.h"
#include "gpx/query.h"
#include "gpx/svc.h"
#include "support/ipc_reader.h"

/* The QueryData handler on the request without its data source: garbage
   is INVALID_ARGUMENT, anything else one answer per query, packed. */
static void handler(Pluginv2__QueryDataRequest *in) {
  static gpx_app app; /* no data-source cache: nothing can connect */
  static int ready;
  if (!ready) {
    pthread_mutex_init(&app.qstats.mu, NULL);
    ready = 1;
  }
  Pluginv2__PluginContext *pc = in->plugincontext;
  in->plugincontext = NULL;
  size_t len = pluginv2__query_data_request__get_packed_size(in);
  uint8_t *buf = malloc(len + 1);
  FUZZ_CHECK(buf != NULL, "out of memory");
  pluginv2__query_data_request__pack(in, buf);
  in->plugincontext = pc;
  gpx_rpc_ctx *ctx = gpx_rpc_test_ctx_new(&app);
  FUZZ_CHECK(ctx != NULL, "out of memory");
  gpx_rpc_reply r;
  memset(&r, 0, sizeof r);
  gpx_svc_query_data(ctx, buf, len, &r);
  FUZZ_CHECK(r.code == GPX_RPC_OK, "a decodable request answered with gRPC code %d: %s", r.code, r.message);
  Pluginv2__QueryDataResponse *out = pluginv2__query_data_response__unpack(NULL, r.body.len, r.body.data);
  FUZZ_CHECK(out != NULL, "the handler's reply does not decode");
  FUZZ_CHECK(out->n_responses == in->n_queries, "%zu answers to %zu queries", out->n_responses, in->n_queries);
  for (size_t i = 0; i < out->n_responses; i++) {
    const Pluginv2__DataResponse *d = out->responses[i]->value;
    FUZZ_CHECK(d && d->status >= 200 && d->status <= 599, "status");
    FUZZ_CHECK(!d->error || fz_utf8_valid(d->error, strlen(d->error)), "error is not UTF-8");
  }
  pluginv2__query_data_response__free_unpacked(out, NULL);
  gpx_buf_reset(&r.body);
  gpx_rpc_test_ctx_free(ctx);
  free(buf);
}

static void check_settings(const Pluginv2__PluginContext *pc) {
  const Pluginv2__DataSourceInstanceSettings *dsi = pc ? pc->datasourceinstancesettings : NULL;
  if (dsi == NULL) return;
  size_t n = dsi->n_decryptedsecurejsondata;
  gpx_ds_secret *sec = calloc(n ? n : 1, sizeof *sec);
  FUZZ_CHECK(sec != NULL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    sec[i].key = dsi->decryptedsecurejsondata[i]->key;
    sec[i].value = dsi->decryptedsecurejsondata[i]->value;
  }
  gpx_ds_settings s;
  gpx_error err = {{0}};
  int rc = gpx_ds_settings_parse(dsi->jsondata.data, dsi->jsondata.len, sec, n, &s, &err);
  if (rc != GPX_OK) {
    FUZZ_CHECK(strncmp(err.msg, "jsonData", 8) == 0, "settings error does not name the field: %s", err.msg);
    FUZZ_CHECK(fz_utf8_valid(err.msg, strlen(err.msg)), "settings error is not UTF-8: %s", err.msg);
  }
  gpx_ds_settings_reset(&s);
  free(sec);
}

/* Answer one DataQuery as svc/query_data.c does, without a data source. */
static void answer(const Pluginv2__DataQuery *q, int allow_test, gpx_query_result *res) {
  gpx_query_input in;
  gpx_svc_query_input(q, allow_test, &in);
  gpx_query_result_init(res);
  gpx_query_execute(NULL, &in, NULL, NULL, res);
}

static void check_result(const gpx_query_result *r) {
  const gpx_query_error *e = &r->error;
  FUZZ_CHECK(e->status >= 200 && e->status <= 599, "status %d", e->status);
  FUZZ_CHECK(r->kind >= -1 && r->kind < (int)gpx_query_kind_count(), "kind %d", r->kind);
  if (e->status == 200) {
    FUZZ_CHECK(e->message[0] == 0, "a message with status 200: %s", e->message);
    for (size_t i = 0; i < r->n_frames; i++) {
      gpx_ipc_file p;
      FUZZ_CHECK(gpx_ipc_open(&p, r->frames[i].data, r->frames[i].len) == 0, "frame %zu: %s", i, p.err);
    }
    return;
  }
  FUZZ_CHECK(r->n_frames == 0, "frames with status %d", e->status);
  FUZZ_CHECK(e->source && (!strcmp(e->source, "plugin") || !strcmp(e->source, "downstream")), "errorSource");
  size_t n = strnlen(e->message, sizeof e->message);
  FUZZ_CHECK(n > 0 && n < sizeof e->message, "empty or unterminated message");
  FUZZ_CHECK(fz_utf8_valid(e->message, n), "status %d message is not UTF-8 (Grafana cannot decode it): %s", e->status,
             e->message);
}

static void query_data(const uint8_t *p, size_t n) {
  Pluginv2__QueryDataRequest *in = pluginv2__query_data_request__unpack(NULL, n, p);
  if (in == NULL) return;
  check_settings(in->plugincontext);
  if (in->n_queries <= 16) handler(in);
  size_t nq = in->n_queries > 16 ? 16 : in->n_queries;
  gpx_query_result *res = calloc(nq + 1, sizeof *res);
  Pluginv2__DataResponse *outs = calloc(nq + 1, sizeof *outs);
  Pluginv2__QueryDataResponse__ResponsesEntry *ents = calloc(nq + 1, sizeof *ents);
  Pluginv2__QueryDataResponse__ResponsesEntry **eps = calloc(nq + 1, sizeof *eps);
  ProtobufCBinaryData *frames = calloc(nq * 8 + 1, sizeof *frames);
  FUZZ_CHECK(res && outs && ents && eps && frames, "out of memory");
  for (size_t i = 0; i < nq; i++) {
    const Pluginv2__DataQuery *q = in->queries[i];
    /* the 1M-row test frame is a benchmark, not an input worth seconds per run */
    int allow = !(q->json.len && memmem(q->json.data, q->json.len, "big_1m", 6));
    answer(q, allow, &res[i]);
    check_result(&res[i]);
    gpx_query_result again;
    answer(q, allow, &again);
    FUZZ_CHECK(again.error.status == res[i].error.status && !strcmp(again.error.message, res[i].error.message) &&
                   again.n_frames == res[i].n_frames,
               "the same query answered differently");
    for (size_t k = 0; k < again.n_frames; k++)
      FUZZ_CHECK(again.frames[k].len == res[i].frames[k].len &&
                     !memcmp(again.frames[k].data, res[i].frames[k].data, again.frames[k].len),
                 "frame %zu differs between two runs", k);
    gpx_query_result_reset(&again);
    /* the DataResponse, as the handler builds it */
    Pluginv2__DataResponse *o = &outs[i];
    pluginv2__data_response__init(o);
    o->status = res[i].error.status;
    o->format = PLUGINV2__DATA_FRAME_FORMAT__ARROW;
    if (res[i].error.status != 200) {
      o->error = res[i].error.message;
      o->errorsource = (char *)res[i].error.source;
    }
    size_t nfr = res[i].n_frames > 8 ? 8 : res[i].n_frames;
    for (size_t k = 0; k < nfr; k++) frames[8 * i + k] = (ProtobufCBinaryData){res[i].frames[k].len, res[i].frames[k].data};
    o->frames = &frames[8 * i];
    o->n_frames = nfr;
    pluginv2__query_data_response__responses_entry__init(&ents[i]);
    ents[i].key = q->refid;
    ents[i].value = o;
    eps[i] = &ents[i];
  }
  Pluginv2__QueryDataResponse out = PLUGINV2__QUERY_DATA_RESPONSE__INIT;
  out.n_responses = nq;
  out.responses = eps;
  size_t len = pluginv2__query_data_response__get_packed_size(&out);
  uint8_t *buf = malloc(len + 1);
  FUZZ_CHECK(buf != NULL, "out of memory");
  FUZZ_CHECK(pluginv2__query_data_response__pack(&out, buf) == len, "pack size");
  Pluginv2__QueryDataResponse *back = pluginv2__query_data_response__unpack(NULL, len, buf);
  FUZZ_CHECK(back != NULL && back->n_responses == nq, "the response does not decode back");
  for (size_t i = 0; i < nq; i++) {
    const Pluginv2__DataResponse *b = back->responses[i]->value;
    FUZZ_CHECK(b && b->status == outs[i].status && b->n_frames == outs[i].n_frames, "response %zu differs", i);
    FUZZ_CHECK(!outs[i].error || (b->error && !strcmp(b->error, outs[i].error)), "error differs");
  }
  pluginv2__query_data_response__free_unpacked(back, NULL);
  free(buf);
  for (size_t i = 0; i < nq; i++) gpx_query_result_reset(&res[i]);
  free(res);
  free(outs);
  free(ents);
  free(eps);
  free(frames);
  pluginv2__query_data_request__free_unpacked(in, NULL);
}

static void check_health(const uint8_t *p, size_t n) {
  Pluginv2__CheckHealthRequest *in = pluginv2__check_health_request__unpack(NULL, n, p);
  if (in == NULL) return;
  check_settings(in->plugincontext);
  pluginv2__check_health_request__free_unpacked(in, NULL);
}

static void call_resource(const uint8_t *p, size_t n) {
  Pluginv2__CallResourceRequest *in = pluginv2__call_resource_request__unpack(NULL, n, p);
  if (in == NULL) return;
  check_settings(in->plugincontext);
  /* the path as svc/call_resource.c normalises it */
  char path[64];
  snprintf(path, sizeof path, "%s", in->path ? in->path : "");
  char *qm = strchr(path, '?');
  if (qm) *qm = 0;
  size_t pl = strlen(path);
  while (pl && path[pl - 1] == '/') path[--pl] = 0;
  gpx_col c = gpx_query_resource_column(path);
  FUZZ_CHECK((int)c >= 0 && c <= GPX_COL_COUNT, "resource column %d", (int)c);
  if (c != GPX_COL_COUNT) {
    static const char *const names[] = {"strategies", "symbols", "accounts", "sides", "exchanges", "entry_tags",
                                        "exit_reasons"};
    int known = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) known |= !strcmp(path, names[i]);
    FUZZ_CHECK(known, "resource %s served", path);
  }
  pluginv2__call_resource_request__free_unpacked(in, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 256 * 1024) return 0;
  switch (data[0] % 3) {
    case 0: query_data(data + 1, size - 1); break;
    case 1: check_health(data + 1, size - 1); break;
    default: call_resource(data + 1, size - 1); break;
  }
  return 0;
}
