/*
** kind_test_frame.c — a test-only kind: frames built by the frame
** module's deterministic generator, so the Grafana-host harness can check
** Arrow output end to end through QueryData. Served only when the process
** runs with GPX_TEST_QUERIES=1 (GPX_QKIND_TEST_ONLY in the registry).
*/
#include <jansson.h>

#include "query_int.h"

int gpx_kind_test_frame_run(gpx_qrun *r) {
  const gpx_query_input *in = r->in;
  json_error_t je;
  json_t *root = in->json_len ? json_loadb((const char *)in->json, in->json_len, 0, &je) : NULL;
  const char *c = root ? json_string_value(json_object_get(root, "case")) : NULL;
  json_t *sv = root ? json_object_get(root, "seed") : NULL;
  uint64_t seed = json_is_integer(sv) ? (uint64_t)json_integer_value(sv) : 1;
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  gpx_buf out = {0};
  int rc = c ? gpx_testframe_build(c, seed, &f, &err) : gpx_error_set(&err, EINVAL, "case: missing");
  if (rc == GPX_OK) rc = gpx_frame_set_ref_id(&f, in->ref_id ? in->ref_id : "", &err);
  if (rc == GPX_OK) rc = gpx_frame_encode(&f, &out, &err);
  if (rc == GPX_OK) rc = gpx_query_result_add_frame(r->out, &out);
  if (rc != GPX_OK) gpx_query_fail(r->out, rc, 400, "plugin", "test frame: %s", err.msg);
  gpx_buf_reset(&out);
  gpx_frame_reset(&f);
  json_decref(root);
  return rc;
}
