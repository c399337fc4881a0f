/* cmd_flags.c — `stagegate flags list|resolve`: the community flags raised
 * through POST /v1/flags (server/guard.h), and their resolution; upholding
 * enough flags against a key suspends it (the policy's flags.suspend_after). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/keys.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/dist_opts.h"
#include "release/policy.h"
#include "server/guard.h"
#include "store/store_flags.h"

static const char *const usage_text =
    "usage: stagegate flags list    [--db PATH] [--json]\n"
    "       stagegate flags resolve ID --uphold|--dismiss [--db PATH] [--policy FILE]\n"
    "\n"
    "list     every flag: id, status, completion, the key that raised it, the\n"
    "         completion's audit record, category and comment.\n"
    "resolve  upholds or dismisses an open flag (audited). With --policy, a key\n"
    "         whose upheld flags reach flags.suspend_after is suspended (revoked,\n"
    "         audited with the reason).\n"
    "--db defaults to ./stagegate.db.\n";

static int list(const char *db, int as_json) {
    sg_store *store = NULL;
    sg_flag_record *flags = NULL;
    size_t n = 0;
    sg_error *err = sg_store_open(db, &store);
    if (!err) err = sg_store_flag_list(store, &flags, &n);
    sg_store_close(store);
    if (err) return sg_dist_fail("flags", err);
    if (!as_json)
        printf("%-5s %-9s %-30s %-6s %-8s %-16s %s\n", "ID", "STATUS", "COMPLETION", "KEY", "AUDIT",
               "CATEGORY", "COMMENT");
    for (size_t i = 0; i < n; i++) {
        const sg_flag_record *f = &flags[i];
        if (as_json)
            printf("{\"id\":%" PRId64 ",\"status\":\"%s\",\"completion_id\":\"%s\",\"key_id\":%" PRId64
                   ",\"audit_seq\":%" PRId64 ",\"created_ms\":%" PRId64 "}\n",
                   f->id, f->status, f->completion_id, f->key_id, f->audit_seq, f->created_ms);
        else
            printf("%-5" PRId64 " %-9s %-30s %-6" PRId64 " %-8" PRId64 " %-16s %s\n", f->id, f->status,
                   f->completion_id, f->key_id, f->audit_seq, f->category, f->comment);
    }
    free(flags);
    return 0;
}

static int resolve(const char *db, const char *id_text, int uphold, const char *policy_path) {
    char *end = NULL;
    long long id = strtoll(id_text, &end, 10);
    if (!*id_text || *end || id <= 0) return sg_dist_usage("flags", usage_text, "ID must be a flag number");
    sg_policy *policy = NULL;
    sg_store *store = NULL;
    sg_keys *keys = NULL;
    sg_error *err = policy_path ? sg_policy_load(policy_path, &policy) : NULL;
    if (!err) err = sg_store_open(db, &store);
    char *key_path = err ? NULL : sg_keys_key_path(db);
    if (!err && !key_path) err = sg_error_new("out of memory");
    if (!err) err = sg_keys_open(store, key_path, &keys);
    free(key_path);
    int64_t suspended = 0;
    if (!err) err = sg_guard_resolve_flag(store, keys, policy, id, uphold, &suspended);
    sg_keys_close(keys);
    sg_store_close(store);
    sg_policy_free(policy);
    if (err) return sg_dist_fail("flags", err);
    printf("flag #%lld %s\n", id, uphold ? "upheld" : "dismissed");
    if (suspended) printf("key %" PRId64 " suspended (flags.suspend_after reached)\n", suspended);
    return 0;
}

int sg_cmd_flags(int argc, char **argv) {
    static const char *const names[] = {"db", "json!", "uphold!", "dismiss!", "policy", NULL};
    const char *v[5] = {0}, *pos[2] = {0};
    int n_pos = 0;
    if (argc < 2) return sg_dist_usage("flags", usage_text, "missing verb (list or resolve)");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, stdout);
        return 0;
    }
    int rc = sg_dist_parse("flags", usage_text, argc, argv, 2, names, v, pos, 2, &n_pos);
    if (rc == 1) return 0;
    if (rc) return rc;
    const char *db = v[0] ? v[0] : "./stagegate.db";
    if (!strcmp(argv[1], "list")) {
        if (n_pos) return sg_dist_usage("flags", usage_text, "list takes no arguments");
        return list(db, v[1] != NULL);
    }
    if (!strcmp(argv[1], "resolve")) {
        if (n_pos != 1) return sg_dist_usage("flags", usage_text, "resolve takes one flag ID");
        if (!v[2] == !v[3])
            return sg_dist_usage("flags", usage_text, "give exactly one of --uphold and --dismiss");
        return resolve(db, pos[0], v[2] != NULL, v[4]);
    }
    return sg_dist_usage("flags", usage_text, "unknown verb (list or resolve)");
}
