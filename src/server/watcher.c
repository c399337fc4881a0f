/* watcher.c — the release watcher and monitoring-report thread (see watcher.h). */
#include "server/watcher.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "release/report.h"

struct sg_watcher {
    sg_policy_slot *slot;
    sg_store *store;
    char *db_path;
    double next_report_s; /* monotonic time of the next scheduled report; the thread's own */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping; /* under mu */
};

/* Installs a new ref when the stored release version moved past `cur`'s. */
static void apply_release_changes(sg_watcher *w, const sg_policy_ref *cur) {
    int64_t version = 0;
    sg_error *err = sg_store_release_version(w->store, &version);
    if (!err && version != cur->release.version) {
        sg_policy_ref *r = NULL;
        if (!(err = sg_policy_ref_refresh(w->slot, w->store, cur, &r))) {
            if (r->stage != cur->stage) sg_info("release stage is now '%s'", sg_policy_ref_stage_name(r));
            sg_info("release state applied (version %lld, %zu open incident%s)",
                    (long long)r->release.version, r->release.n_incidents,
                    r->release.n_incidents == 1 ? "" : "s");
            sg_policy_slot_install(w->slot, r, cur);
        }
    }
    if (err) {
        sg_log(SG_LOG_ERROR, "release watcher: %s", sg_error_message(err));
        sg_error_free(err);
    }
}

/* Writes the monitoring report when its time has come. */
static void write_report_when_due(sg_watcher *w, const sg_policy_ref *cur) {
    double now = sg_monotonic_s();
    if (!w->db_path || now < w->next_report_s) return;
    w->next_report_s = now + (double)sg_report_period_ms(cur->policy->monitoring_frequency) / 1000.0;
    char *dir = sg_report_dir(w->db_path);
    sg_error *err =
        dir ? sg_report_write(w->store, cur->policy, dir, sg_now_ms()) : sg_error_new("out of memory");
    if (err) {
        sg_log(SG_LOG_ERROR, "monitoring report: %s", sg_error_message(err));
        sg_error_free(err);
    } else {
        sg_info("monitoring report written to %s", dir);
    }
    free(dir);
}

static void *watch(void *arg) {
    sg_watcher *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SG_WATCHER_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
        if (w->stopping) break;
        pthread_mutex_unlock(&w->mu);
        sg_policy_ref *cur = sg_policy_ref_acquire(w->slot);
        apply_release_changes(w, cur);
        write_report_when_due(w, cur);
        sg_policy_ref_release(cur);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

sg_error *sg_watcher_start(sg_policy_slot *slot, sg_store *store, const char *db_path, double first_report_s,
                           sg_watcher **out) {
    sg_watcher *w = calloc(1, sizeof *w);
    if (!w) return sg_error_new("out of memory");
    w->slot = slot;
    w->store = store;
    w->next_report_s = first_report_s;
    if (db_path && !(w->db_path = strdup(db_path))) {
        free(w);
        return sg_error_new("out of memory");
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, watch, w)) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w->db_path);
        free(w);
        return sg_error_new("cannot start the release watcher thread");
    }
    *out = w;
    return NULL;
}

void sg_watcher_stop(sg_watcher *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->db_path);
    free(w);
}
