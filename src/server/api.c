/* api.c — the server's lifecycle: start (policy, store, keys, rate limits,
 * watermark, models, HTTP, watcher), reload and stop (see api.h). A request
 * goes through routes.c. */
#include "server/api.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/init.h"
#include "base/log.h"
#include "release/report.h"
#include "safety/watermark_key.h"
#include "server/api_int.h"
#include "server/guard.h"

/* The monotonic time one monitoring period from now. */
static double one_period_from_now(const sg_policy *p) {
    return sg_monotonic_s() + (double)sg_report_period_ms(p->monitoring_frequency) / 1000.0;
}

static sg_error *open_watermark(sg_server *s, const char *db_path) {
    unsigned char wkey[SG_WATERMARK_KEY_BYTES];
    sg_error *err = sg_watermark_key_from_db(db_path, wkey, NULL);
    if (!err) err = sg_watermark_new(wkey, SG_GUARD_WM_GAMMA, SG_GUARD_WM_DELTA, &s->wm);
    sodium_memzero(wkey, sizeof wkey);
    return err;
}

sg_error *sg_server_start(const sg_server_options *o, sg_server **out) {
    SG_ASSERT_INIT();
    sg_server *s = calloc(1, sizeof *s);
    if (!s) return sg_error_new("out of memory");
    sg_policy_slot_init(&s->policies);
    atomic_init(&s->stopping, false);
    s->policy_path = strdup(o->policy_path);
    s->db_path = strdup(o->db_path);
    sg_policy_loaded *loaded = NULL;
    sg_policy_ref *r = NULL;
    sg_error *err = sg_policy_ref_load(o->policy_path, &loaded);
    if (!err && (err = sg_store_open(o->db_path, &s->store))) sg_policy_ref_loaded_free(loaded);
    if (!err && !(err = sg_policy_ref_first(&s->policies, s->store, loaded, &r)))
        sg_policy_slot_install(&s->policies, r, NULL);
    if (!err) {
        char *key_path = sg_keys_key_path(o->db_path);
        err = key_path ? sg_keys_open(s->store, key_path, &s->keys) : sg_error_new("out of memory");
        free(key_path);
    }
    if (!err) err = sg_ratelimit_new(NULL, NULL, &s->ratelimit);
    if (!err) {
        char *key_path = sg_keys_key_path(o->db_path);
        err = key_path ? sg_demo_new(key_path, &s->demo) : sg_error_new("out of memory");
        free(key_path);
    }
    if (!err) err = open_watermark(s, o->db_path);
    if (!err) {
        const sg_policy *p = s->policies.current->policy;
        s->metrics = sg_metrics_new();
        s->models = sg_models_new(p->max_batch, p->queue_size, s->metrics);
        s->request_timeout_s = p->request_timeout_s;
        if (!s->metrics || !s->models) err = sg_error_new("out of memory");
        if (!err)
            err =
                sg_http_start(o->host, o->port, (size_t)(p->max_body_bytes > 0 ? p->max_body_bytes : 1 << 20),
                              sg_api_handle, s, &s->http);
        /* the first report after one whole period of serving */
        if (!err)
            err = sg_watcher_start(&s->policies, s->store, s->db_path, one_period_from_now(p), &s->watcher);
    }
    if (err) {
        sg_server_stop(s);
        return err;
    }
    *out = s;
    return NULL;
}

int sg_server_port(const sg_server *s) { return sg_http_port(s->http); }

sg_error *sg_server_reload(sg_server *s) {
    sg_policy_loaded *loaded = NULL;
    sg_policy_ref *r = NULL;
    sg_error *err = sg_policy_ref_load(s->policy_path, &loaded);
    if (!err) err = sg_policy_ref_first(&s->policies, s->store, loaded, &r);
    if (err) return sg_error_wrap(err, "policy reload refused, the running policy stays");
    sg_policy_slot_install(&s->policies, r, NULL);
    sg_info("policy reloaded from %s: current stage '%s'", s->policy_path, sg_policy_ref_stage_name(r));
    return NULL;
}

void sg_server_stop(sg_server *s) {
    if (!s) return;
    atomic_store(&s->stopping, true);
    sg_watcher_stop(s->watcher);
    sg_http_stop(s->http); /* waits for connection threads: no request is in flight after this */
    sg_models_free(s->models);
    sg_metrics_free(s->metrics);
    sg_ratelimit_free(s->ratelimit);
    sg_demo_free(s->demo);
    sg_watermark_free(s->wm);
    sg_keys_close(s->keys);
    sg_store_close(s->store);
    sg_policy_slot_destroy(&s->policies);
    free(s->policy_path);
    free(s->db_path);
    free(s);
}
