/* audit_sink.c — writes the server's decisions to the audit log (see audit_sink.h). */
#include "server/audit_sink.h"

#include "access/audit.h"
#include "base/log.h"

static const char *const decision_names[] = {
    [SG_AUDIT_NONE] = NULL,
    [SG_AUDIT_ALLOWED] = "allowed",
    [SG_AUDIT_FILTERED] = "filtered",
    [SG_AUDIT_HARDCODED] = "hardcoded",
    [SG_AUDIT_INVALID] = "invalid",
    [SG_AUDIT_ERROR] = "error",
    [SG_AUDIT_CANCELLED] = "cancelled",
    [SG_AUDIT_TIMEOUT] = "timeout",
    [SG_AUDIT_UNAUTHENTICATED] = "401",
    [SG_AUDIT_FORBIDDEN] = "403",
    [SG_AUDIT_NOT_FOUND] = "404",
    [SG_AUDIT_RATE_LIMITED] = "429",
    [SG_AUDIT_OVERLOADED] = "503",
    [SG_AUDIT_MODERATION] = "moderation",
    [SG_AUDIT_DETECTION] = "detection",
    [SG_AUDIT_FLAGGED] = "flagged",
    [SG_AUDIT_FLAG_UPHELD] = "flag_upheld",
    [SG_AUDIT_FLAG_DISMISSED] = "flag_dismissed",
    [SG_AUDIT_SUSPENDED] = "suspended",
};

const char *sg_audit_sink_decision_name(sg_audit_sink_decision d) {
    if ((unsigned)d >= sizeof decision_names / sizeof decision_names[0]) return NULL;
    return decision_names[d];
}

int sg_audit_sink_write(sg_store *store, const sg_audit_event *ev) {
    if (!sg_audit_sink_decision_name(ev->decision)) {
        sg_log(SG_LOG_ERROR, "audit record not written: no decision");
        return -1;
    }
    sg_audit_record e = {0};
    e.key_id = ev->key_id;
    e.audience = ev->audience;
    e.model = ev->model;
    e.stage = ev->stage;
    e.decision = sg_audit_sink_decision_name(ev->decision);
    e.reason = ev->reason;
    e.prompt_tokens = ev->prompt_tokens;
    e.completion_tokens = ev->completion_tokens;
    e.latency_us = (int64_t)(ev->latency_s * 1e6);
    e.text_mode = ev->text_mode;
    e.prompt_text = ev->prompt_text;
    e.completion_text = ev->completion_text;
    sg_error *err = sg_audit_append(store, &e, ev->seq);
    if (err) {
        sg_log(SG_LOG_ERROR, "audit record not written: %s", sg_error_message(err));
        sg_error_free(err);
        return -1;
    }
    return 0;
}
