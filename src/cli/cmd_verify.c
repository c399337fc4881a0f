/* cmd_verify.c — `stagegate verify`: check a bundle or an unpacked directory
 * against the release's public key. */
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "distribution/bundle.h"
#include "distribution/keyfiles.h"

typedef struct {
    const char *v[1];
} verify_opts;
static const sg_cli_opt table[] = {
    {"release-key", 0, SG_CLI_STRING, offsetof(verify_opts, v), .arg = "release.pub",
     .help = "the release's public key", .required = 1},
    {0},
};
static const sg_cli_cmd cmd_spec = {
    .name = "verify",
    .summary = "check a bundle or unpacked directory against the release key",
    .args = "FILE|DIR",
    .min_args = 1,
    .max_args = 1,
    .opts = table,
};

int sg_cmd_verify(int argc, char **argv) {
    const char *cmd = "verify";
    verify_opts o = {0};
    int np, rc = sg_cli_parse(&cmd_spec, argc, argv, &o, &np);
    if (rc >= 0) return rc;
    const char **v = o.v, *const *pos = (const char *const *)argv + 1;
    unsigned char pk[32];
    sg_error *err = sg_release_public_read(v[0], pk);
    struct stat st;
    if (!err && stat(pos[0], &st) != 0) err = sg_error_new("%s: no such file or directory", pos[0]);
    sg_manifest m;
    if (!err)
        err = S_ISDIR(st.st_mode) ? sg_bundle_verify_dir(pos[0], pk, &m)
                                  : sg_bundle_verify_file(pos[0], pk, &m);
    if (err) return sg_cli_fail(cmd, err);
    char kid[17];
    sg_key_id(pk, kid);
    printf("OK %s: signed by release key %s; model %s, stage %s, licensee %s, issued %s\n", pos[0], kid,
           m.model, m.stage, m.licensee, m.issued);
    for (int i = 0; i < m.n_files; i++)
        printf("  %-20s %12llu  sha256:%s\n", m.files[i].name, (unsigned long long)m.files[i].size,
               m.files[i].sha256);
    return 0;
}
