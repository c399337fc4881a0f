/* openai.c — OpenAI-shaped JSON builders (see openai.h). */
#include "server/openai.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/utf8.h"

json_t *sg_openai_text(const char *s, size_t n) {
    size_t bad;
    if (sg_utf8_valid(s, n, &bad)) return json_stringn(s, n);
    sg_buf b;
    sg_buf_init(&b, 0);
    sg_error *err = NULL;
    size_t i = 0;
    while (i < n && !err) {
        if (sg_utf8_valid(s + i, n - i, &bad)) {
            err = sg_buf_append(&b, s + i, n - i);
            break;
        }
        err = sg_buf_append(&b, s + i, bad);
        if (!err) err = sg_buf_append(&b, "\xEF\xBF\xBD", 3);
        i += bad + 1;
        while (i < n && sg_utf8_is_continuation((unsigned char)s[i]))
            i++; /* the rest of the broken character */
    }
    json_t *j = NULL;
    if (err) {
        sg_log(SG_LOG_ERROR, "text for the answer: %s", sg_error_message(err));
        sg_error_free(err);
    } else {
        j = json_stringn(b.data ? b.data : "", b.len);
    }
    sg_buf_free(&b);
    return j;
}

json_t *sg_openai_envelope(const char *object, const char *id, long long created, const char *model,
                           const char *fingerprint) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "object", json_string(object));
    json_object_set_new(o, "created", json_integer(created));
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "system_fingerprint", json_string(fingerprint));
    return o;
}

json_t *sg_openai_choice(const char *text, size_t n, int index, json_t *logprobs, const char *finish) {
    json_t *o = json_object();
    json_object_set_new(o, "text", sg_openai_text(text ? text : "", n));
    json_object_set_new(o, "index", json_integer(index));
    json_object_set_new(o, "logprobs", logprobs ? logprobs : json_null());
    json_object_set_new(o, "finish_reason", finish ? json_string(finish) : json_null());
    return o;
}

json_t *sg_openai_usage(long prompt_tokens, long completion_tokens) {
    json_t *u = json_object();
    json_object_set_new(u, "prompt_tokens", json_integer(prompt_tokens));
    json_object_set_new(u, "completion_tokens", json_integer(completion_tokens));
    json_object_set_new(u, "total_tokens", json_integer(prompt_tokens + completion_tokens));
    return u;
}

json_t *sg_openai_logprobs_new(void) {
    json_t *o = json_object();
    json_object_set_new(o, "tokens", json_array());
    json_object_set_new(o, "token_logprobs", json_array());
    json_object_set_new(o, "top_logprobs", json_array());
    json_object_set_new(o, "text_offset", json_array());
    return o;
}

void sg_openai_logprobs_add(json_t *o, const char *token, size_t n, double logprob, json_t *top,
                            size_t offset) {
    json_array_append_new(json_object_get(o, "tokens"), sg_openai_text(token ? token : "", token ? n : 0));
    json_array_append_new(json_object_get(o, "token_logprobs"), json_real(logprob));
    json_array_append_new(json_object_get(o, "top_logprobs"), top);
    json_array_append_new(json_object_get(o, "text_offset"), json_integer((json_int_t)offset));
}

json_t *sg_openai_top_new(void) { return json_object(); }

void sg_openai_top_add(json_t *top, const char *token, size_t n, double logprob) {
    json_t *key = sg_openai_text(token, n);
    if (key) json_object_set_new(top, json_string_value(key), json_real(logprob));
    json_decref(key);
}

json_t *sg_openai_models_new(void) {
    json_t *o = json_object();
    json_object_set_new(o, "object", json_string("list"));
    json_object_set_new(o, "data", json_array());
    return o;
}

void sg_openai_models_add(json_t *list, const char *id, const char *owned_by) {
    json_t *m = json_object();
    json_object_set_new(m, "id", json_string(id));
    json_object_set_new(m, "object", json_string("model"));
    json_object_set_new(m, "created", json_integer(0));
    json_object_set_new(m, "owned_by", json_string(owned_by));
    json_array_append_new(json_object_get(list, "data"), m);
}

json_t *sg_openai_error(const char *type, const char *param, const char *code, const char *message) {
    json_t *err = json_object();
    json_object_set_new(err, "message", json_string(message));
    json_object_set_new(err, "type", json_string(type));
    json_object_set_new(err, "param", param ? json_string(param) : json_null());
    json_object_set_new(err, "code", code ? json_string(code) : json_null());
    if (!json_object_get(err, "message")) /* not UTF-8: never echo raw bytes back */
        json_object_set_new(err, "message", json_string("invalid request"));
    json_t *root = json_object();
    json_object_set_new(root, "error", err);
    return root;
}
