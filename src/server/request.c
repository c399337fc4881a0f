/* request.c — parsing and validation of completion requests (see request.h). */
#include "server/request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets *err to a 400 naming `param`; returns -1. */
static int fail(sg_api_error **err, const char *param, const char *fmt, ...) SG_PRINTF(3, 4);
static int fail(sg_api_error **err, const char *param, const char *fmt, ...) {
    char msg[SG_REQ_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char name[SG_REQ_PARAM_MAX];
    snprintf(name, sizeof name, "%s", param ? param : "");
    *err = sg_api_error_new(400, SG_API_INVALID_REQUEST, name[0] ? name : NULL, NULL, SG_AUDIT_INVALID, "%s",
                            msg);
    return -1;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static int get_number(json_t *v, const char *name, double lo, double hi, double *out, sg_api_error **err) {
    if (!json_is_number(v)) return fail(err, name, "'%s' must be a number, not %s", name, type_name(v));
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi)
        return fail(err, name, "'%s' must be between %g and %g, got %g", name, lo, hi, x);
    *out = x;
    return 0;
}

static int get_int(json_t *v, const char *name, long long lo, long long hi, long long *out,
                   sg_api_error **err) {
    if (!json_is_integer(v)) return fail(err, name, "'%s' must be an integer, not %s", name, type_name(v));
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return fail(err, name, "'%s' must be between %lld and %lld, got %lld", name, lo, hi, x);
    *out = x;
    return 0;
}

static int get_bool(json_t *v, const char *name, int *out, sg_api_error **err) {
    if (!json_is_boolean(v)) return fail(err, name, "'%s' must be a boolean, not %s", name, type_name(v));
    *out = json_is_true(v);
    return 0;
}

static int parse_ids(json_t *arr, sg_prompt *p, sg_api_error **err) {
    size_t n = json_array_size(arr);
    if (n == 0) return fail(err, "prompt", "a token-id prompt must not be empty");
    p->ids = malloc(n * sizeof *p->ids);
    if (!p->ids) return fail(err, "prompt", "out of memory");
    p->n_ids = (int)n;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(arr, i);
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > 0x7fffffff)
            return fail(err, "prompt", "token %zu of the prompt must be a non-negative integer", i);
        p->ids[i] = (int)json_integer_value(t);
    }
    return 0;
}

static int parse_prompt(json_t *v, sg_completion_request *r, sg_api_error **err) {
    if (!v) {
        r->prompts[0].text = "";
        r->n_prompts = 1;
        return 0;
    }
    if (json_is_string(v)) {
        r->prompts[0].text = json_string_value(v);
        r->prompts[0].text_len = json_string_length(v);
        r->n_prompts = 1;
        return 0;
    }
    if (!json_is_array(v))
        return fail(err, "prompt", "'prompt' must be a string, a list of strings or token ids, not %s",
                    type_name(v));
    size_t n = json_array_size(v);
    if (n == 0) return fail(err, "prompt", "'prompt' must not be an empty list");
    json_t *first = json_array_get(v, 0);
    if (json_is_integer(first)) { /* one prompt as token ids */
        r->n_prompts = 1;
        return parse_ids(v, &r->prompts[0], err);
    }
    if (n > SG_REQ_MAX_PROMPTS)
        return fail(err, "prompt", "at most %d prompts per request", SG_REQ_MAX_PROMPTS);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        sg_prompt *p = &r->prompts[i];
        r->n_prompts = (int)i + 1;
        if (json_is_string(e)) {
            p->text = json_string_value(e);
            p->text_len = json_string_length(e);
        } else if (json_is_array(e)) {
            if (parse_ids(e, p, err)) return -1;
        } else {
            return fail(err, "prompt", "prompt %zu must be a string or a list of token ids, not %s", i,
                        type_name(e));
        }
    }
    return 0;
}

static int parse_stop(json_t *v, sg_completion_request *r, sg_api_error **err) {
    if (json_is_null(v)) return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0) return fail(err, "stop", "'stop' must not be empty");
        r->stop[0] = json_string_value(v);
        r->stop_len[0] = json_string_length(v);
        r->n_stop = 1;
        return 0;
    }
    if (!json_is_array(v))
        return fail(err, "stop", "'stop' must be a string or a list of strings, not %s", type_name(v));
    if (json_array_size(v) > SG_MAX_STOP)
        return fail(err, "stop", "'stop' takes at most %d sequences, got %zu", SG_MAX_STOP,
                    json_array_size(v));
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || json_string_length(e) == 0)
            return fail(err, "stop", "stop sequence %zu must be a non-empty string", i);
        r->stop[r->n_stop] = json_string_value(e);
        r->stop_len[r->n_stop++] = json_string_length(e);
    }
    return 0;
}

