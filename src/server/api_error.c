/* api_error.c — the server's error value (see api_error.h). */
#include "server/api_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Out of memory: one static answer, never freed. */
static sg_api_error no_memory = {.status = 500, .type = SG_API_SERVER_ERROR, .decision = SG_AUDIT_NONE};

sg_api_error *sg_api_error_new(int status, const char *type, const char *param, const char *code,
                               sg_audit_sink_decision decision, const char *fmt, ...) {
    char msg[SG_API_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sg_api_error *e = calloc(1, sizeof *e);
    if (!e) return &no_memory;
    e->status = status;
    e->type = type;
    e->code = code;
    e->param = param ? strdup(param) : NULL;
    e->decision = decision;
    e->counted = decision != SG_AUDIT_NONE;
    e->message = sg_error_new("%s", msg);
    return e;
}

sg_api_error *sg_api_error_counted(sg_api_error *e) {
    if (e != &no_memory) e->counted = true;
    return e;
}

void sg_api_error_set_reason(sg_api_error *e, const char *reason) {
    if (e == &no_memory) return;
    free(e->reason);
    e->reason = reason ? strdup(reason) : NULL;
}

const char *sg_api_error_message(const sg_api_error *e) {
    return e->message ? sg_error_message(e->message) : "out of memory";
}

const char *sg_api_error_reason(const sg_api_error *e) {
    return e->reason ? e->reason : sg_api_error_message(e);
}

void sg_api_error_respond(const sg_api_error *e, sg_http_request *req) {
    sg_http_respond_error(req, e->status, e->type, e->param, e->code, "%s", sg_api_error_message(e));
}

void sg_api_error_free(sg_api_error *e) {
    if (!e || e == &no_memory) return;
    sg_error_free(e->message);
    free(e->param);
    free(e->reason);
    free(e);
}
