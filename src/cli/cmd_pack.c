/* cmd_pack.c — `stagegate pack`: issue a fingerprinted, encrypted, signed
 * bundle of a model to one licensee. */
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "base/fileio.h"
#include "base/log.h"
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "distribution/bundle.h"
#include "distribution/fingerprint.h"
#include "distribution/keyfiles.h"
#include "release/policy.h"
#include "store/store_distribution.h"

enum { O_DB, O_MODEL, O_TO, O_OUT, O_POLICY, O_LICENSE, O_STAGE, O_NAME };
typedef struct {
    const char *v[8];
    double epsilon;
    int no_fp;
} pack_opts;
#define V(i) (offsetof(pack_opts, v) + (i) * sizeof(const char *))
static const sg_cli_opt table[] = {
    {"db", 0, SG_CLI_STRING, V(O_DB), .arg = "PATH", .help = "the store (licensees, release key, issues)",
     .required = 1},
    {"model", 'm', SG_CLI_STRING, V(O_MODEL), .arg = "MODEL_DIR", .help = "the checkpoint directory",
     .required = 1},
    {"to", 0, SG_CLI_STRING, V(O_TO), .arg = "LICENSEE", .help = "the licensee the bundle is for",
     .required = 1},
    {"output", 'o', SG_CLI_STRING, V(O_OUT), .arg = "FILE", .help = "the bundle", .required = 1},
    {"policy", 0, SG_CLI_STRING, V(O_POLICY), .arg = "FILE",
     .help = "the stage must release the model as downloadable"},
    {"license", 0, SG_CLI_STRING, V(O_LICENSE), .arg = "FILE", .help = "the license text",
     .def = "the policy's license: file"},
    {"stage", 0, SG_CLI_STRING, V(O_STAGE), .arg = "NAME", .help = "the stage checked with --policy",
     .def = "its current stage"},
    {"name", 0, SG_CLI_STRING, V(O_NAME), .arg = "MODEL", .help = "the model's name in the manifest",
     .def = "MODEL_DIR's name"},
    {"epsilon", 0, SG_CLI_DOUBLE, offsetof(pack_opts, epsilon), .arg = "E",
     .help = "the fingerprint's size relative to each matrix's RMS, in (0, 1)"},
    {"no-fingerprint", 0, SG_CLI_FLAG, offsetof(pack_opts, no_fp), .arg = NULL,
     .help = "do not fingerprint the weights"},
    {0},
};
#undef V
static const sg_cli_cmd cmd_spec = {
    .name = "pack",
    .summary = "issue an encrypted, signed, fingerprinted bundle to a licensee",
    .opts = table,
    .description = "Writes one file holding MODEL_DIR's config.json, model.safetensors (fingerprinted\n"
                   "for this licensee), vocab.json, merges.txt, README.md (the model card, if present)\n"
                   "and LICENSE, encrypted to the licensee's public key and signed with the release key.\n"
                   "The issue (licensee, time, license hash, original model path and hash) is recorded\n"
                   "in the store and the licensee's acceptance of the license in the audit log.\n",
};

static const char *base_name(const char *dir, char *buf, size_t cap) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = '\0';
    const char *slash = strrchr(tmp, '/');
    snprintf(buf, cap, "%s", slash ? slash + 1 : tmp);
    return buf;
}

