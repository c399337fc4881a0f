/* cmd_flags.c — `stagegate flags list|resolve`: the community flags raised
 * through POST /v1/flags (server/guard.h), and their resolution; upholding
 * enough flags against a key suspends it (the policy's flags.suspend_after). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/keys.h"
#include "base/log.h"
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "release/policy.h"
#include "server/guard.h"
#include "store/store_flags.h"

typedef struct {
    const char *db, *policy;
    int json, uphold, dismiss;
} flags_opts;

#define OPT_DB                                                                                               \
    {                                                                                                        \
        "db", 0, SG_CLI_STRING, offsetof(flags_opts, db), .arg = "PATH", .help = "the store",                \
                                                          .def = "./stagegate.db"                            \
    }
static const sg_cli_opt list_table[] = {
    OPT_DB,
    {"json", 0, SG_CLI_FLAG, offsetof(flags_opts, json), .arg = NULL, .help = "one JSON object per line"},
    {0},
};
static const sg_cli_opt resolve_table[] = {
    {"uphold", 0, SG_CLI_FLAG, offsetof(flags_opts, uphold), .arg = NULL, .help = "uphold the flag"},
    {"dismiss", 0, SG_CLI_FLAG, offsetof(flags_opts, dismiss), .arg = NULL, .help = "dismiss the flag"},
    OPT_DB,
    {"policy", 0, SG_CLI_STRING, offsetof(flags_opts, policy), .arg = "FILE",
     .help = "suspend (revoke, audited) a key whose upheld flags reach the policy's flags.suspend_after"},
    {0},
};
#undef OPT_DB
static const sg_cli_cmd list_cmd = {
    .name = "flags list",
    .summary = "every flag: id, status, completion, key, audit record, category and comment",
    .opts = list_table,
};
static const sg_cli_cmd resolve_cmd = {
    .name = "flags resolve",
    .summary = "uphold or dismiss open flag ID (audited); give exactly one of --uphold and --dismiss",
    .args = "ID",
    .min_args = 1,
    .max_args = 1,
    .opts = resolve_table,
};

static int list(const char *db, int as_json) {
    sg_store *store = NULL;
    sg_flag_record *flags = NULL;
    size_t n = 0;
    sg_error *err = sg_store_open(db, &store);
    if (!err) err = sg_store_flag_list(store, &flags, &n);
    sg_store_close(store);
    if (err) return sg_cli_fail("flags", err);
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
    if (!*id_text || *end || id <= 0) return sg_cli_usage("flags", "ID must be a flag number");
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
    if (err) return sg_cli_fail("flags", err);
    printf("flag #%lld %s\n", id, uphold ? "upheld" : "dismissed");
    if (suspended) printf("key %" PRId64 " suspended (flags.suspend_after reached)\n", suspended);
    return 0;
}

static int run_list(int argc, char **argv) {
    flags_opts o = {.db = "./stagegate.db"};
    int rc = sg_cli_parse(&list_cmd, argc, argv, &o, NULL);
    return rc >= 0 ? rc : list(o.db, o.json);
}

static int run_resolve(int argc, char **argv) {
    flags_opts o = {.db = "./stagegate.db"};
    int rc = sg_cli_parse(&resolve_cmd, argc, argv, &o, &(int){0});
    if (rc >= 0) return rc;
    if (o.uphold == o.dismiss) return sg_cli_usage("flags", "give exactly one of --uphold and --dismiss");
    return resolve(o.db, argv[1], o.uphold, o.policy);
}

int sg_cmd_flags(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"list", run_list, &list_cmd, NULL},
        {"resolve", run_resolve, &resolve_cmd, NULL},
        {0},
    };
    return sg_cli_dispatch("flags",
                           "Community flags on completions (POST /v1/flags): list, uphold or dismiss.", subs,
                           argc, argv);
}
