/* audit_sink.h — the server's side of the audit log: one call per decision,
 * committed durably before the response goes out. Kept apart from api.c so
 * that the HTTP code needs neither the store nor the audit record layout. */
#ifndef SG_AUDIT_SINK_H
#define SG_AUDIT_SINK_H

#include <stdint.h>

#include "store/store_audit.h"

typedef struct {
    int64_t key_id; /* 0 = no valid key */
    const char *audience, *model, *stage;
    const char *decision; /* allowed, 401, 403, 404, 429, 503, invalid, cancelled, timeout, error */
    const char *reason;
    int64_t prompt_tokens, completion_tokens;
    double latency_s;
    sg_audit_text_mode text_mode; /* the policy's audit.text */
    const char *prompt_text, *completion_text;
    int64_t *seq; /* may be NULL: receives the record's sequence number */
} sg_audit_event;

/* Appends the record (durable on return). Failures are logged, not returned:
 * returns 0 on success, -1 when the record could not be written. */
int sg_audit_sink_write(sg_store *store, const sg_audit_event *ev);

#endif
