/* fuzz_manifest.c — libFuzzer target for what a bundle's trailer carries: the
 * DSSE envelope parser/verifier and the in-toto manifest parser. Any input
 * either fails with a message or yields a manifest whose file names are safe
 * (plain names, no paths) and that survives a round trip. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/init.h"
#include "distribution/dsse.h"
#include "distribution/manifest.h"

static void check_manifest(const char *json, size_t n) {
    sg_manifest m, back;
    sg_error *err = sg_manifest_parse(json, n, &m);
    if (err) {
        if (!sg_error_message(err)[0]) abort();
        sg_error_free(err);
        return;
    }
    for (int i = 0; i < m.n_files; i++)
        if (!sg_manifest_name_ok(m.files[i].name) || strchr(m.files[i].name, '/')) abort();
    char *again = NULL;
    if (sg_manifest_to_json(&m, &again)) abort();
    if (sg_manifest_parse(again, strlen(again), &back)) abort();
    if (memcmp(&m, &back, sizeof m) != 0) abort();
    free(again);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (sg_init()) abort(); /* the library start-up call (base/init.h) */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 1) {
        check_manifest((const char *)data + 1, size - 1);
    } else {
        static const unsigned char pk[32] = {1, 2, 3};
        char *payload = NULL;
        size_t n = 0;
        sg_error *err =
            sg_dsse_verify((const char *)data + 1, size - 1, SG_INTOTO_PAYLOAD_TYPE, pk, &payload, &n);
        if (err) {
            if (payload || !sg_error_message(err)[0]) abort();
            sg_error_free(err);
        } else {
            check_manifest(payload, n);
            free(payload);
        }
    }
    return 0;
}
