/* metrics.h — the server's counters, gauges and latency histogram, rendered
 * in the Prometheus text exposition format for GET /metrics. Thread-safe. */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stddef.h>

typedef struct sg_metrics sg_metrics;

sg_metrics *sg_metrics_new(void);
void sg_metrics_free(sg_metrics *m);

/* One finished request: HTTP status, the caller's audience ("" when not
 * authenticated), tokens in and out, and its latency in seconds. */
void sg_metrics_request(sg_metrics *m, int status, const char *audience, long tokens_in, long tokens_out,
                        double seconds);
void sg_metrics_rate_limited(sg_metrics *m, const char *audience);
/* Gauges set by the schedulers: requests waiting and sequences running, summed over models. */
void sg_metrics_add_queue(sg_metrics *m, int delta);
void sg_metrics_add_batch(sg_metrics *m, int delta);
void sg_metrics_step(sg_metrics *m, int batch_size); /* one decode step of that many sequences */

/* The exposition text (malloc'd; NULL, logged, when it cannot be built). */
char *sg_metrics_render(sg_metrics *m);

#endif