int sg_cmd_pack(int argc, char **argv) {
    const char *cmd = "pack";
    pack_opts o = {.epsilon = SG_FP_DEFAULT_EPSILON};
    int rc = sg_cli_parse(&cmd_spec, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char **v = o.v;
    double epsilon = o.epsilon;
    if (!(epsilon > 0 && epsilon < 1))
        return sg_cli_usage(cmd, "--epsilon: expected a number between 0 and 1 (both excluded), got %g",
                            epsilon);
    sg_error *err = NULL;
    sg_policy *policy = NULL;
    char stage[SG_KEY_NAME_MAX] = "downloadable";
    if (v[O_STAGE]) snprintf(stage, sizeof stage, "%s", v[O_STAGE]);
    const char *license = v[O_LICENSE];
    if (v[O_POLICY]) {
        if ((err = sg_policy_load(v[O_POLICY], &policy))) return sg_cli_fail(cmd, err);
        int si = v[O_STAGE] ? sg_policy_stage_index(policy, v[O_STAGE]) : policy->current_stage;
        if (si < 0 || si >= policy->n_stages)
            err = sg_error_new("%s: no stage named '%s'", v[O_POLICY], v[O_STAGE]);
        else {
            snprintf(stage, sizeof stage, "%s", policy->stages[si].name);
            if (sg_policy_component_level(policy, si, SG_COMPONENT_MODEL) < SG_ACCESS_DOWNLOADABLE)
                err = sg_error_new(
                    "%s: stage '%s' does not release the model as a download (its model access is "
                    "below 'downloadable')",
                    v[O_POLICY], stage);
        }
        if (!license) license = policy->license;
    }
    if (!err && !license)
        err = sg_error_new("no license text: give --license FILE or a policy with a `license:` key");
    char model_name[SG_KEY_NAME_MAX];
    if (v[O_NAME])
        snprintf(model_name, sizeof model_name, "%s", v[O_NAME]);
    else
        base_name(v[O_MODEL], model_name, sizeof model_name);

    sg_store *store = NULL;
    if (!err) err = sg_store_open(v[O_DB], &store);
    sg_licensee_record lic;
    bool found = false;
    if (!err) err = sg_store_licensee_get(store, v[O_TO], 0, &lic, &found);
    if (!err && !found)
        err = sg_error_new("no licensee named '%s' (add it with `stagegate licensee add`)", v[O_TO]);
    if (!err && lic.revoked_ms) err = sg_error_new("licensee '%s' has been revoked", v[O_TO]);
    unsigned char *sk = sodium_malloc(64);
    unsigned char pk[32], fp_key[32], seed[32];
    sg_issue_record issue = {0};
    if (!err && !sk) err = sg_error_new("out of memory");
    if (!err) err = sg_release_key_load(store, v[O_DB], pk, sk);
    if (!err) err = sg_fp_key(v[O_DB], store, fp_key);
    char *weights = sg_path_join(v[O_MODEL], "model.safetensors");
    if (!err && !weights) err = sg_error_new("out of memory");
    if (!err && !realpath(weights, issue.original_path))
        err = sg_error_new("%s: cannot resolve its path", weights);
    if (!err) err = sg_blake2b_file(issue.original_path, issue.original_blake2b);
    if (!err) {
        randombytes_buf(issue.nonce, sizeof issue.nonce);
        sg_fp_seed(fp_key, lic.id, issue.nonce, seed);
    }
    sodium_memzero(fp_key, sizeof fp_key);
    sg_pack_result res;
    int64_t now = sg_now_ms();
    double t0 = sg_monotonic_s();
    if (!err) {
        sg_pack_spec spec = {.model_dir = v[O_MODEL],
                             .license_path = license,
                             .model_name = model_name,
                             .stage = stage,
                             .licensee = lic.name,
                             .recipient_pk = lic.public_key,
                             .release_sk = sk,
                             .release_pk = pk,
                             .fp_seed = o.no_fp ? NULL : seed,
                             .epsilon = epsilon,
                             .issued_ms = now,
                             .out_path = v[O_OUT]};
        err = sg_bundle_pack(&spec, &res);
    }
    double secs = sg_monotonic_s() - t0;
    sodium_memzero(seed, sizeof seed);
    if (!err && !o.no_fp) {
        issue.licensee_id = lic.id;
        snprintf(issue.model, sizeof issue.model, "%s", model_name);
        snprintf(issue.stage, sizeof issue.stage, "%s", stage);
        issue.epsilon = epsilon;
        snprintf(issue.license_sha256, sizeof issue.license_sha256, "%s", res.manifest.license_sha256);
        snprintf(issue.bundle_sha256, sizeof issue.bundle_sha256, "%s", res.manifest.bundle_blake2b);
        issue.issued_ms = now;
        err = sg_store_issue_insert(store, &issue, &issue.id);
    }
    if (!err) {
        char reason[512];
        snprintf(reason, sizeof reason,
                 "licensee=%s license_sha256=%s bundle_blake2b=%s fingerprint=%s issue=%" PRId64, lic.name,
                 res.manifest.license_sha256, res.manifest.bundle_blake2b, o.no_fp ? "none" : "keyed",
                 issue.id);
        err = sg_audit_note(store, now, "license-accepted", stage, NULL, model_name, reason);
    }
    if (!err)
        printf("packed %s for %s: %d files, %.1f MB in %.2f s (%.0f MB/s), issue %" PRId64 "\n", v[O_OUT],
               lic.name, res.manifest.n_files, res.plain_bytes / 1e6, secs,
               secs > 0 ? res.plain_bytes / 1e6 / secs : 0.0, issue.id);
    if (sk) sodium_free(sk);
    free(weights);
    sg_store_close(store);
    sg_policy_free(policy);
    return err ? sg_cli_fail(cmd, err) : 0;
}
