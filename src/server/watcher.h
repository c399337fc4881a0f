/* watcher.h — the server's background thread: applies release changes and
 * writes the monitoring reports.
 *
 * Every SG_WATCHER_INTERVAL_MS it reads the store's release version (one
 * indexed row, release/stages.h); when a stage move or an incident changed
 * it, it installs a new policy ref over the same policy (server/policy_ref.h),
 * so the change applies to the next request without restart. It also writes
 * the monitoring report (release/report.h) into DB.reports/ each
 * monitoring_frequency period of the running policy. */
#ifndef SG_WATCHER_H
#define SG_WATCHER_H

#include "base/error.h"
#include "server/policy_ref.h"
#include "store/store.h"

#define SG_WATCHER_INTERVAL_MS 100

typedef struct sg_watcher sg_watcher;

/* Starts the thread. `db_path` (copied; NULL: no reports) names where the
 * reports go; the first is written at monotonic time `first_report_s`. */
sg_error *sg_watcher_start(sg_policy_slot *slot, sg_store *store, const char *db_path, double first_report_s,
                           sg_watcher **out) SG_MUST_CHECK;
/* Wakes the thread, waits for it to end and frees (NULL is a no-op). */
void sg_watcher_stop(sg_watcher *w);

#endif