static int parse(json_t *root, sg_completion_request *r, sg_api_error **err) {
    memset(r, 0, sizeof *r);
    *err = NULL;
    r->max_tokens = 16;
    r->temperature = 1;
    r->top_p = 1;
    r->n = 1;
    r->logprobs = -1;
    if (!json_is_object(root))
        return fail(err, NULL, "the request body must be a JSON object, not %s", type_name(root));
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        long long i;
        double d;
        if (!strcmp(key, "model")) {
            if (!json_is_string(v) || !json_string_length(v))
                return fail(err, "model", "'model' must be a non-empty string");
            r->model = json_string_value(v);
        } else if (!strcmp(key, "prompt")) {
            if (parse_prompt(v, r, err)) return -1;
        } else if (!strcmp(key, "max_tokens")) {
            if (json_is_null(v)) continue;
            if (get_int(v, key, 1, 1 << 20, &i, err)) return -1;
            r->max_tokens = (int)i;
        } else if (!strcmp(key, "temperature")) {
            if (json_is_null(v)) continue;
            if (get_number(v, key, 0, 2, &r->temperature, err)) return -1;
        } else if (!strcmp(key, "top_p")) {
            if (json_is_null(v)) continue;
            if (get_number(v, key, 0, 1, &r->top_p, err)) return -1;
            if (r->top_p == 0) return fail(err, key, "'top_p' must be greater than 0");
        } else if (!strcmp(key, "n")) {
            if (json_is_null(v)) continue;
            if (get_int(v, key, 1, SG_REQ_MAX_N, &i, err)) return -1;
            r->n = (int)i;
        } else if (!strcmp(key, "stop")) {
            if (parse_stop(v, r, err)) return -1;
        } else if (!strcmp(key, "seed")) {
            if (json_is_null(v)) continue;
            if (!json_is_integer(v)) return fail(err, key, "'seed' must be an integer, not %s", type_name(v));
            r->has_seed = 1;
            r->seed = (uint64_t)json_integer_value(v);
        } else if (!strcmp(key, "stream")) {
            if (json_is_null(v)) continue;
            if (get_bool(v, key, &r->stream, err)) return -1;
        } else if (!strcmp(key, "stream_options")) {
            if (json_is_null(v)) continue;
            if (!json_is_object(v))
                return fail(err, key, "'stream_options' must be an object, not %s", type_name(v));
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) {
                if (strcmp(k2, "include_usage"))
                    return fail(err, "stream_options", "unknown stream option '%s'", k2);
                if (get_bool(v2, "stream_options.include_usage", &r->include_usage, err)) return -1;
            }
        } else if (!strcmp(key, "logprobs")) {
            if (json_is_null(v)) continue;
            if (get_int(v, key, 0, SG_MAX_LOGPROBS, &i, err)) return -1;
            r->logprobs = (int)i;
        } else if (!strcmp(key, "echo")) {
            if (json_is_null(v)) continue;
            if (get_bool(v, key, &r->echo, err)) return -1;
        } else if (!strcmp(key, "user")) {
            if (json_is_null(v)) continue;
            if (!json_is_string(v)) return fail(err, key, "'user' must be a string, not %s", type_name(v));
            r->user = json_string_value(v);
        } else if (!strcmp(key, "frequency_penalty") || !strcmp(key, "presence_penalty")) {
            if (json_is_null(v)) continue;
            if (get_number(v, key, -2, 2, &d, err)) return -1;
            if (d != 0) return fail(err, key, "'%s' is not supported by this server (only 0)", key);
        } else if (!strcmp(key, "best_of")) {
            if (json_is_null(v)) continue;
            if (get_int(v, key, 1, SG_REQ_MAX_N, &i, err)) return -1;
            if (i != 1) return fail(err, key, "'best_of' is not supported by this server (only 1)");
        } else if (!strcmp(key, "logit_bias")) {
            if (json_is_null(v)) continue;
            if (!json_is_object(v) || json_object_size(v))
                return fail(err, key, "'logit_bias' is not supported by this server");
        } else if (!strcmp(key, "suffix")) {
            if (!json_is_null(v)) return fail(err, key, "'suffix' is not supported by this server");
        } else {
            return fail(err, key, "unrecognized request argument supplied: %s", key);
        }
    }
    if (!r->model) return fail(err, "model", "you must provide a model parameter");
    if (r->include_usage && !r->stream)
        return fail(err, "stream_options", "'stream_options' is only allowed when 'stream' is true");
    if (r->n_prompts == 0) {
        r->prompts[0].text = "";
        r->n_prompts = 1;
    }
    if (r->n_prompts * r->n > 64)
        return fail(err, "n", "prompts x n = %d choices exceeds the limit of 64", r->n_prompts * r->n);
    return 0;
}

sg_api_error *sg_completion_request_parse(json_t *root, sg_completion_request *r) {
    sg_api_error *err = NULL;
    if (parse(root, r, &err) || err)
        sg_completion_request_clear(r); /* token ids of the prompts read before the problem */
    return err;
}

void sg_completion_request_clear(sg_completion_request *r) {
    for (int i = 0; i < SG_REQ_MAX_PROMPTS; i++) {
        free(r->prompts[i].ids);
        r->prompts[i].ids = NULL;
    }
}
