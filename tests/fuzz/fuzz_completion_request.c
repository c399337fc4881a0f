/* fuzz_completion_request.c — libFuzzer target: any bytes as the body of
 * POST /v1/completions, through the same steps the server takes (UTF-8
 * check, JSON parse, parameter validation). Each body is accepted or refused
 * with a message naming the parameter; an accepted one satisfies every bound
 * the rest of the server relies on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/init.h"
#include "base/utf8.h"
#include "server/http.h"
#include "server/request.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (sg_init()) abort(); /* the library start-up call (base/init.h) */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t bad;
    if (!sg_utf8_valid((const char *)data, size, &bad)) {
        if (bad >= size) abort();
        return 0;
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return 0;
    sg_completion_request r;
    sg_api_error *e = sg_completion_request_parse(root, &r);
    if (!e) {
        if (!r.model || r.n_prompts < 1 || r.n_prompts > SG_REQ_MAX_PROMPTS) abort();
        if (r.n < 1 || r.n > SG_REQ_MAX_N || r.n_prompts * r.n > 64) abort();
        if (r.max_tokens < 1 || r.temperature < 0 || r.temperature > 2 || r.top_p <= 0 || r.top_p > 1)
            abort();
        if (r.n_stop < 0 || r.n_stop > SG_MAX_STOP || r.logprobs < -1 || r.logprobs > SG_MAX_LOGPROBS)
            abort();
        for (int i = 0; i < r.n_stop; i++)
            if (!r.stop[i] || r.stop_len[i] == 0) abort();
        for (int i = 0; i < r.n_prompts; i++) {
            const sg_prompt *p = &r.prompts[i];
            if (!p->text && (!p->ids || p->n_ids < 1)) abort();
            for (int k = 0; !p->text && k < p->n_ids; k++)
                if (p->ids[k] < 0) abort();
        }
    } else if (!sg_api_error_message(e)[0] || e->status != 400) {
        abort();
    }
    sg_api_error_free(e);
    sg_completion_request_clear(&r);
    json_decref(root);
    return 0;
}
