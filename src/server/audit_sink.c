/* audit_sink.c — writes the server's decisions to the audit log (see audit_sink.h). */
#include "server/audit_sink.h"

#include "access/audit.h"
#include "base/log.h"

int sg_audit_sink_write(sg_store *store, const sg_audit_event *ev) {
    sg_audit_record e = {0};
    e.key_id = ev->key_id;
    e.audience = ev->audience;
    e.model = ev->model;
    e.stage = ev->stage;
    e.decision = ev->decision;
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
