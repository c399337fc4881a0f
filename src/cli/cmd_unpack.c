/* cmd_unpack.c — `stagegate unpack`: open a bundle with the licensee's key. */
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>

#include "base/log.h"
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "distribution/bundle.h"
#include "distribution/keyfiles.h"

typedef struct {
    const char *v[3];
} unpack_opts;
#define V(i) (offsetof(unpack_opts, v) + (i) * sizeof(const char *))
static const sg_cli_opt table[] = {
    {"key", 0, SG_CLI_STRING, V(0), .arg = "NAME.key", .help = "the licensee's secret key", .required = 1},
    {"output", 'o', SG_CLI_STRING, V(1), .arg = "DIR", .help = "where the files go (must not exist)",
     .required = 1},
    {"release-key", 0, SG_CLI_STRING, V(2), .arg = "release.pub",
     .help = "check the bundle's origin against this key"},
    {0},
};
#undef V
static const sg_cli_cmd cmd_spec = {
    .name = "unpack",
    .summary = "open a bundle with the licensee's key",
    .args = "FILE",
    .min_args = 1,
    .max_args = 1,
    .opts = table,
};

int sg_cmd_unpack(int argc, char **argv) {
    const char *cmd = "unpack";
    unpack_opts o = {0};
    int np, rc = sg_cli_parse(&cmd_spec, argc, argv, &o, &np);
    if (rc >= 0) return rc;
    const char **v = o.v, *const *pos = (const char *const *)argv + 1;
    unsigned char pk[crypto_box_PUBLICKEYBYTES], rpk[crypto_sign_PUBLICKEYBYTES];
    unsigned char *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (!sk) return sg_cli_fail(cmd, sg_error_new("out of memory"));
    sg_error *err = sg_licensee_read_secret(v[0], pk, sk);
    if (!err && v[2]) err = sg_release_public_read(v[2], rpk);
    sg_manifest m;
    double t0 = sg_monotonic_s();
    if (!err) err = sg_bundle_unpack(pos[0], pk, sk, v[2] ? rpk : NULL, v[1], &m);
    double secs = sg_monotonic_s() - t0;
    sodium_free(sk);
    if (err) return sg_cli_fail(cmd, err);
    double bytes = 0;
    for (int i = 0; i < m.n_files; i++) bytes += (double)m.files[i].size;
    printf(
        "unpacked %s into %s: model %s, stage %s, licensee %s, %d files, %.1f MB in %.2f s (%.0f MB/s)%s\n",
        pos[0], v[1], m.model, m.stage, m.licensee, m.n_files, bytes / 1e6, secs,
        secs > 0 ? bytes / 1e6 / secs : 0.0, v[2] ? "" : "\nnote: origin not checked (no --release-key)");
    return 0;
}
