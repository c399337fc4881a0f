/* cmd_verify.c — `stagegate verify`: check a bundle or an unpacked directory
 * against the release's public key. */
#include <stdio.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/dist_opts.h"
#include "distribution/bundle.h"
#include "distribution/keyfiles.h"

static const char usage_text[] =
    "usage: stagegate verify FILE|DIR --release-key release.pub\n"
    "\n"
    "FILE (a bundle): checks the signed manifest with the release key and the BLAKE2b\n"
    "digest of the whole encrypted part it signs; no licensee key needed.\n"
    "DIR (an unpacked bundle): checks manifest.dsse.json's signature, every file's size\n"
    "and SHA-256, and that no unlisted file was added. Exit 0 only when all checks pass.\n";

int sg_cmd_verify(int argc, char **argv) {
    const char *cmd = "verify";
    static const char *const names[] = {"release-key", NULL};
    const char *v[1] = {0}, *pos[1] = {0};
    int np = 0;
    int rc = sg_dist_parse(cmd, usage_text, argc, argv, 1, names, v, pos, 1, &np);
    if (rc) return rc == 1 ? 0 : rc;
    if (np != 1 || !v[0]) return sg_dist_usage(cmd, usage_text, "FILE|DIR and --release-key are required");
    unsigned char pk[32];
    sg_error *err = sg_release_public_read(v[0], pk);
    struct stat st;
    if (!err && stat(pos[0], &st) != 0) err = sg_error_new("%s: no such file or directory", pos[0]);
    sg_manifest m;
    if (!err)
        err = S_ISDIR(st.st_mode) ? sg_bundle_verify_dir(pos[0], pk, &m)
                                  : sg_bundle_verify_file(pos[0], pk, &m);
    if (err) return sg_dist_fail(cmd, err);
    char kid[17];
    sg_key_id(pk, kid);
    printf("OK %s: signed by release key %s; model %s, stage %s, licensee %s, issued %s\n", pos[0], kid,
           m.model, m.stage, m.licensee, m.issued);
    for (int i = 0; i < m.n_files; i++)
        printf("  %-20s %12llu  sha256:%s\n", m.files[i].name, (unsigned long long)m.files[i].size,
               m.files[i].sha256);
    return 0;
}
