/* cmd_release.c — `stagegate release keygen`: the release's Ed25519 signing key. */
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "access/audit.h"
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "distribution/keyfiles.h"
#include "store/store.h"

typedef struct {
    const char *db, *out;
} release_opts;
static const sg_cli_opt table[] = {
    {"db", 0, SG_CLI_STRING, offsetof(release_opts, db), .arg = "PATH", .help = "the store", .required = 1},
    {"output", 'o', SG_CLI_STRING, offsetof(release_opts, out), .arg = "release.pub",
     .help = "where the public key goes", .required = 1},
    {0},
};
static const sg_cli_cmd keygen_cmd = {
    .name = "release keygen",
    .summary = "create the release signing key (Ed25519) in the store; write its public key",
    .opts = table,
    .description =
        "The secret is kept encrypted under a key derived from PATH.key (beside the database,\n"
        "mode 0600) and never printed; the public key is written for anyone to verify bundles with.\n",
};
static const sg_cli_cmd pubkey_cmd = {
    .name = "release pubkey",
    .summary = "write the existing release public key again",
    .opts = table,
};

static int run(const sg_cli_cmd *spec, int argc, char **argv) {
    const char *cmd = "release";
    release_opts o = {0};
    int rc = sg_cli_parse(spec, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *v[2] = {o.db, o.out};
    int keygen = spec == &keygen_cmd;
    sg_store *store = NULL;
    sg_error *err = sg_store_open(v[0], &store);
    unsigned char pk[32], sk[64];
    if (!err)
        err = keygen ? sg_release_key_create(store, v[0], pk) : sg_release_key_load(store, v[0], pk, sk);
    sodium_memzero(sk, sizeof sk);
    if (!err) err = sg_release_public_write(v[1], pk);
    if (!err && keygen) {
        err = sg_audit_note(store, 0, "release-key-created", NULL, NULL, NULL, NULL);
    }
    if (!err) {
        char kid[17];
        sg_key_id(pk, kid);
        printf("release key %s; public key written to %s\n", kid, v[1]);
    }
    sg_store_close(store);
    return err ? sg_cli_fail(cmd, err) : 0;
}

static int run_keygen(int argc, char **argv) { return run(&keygen_cmd, argc, argv); }
static int run_pubkey(int argc, char **argv) { return run(&pubkey_cmd, argc, argv); }

int sg_cmd_release(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"keygen", run_keygen, &keygen_cmd, NULL},
        {"pubkey", run_pubkey, &pubkey_cmd, NULL},
        {0},
    };
    return sg_cli_dispatch("release", "The release's Ed25519 signing key.", subs, argc, argv);
}
