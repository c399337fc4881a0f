/* stream.h — server-sent events: a completion answered as it is generated
 * (stream: true).
 *
 * Each event is "data: JSON\n\n" and the stream ends with "data: [DONE]\n\n".
 * A choice's chunk carries the bytes that became sendable (never half a
 * character, never the beginning of a stop string, never text the output
 * filter holds back) and the logprobs of the tokens those bytes complete; the
 * last chunk of a choice carries its finish_reason, and with
 * stream_options.include_usage one more chunk carries the usage. The
 * completion is finalized (refund, audit) before [DONE], or as "cancelled"
 * when the client leaves mid-stream. */
#ifndef SG_STREAM_H
#define SG_STREAM_H

#include <jansson.h>

#include "base/buf.h"
#include "server/completion.h"

/* Appends one event with `chunk` (taken). */
sg_error *sg_stream_event(sg_buf *out, json_t *chunk) SG_MUST_CHECK;
/* Appends the end of the stream. */
sg_error *sg_stream_end(sg_buf *out) SG_MUST_CHECK;

/* Answers the submitted completion `c` as a stream; `c` now belongs to the
 * stream, which frees it when the response is released. */
void sg_stream_respond(sg_completion *c, sg_http_request *req);

#endif
