/* fuzz_auth.c — libFuzzer target: any bytes as an Authorization header, a
 * key reference (`keys revoke`/`show`) and a duration (`--expires`). Each
 * must be accepted or refused cleanly; only the real secret authenticates. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access/keys.h"
#include "base/init.h"

static sg_store *store;
static sg_keys *keys;
static char secret[SG_KEY_SECRET_LEN + 1];

static void init(void) {
    char dir[] = "/tmp/sg_fuzz_auth_XXXXXX";
    char keyfile[64];
    if (!mkdtemp(dir)) abort();
    snprintf(keyfile, sizeof keyfile, "%s/k.key", dir);
    int64_t id;
    sg_key_spec spec = {.name = "fuzz", .audience = "internal_devs"};
    if (sg_store_open(":memory:", &store) || sg_keys_open(store, keyfile, &keys) ||
        sg_keys_create(keys, &spec, secret, &id))
        abort();
    unlink(keyfile);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (sg_init()) abort(); /* the library start-up call (base/init.h) */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!store) init();
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    sg_principal who;
    sg_auth_result res;
    sg_error *err = sg_keys_authenticate(keys, s, 1, &who, &res);
    if (err) abort(); /* an in-memory store cannot fail here */
    if (res == SG_AUTH_OK && !strstr(s, secret)) abort();
    (void)strlen(sg_auth_result_message(res));

    sg_key_record rec;
    bool found;
    err = sg_keys_find(keys, s, &rec, &found);
    if (err)
        sg_error_free(err);
    else if (found && strcmp(s, secret) != 0 && strspn(s, "0123456789") != strlen(s))
        abort();

    int64_t ms;
    err = sg_parse_duration_ms(s, &ms);
    if (err)
        sg_error_free(err);
    else if (ms <= 0)
        abort();
    free(s);
    return 0;
}
