/* fuzz_filter.c — libFuzzer target: arbitrary bytes through normalisation,
 * scanning, redaction and the streaming filter, checking that every span
 * lies inside the input and the stream never releases more than it got. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/init.h"
#include "safety/default_rules.h"
#include "safety/filter.h"
#include "safety/normalize.h"

static sg_filter *filter;
static sg_normalizer *nz;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (sg_init()) abort(); /* the library start-up call (base/init.h) */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!filter) {
        if (sg_filter_new(sg_default_filter_rules(), &filter) || sg_normalizer_new(NULL, NULL, 0, &nz))
            abort();
    }
    const char *text = (const char *)data;
    for (int view = 0; view < 2; view++) {
        sg_norm_text t;
        if (sg_normalize(nz, text, size, (sg_norm_view)view, &t)) abort();
        for (size_t i = 0; i < t.len; i++)
            if (t.orig_start[i] > t.orig_end[i] || t.orig_end[i] > size) abort();
        sg_norm_text_free(&t);
    }
    sg_filter_matches m;
    if (sg_filter_scan(filter, text, size, SG_FILTER_ANY, &m)) abort();
    for (size_t i = 0; i < m.n; i++)
        if (m.items[i].start >= m.items[i].end || m.items[i].end > size) abort();
    size_t n;
    free(sg_filter_redact(text, size, &m, &n));
    sg_filter_matches_free(&m);

    /* The stream, fed in pieces whose sizes come from the data itself. */
    sg_filter_stream *s;
    if (sg_filter_stream_new(filter, &s)) abort();
    size_t at = 0, released = 0;
    int blocked = 0;
    while (at < size && !blocked) {
        size_t k = 1 + data[at] % 7;
        if (k > size - at) k = size - at;
        sg_filter_chunk c;
        if (sg_filter_stream_push(s, text + at, k, &c)) abort();
        at += k;
        released += c.len;
        blocked = c.blocked;
    }
    sg_filter_chunk c;
    if (sg_filter_stream_finish(s, &c)) abort();
    released += c.len;
    (void)released;
    sg_filter_stream_free(s);
    return 0;
}
