/* fuzz_safetensors.c — libFuzzer target for the safetensors header parser:
 * any input either fails with an error or yields tensors whose bytes all lie
 * inside the input and convert without trouble. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/init.h"
#include "engine/safetensors.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (sg_init()) abort(); /* the library start-up call (base/init.h) */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sg_safetensors *st;
    sg_error *err = sg_safetensors_parse("fuzz", data, size, &st);
    if (err) {
        if (!sg_error_message(err)[0]) abort(); /* errors always say something */
        sg_error_free(err);
        return 0;
    }
    for (int i = 0; i < st->n_tensors; i++) {
        const sg_st_tensor *t = &st->tensors[i];
        if (t->data < data + 8 || t->data + t->nbytes > data + size) abort();
        if (sg_safetensors_find(st, t->name) == NULL) abort();
        if (t->supported && t->numel <= 4096) {
            float *out = malloc(t->numel * sizeof(float) + 1);
            sg_convert_to_f32(t->dtype, t->data, out, t->numel);
            free(out);
        }
    }
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(sg_safetensors_meta(st, st->meta[2 * i]), st->meta[2 * i + 1]) != 0 &&
            sg_safetensors_meta(st, st->meta[2 * i]) == NULL)
            abort();
    sg_safetensors_close(st);
    return 0;
}
