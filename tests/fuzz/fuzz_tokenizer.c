/* fuzz_tokenizer.c — libFuzzer target: encode then decode arbitrary bytes
 * (with and without the special token) must give the bytes back, and every
 * id must be in the vocabulary. The tokenizer is trained once, at start-up,
 * by bpe_train on a small built-in text with some non-ASCII and invalid
 * UTF-8 in it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/init.h"
#include "engine/tokenizer.h"
#include "train/bpe_train.h"

static const char TEXT[] =
    "Fellow-Citizens of the Senate and House of Representatives: the state of the Union is strong.\n"
    "It's been 200 years; we'll say they're right, I'm sure, you've done it, he'd go.\n\n\n"
    "  indented\ttabs\r\nCRLF  trailing   \n<|endoftext|>Call me Ishmael. Привет мир 你好世界 😀😀 "
    "\xff\xfe\xc3\x28 12345678 3.14 !!! ... ??? ---\n";

static sg_tokenizer *tok;

static void die(sg_error *err) {
    fprintf(stderr, "fuzz_tokenizer setup: %s\n", sg_error_message(err));
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    if (sg_init()) abort(); /* the library start-up call (base/init.h) */
    (void)argc, (void)argv;
    char dir[] = "/tmp/sg_fuzz_tok_XXXXXX";
    if (!mkdtemp(dir)) abort();
    sg_bpe_trainer *tr;
    sg_error *err = sg_bpe_trainer_new(&tr);
    if (!err) err = sg_bpe_trainer_add_text(tr, TEXT, sizeof TEXT - 1);
    if (!err) err = sg_bpe_trainer_train(tr, 330, dir);
    if (err) die(err);
    sg_bpe_trainer_free(tr);
    if ((err = sg_tokenizer_load(dir, &tok))) die(err);
    char path[64];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int special = 0; special < 2; special++) {
        int *ids, n;
        sg_error *err = sg_tokenizer_encode(tok, (const char *)data, size, special, &ids, &n);
        if (err) abort();
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= sg_tokenizer_vocab_size(tok)) abort();
        char *back;
        size_t len;
        if ((err = sg_tokenizer_decode(tok, ids, n, &back, &len))) abort();
        if (len != size || (size && memcmp(back, data, size))) abort();
        free(back);
        free(ids);
    }
    /* Arbitrary ids decode or fail cleanly. */
    int ids[64], n = 0;
    for (size_t i = 0; i + 1 < size && n < 64; i += 2) ids[n++] = (data[i] | data[i + 1] << 8) - 1000;
    char *back;
    size_t len;
    sg_error *err = sg_tokenizer_decode(tok, ids, n, &back, &len);
    if (err)
        sg_error_free(err);
    else
        free(back);
    return 0;
}
