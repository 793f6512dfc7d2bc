/*
** test_frame.c — a test-only query path: frames built by the frame
** module's deterministic generator, so the Grafana-host harness can check
** Arrow output end to end through QueryData. Enabled only when the process
** runs with GPX_TEST_QUERIES=1.
*/
#include <jansson.h>

#include "gpx/frame.h"
#include "query_model.h"

void gpx_query_test_frame(const Pluginv2__DataQuery *pq, gpx_data_response *dr) {
  json_error_t je;
  json_t *root = pq->json.len ? json_loadb((const char *)pq->json.data, pq->json.len, 0, &je) : NULL;
  const char *c = root ? json_string_value(json_object_get(root, "case")) : NULL;
  json_t *sv = root ? json_object_get(root, "seed") : NULL;
  uint64_t seed = json_is_integer(sv) ? (uint64_t)json_integer_value(sv) : 1;
  gpx_frame f;
  gpx_frame_init(&f);
  gpx_error err;
  gpx_buf out = {0};
  int rc = c ? gpx_testframe_build(c, seed, &f, &err) : gpx_error_set(&err, EINVAL, "case: missing");
  if (rc == GPX_OK) rc = gpx_frame_set_ref_id(&f, pq->refid, &err);
  if (rc == GPX_OK) rc = gpx_frame_encode(&f, &out, &err);
  if (rc == GPX_OK) rc = gpx_data_response_add_frame(dr, &out);
  if (rc != GPX_OK) gpx_data_response_error(dr, 400, "plugin", "test frame: %s", err.msg);
  gpx_buf_reset(&out);
  gpx_frame_reset(&f);
  json_decref(root);
}
