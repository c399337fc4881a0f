/* cmd_release.c — `stagegate release keygen`: the release's Ed25519 signing key. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "access/audit.h"
#include "cli/commands.h"
#include "cli/dist_opts.h"
#include "distribution/keyfiles.h"
#include "store/store.h"

static const char usage_text[] =
    "usage: stagegate release keygen --db PATH -o release.pub\n"
    "       stagegate release pubkey --db PATH -o release.pub\n"
    "\n"
    "keygen creates the release signing key (Ed25519) in the store: the secret is kept\n"
    "encrypted under a key derived from PATH.key (beside the database, mode 0600) and\n"
    "never printed; the public key is written to release.pub for anyone to verify\n"
    "bundles with. pubkey writes the existing public key again.\n";

int sg_cmd_release(int argc, char **argv) {
    const char *cmd = "release";
    if (argc < 2) return sg_dist_usage(cmd, usage_text, "missing sub-command");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, stdout);
        return 0;
    }
    static const char *const names[] = {"db", "output", NULL};
    const char *v[2] = {0}, *pos[1];
    int np = 0;
    int rc = sg_dist_parse(cmd, usage_text, argc, argv, 2, names, v, pos, 0, &np);
    if (rc) return rc == 1 ? 0 : rc;
    int keygen = !strcmp(argv[1], "keygen");
    if (!keygen && strcmp(argv[1], "pubkey")) return sg_dist_usage(cmd, usage_text, "unknown sub-command");
    if (!v[0] || !v[1]) return sg_dist_usage(cmd, usage_text, "--db PATH and -o FILE are required");
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
    return err ? sg_dist_fail(cmd, err) : 0;
}
