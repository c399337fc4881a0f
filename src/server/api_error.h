/* api_error.h — the server's one error value: what a failed step of a
 * request hands back to the code that answers it.
 *
 * An sg_api_error carries everything the answer and its audit record need:
 * the HTTP status, OpenAI's error type, code and param, the message (an
 * sg_error, so it composes with the library's own errors), and the decision
 * the audit log records (SG_AUDIT_NONE: the answer is not an access decision,
 * or it was recorded already). Headers that go with it (retry-after,
 * www-authenticate) are added to the request by the step that fails.
 *
 *     if (v == SG_POLICY_DENY_UNKNOWN_MODEL)
 *         return sg_api_error_new(404, SG_API_INVALID_REQUEST, "model", "model_not_found",
 *                                 SG_AUDIT_NOT_FOUND, "the model '%s' does not exist ...", m);
 *
 * The route that receives it answers it with sg_api_error_respond (routes.c
 * also audits and counts it). Messages are capped at SG_API_ERROR_MESSAGE_MAX
 * bytes, what the HTTP layer sends of a message. */
#ifndef SG_API_ERROR_H
#define SG_API_ERROR_H

#include <stdbool.h>

#include "base/error.h"
#include "server/audit_sink.h"
#include "server/http.h"

#define SG_API_ERROR_MESSAGE_MAX 1024

/* OpenAI's error types. */
#define SG_API_INVALID_REQUEST "invalid_request_error"
#define SG_API_PERMISSION_DENIED "permission_denied"
#define SG_API_SERVER_ERROR "server_error"

typedef struct {
    int status;                      /* the HTTP status */
    const char *type;                /* OpenAI error type (a static string) */
    const char *code;                /* OpenAI error code, or NULL (a static string) */
    char *param;                     /* the offending parameter, or NULL */
    sg_audit_sink_decision decision; /* what the audit log records */
    bool counted;                    /* counted in the request metrics (every audited refusal is) */
    char *reason;                    /* the audit reason when it differs from the message, or NULL */
    sg_error *message;               /* what the client is told */
} sg_api_error;

/* A new error (never NULL: without memory it is a static 500). The message is
 * printf-formatted and truncated to SG_API_ERROR_MESSAGE_MAX - 1 bytes. */
sg_api_error *sg_api_error_new(int status, const char *type, const char *param, const char *code,
                               sg_audit_sink_decision decision, const char *fmt, ...) SG_PRINTF(6, 7);
/* Marks `e` as counted in the request metrics though it is not audited; returns it. */
sg_api_error *sg_api_error_counted(sg_api_error *e);
/* The audit reason, when it is not the message. */
void sg_api_error_set_reason(sg_api_error *e, const char *reason);
const char *sg_api_error_message(const sg_api_error *e);
/* What the audit record's reason is: the reason, else the message. */
const char *sg_api_error_reason(const sg_api_error *e);
/* Answers the request with the error in OpenAI's shape. */
void sg_api_error_respond(const sg_api_error *e, sg_http_request *req);
void sg_api_error_free(sg_api_error *e);

#endif
