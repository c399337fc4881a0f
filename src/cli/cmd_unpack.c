/* cmd_unpack.c — `stagegate unpack`: open a bundle with the licensee's key. */
#include <sodium.h>
#include <stdio.h>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/dist_opts.h"
#include "distribution/bundle.h"
#include "distribution/keyfiles.h"

static const char usage_text[] =
    "usage: stagegate unpack FILE --key NAME.key -o DIR [--release-key release.pub]\n"
    "\n"
    "Decrypts a bundle issued to the holder of NAME.key into the new directory DIR,\n"
    "checking the manifest's signature, every chunk and every file's SHA-256 on the way;\n"
    "DIR appears only when everything checked (it is written as DIR.partial-* first).\n"
    "Without --release-key the signature is checked with the key the bundle names\n"
    "(integrity, not origin): pass the releaser's release.pub to check where it came from.\n"
    "DIR also receives manifest.dsse.json, the signed manifest.\n";

int sg_cmd_unpack(int argc, char **argv) {
    const char *cmd = "unpack";
    static const char *const names[] = {"key", "output", "release-key", NULL};
    const char *v[3] = {0}, *pos[1] = {0};
    int np = 0;
    int rc = sg_dist_parse(cmd, usage_text, argc, argv, 1, names, v, pos, 1, &np);
    if (rc) return rc == 1 ? 0 : rc;
    if (np != 1 || !v[0] || !v[1]) return sg_dist_usage(cmd, usage_text, "FILE, --key and -o are required");
    unsigned char pk[32], rpk[32];
    unsigned char *sk = sodium_malloc(32);
    if (!sk) return sg_dist_fail(cmd, sg_error_new("out of memory"));
    sg_error *err = sg_licensee_read_secret(v[0], pk, sk);
    if (!err && v[2]) err = sg_release_public_read(v[2], rpk);
    sg_manifest m;
    double t0 = sg_monotonic_s();
    if (!err) err = sg_bundle_unpack(pos[0], pk, sk, v[2] ? rpk : NULL, v[1], &m);
    double secs = sg_monotonic_s() - t0;
    sodium_free(sk);
    if (err) return sg_dist_fail(cmd, err);
    double bytes = 0;
    for (int i = 0; i < m.n_files; i++) bytes += (double)m.files[i].size;
    printf(
        "unpacked %s into %s: model %s, stage %s, licensee %s, %d files, %.1f MB in %.2f s (%.0f MB/s)%s\n",
        pos[0], v[1], m.model, m.stage, m.licensee, m.n_files, bytes / 1e6, secs,
        secs > 0 ? bytes / 1e6 / secs : 0.0, v[2] ? "" : "\nnote: origin not checked (no --release-key)");
    return 0;
}
