/* audit_sink.h — the server's side of the audit log: one call per decision,
 * committed durably before the response goes out, and the decisions the
 * server records as one enum. Kept apart from the HTTP code so that it needs
 * neither the store nor the audit record layout.
 *
 * The log stores each decision as the word or HTTP status it has always
 * stored ("allowed", "403", ...: sg_audit_sink_decision_name); refusals
 * written as a status do not count toward a key's usage (access/audit.h). */
#ifndef SG_AUDIT_SINK_H
#define SG_AUDIT_SINK_H

#include <stdint.h>

#include "store/store_audit.h"

typedef enum {
    SG_AUDIT_NONE,            /* not an access decision: nothing is recorded */
    SG_AUDIT_ALLOWED,         /* "allowed": a completion was served */
    SG_AUDIT_FILTERED,        /* "filtered": refused or cut by the content filter */
    SG_AUDIT_HARDCODED,       /* "hardcoded": answered with a category's predetermined text */
    SG_AUDIT_INVALID,         /* "invalid": a 400 on the request itself */
    SG_AUDIT_ERROR,           /* "error": the server failed (500, model unavailable) */
    SG_AUDIT_CANCELLED,       /* "cancelled": the client left */
    SG_AUDIT_TIMEOUT,         /* "timeout": the completion ran past the deadline */
    SG_AUDIT_UNAUTHENTICATED, /* "401" */
    SG_AUDIT_FORBIDDEN,       /* "403": not released, suspended, protocol off */
    SG_AUDIT_NOT_FOUND,       /* "404": unknown model */
    SG_AUDIT_RATE_LIMITED,    /* "429" */
    SG_AUDIT_OVERLOADED,      /* "503": queue full or shutting down */
    SG_AUDIT_MODERATION,      /* "moderation": POST /v1/moderations answered */
    SG_AUDIT_DETECTION,       /* "detection": POST /v1/detect answered */
    SG_AUDIT_FLAGGED,         /* "flagged": POST /v1/flags stored a flag */
    SG_AUDIT_FLAG_UPHELD,     /* "flag_upheld" */
    SG_AUDIT_FLAG_DISMISSED,  /* "flag_dismissed" */
    SG_AUDIT_SUSPENDED,       /* "suspended": a key revoked after upheld flags */
} sg_audit_sink_decision;

/* The text the log stores for a decision (NULL for SG_AUDIT_NONE). */
const char *sg_audit_sink_decision_name(sg_audit_sink_decision d);

typedef struct {
    int64_t key_id; /* 0 = no valid key */
    const char *audience, *model, *stage;
    sg_audit_sink_decision decision;
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
