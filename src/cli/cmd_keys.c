/* cmd_keys.c — `stagegate keys create|list|revoke|show`: API key administration. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/audit.h"
#include "access/keys.h"
#include "base/log.h"
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "store/store_keys.h"

typedef struct {
    const char *db, *name, *audience, *expires, *ref;
    long rpm, tpm;
    char ref_buf[128]; /* the secret read from stdin for ref "-" */
} options;

#define OPT_DB                                                                                               \
    {                                                                                                        \
        "db", 0, SG_CLI_STRING, offsetof(options, db), .arg = "PATH", .help = "the store",                   \
                                                       .def = "./stagegate.db"                               \
    }
static const sg_cli_opt create_table[] = {
    OPT_DB,
    {"name", 0, SG_CLI_STRING, offsetof(options, name), .arg = "NAME", .help = "who the key is for",
     .required = 1},
    {"audience", 0, SG_CLI_STRING, offsetof(options, audience), .arg = "AUDIENCE",
     .help = "an audience of the policy", .required = 1},
    {"expires", 0, SG_CLI_STRING, offsetof(options, expires), .arg = "DURATION",
     .help = "a number and a unit: s, m, h, d or w (e.g. 30d)", .def = "never"},
    {"rpm", 0, SG_CLI_LONG, offsetof(options, rpm), .arg = "N", .help = "this key's requests per minute",
     .min = 1, .max = INFINITY, .def = "the policy's limit"},
    {"tpm", 0, SG_CLI_LONG, offsetof(options, tpm), .arg = "N", .help = "this key's tokens per minute",
     .min = 1, .max = INFINITY, .def = "the policy's limit"},
    {0},
};
static const sg_cli_opt db_table[] = {OPT_DB, {0}};
#undef OPT_DB
static const char keys_text[] =
    "Only a keyed hash of a secret is stored. The hashing key is the file PATH.key beside the database\n"
    "(mode 0600, created on first use): back it up with the database. Creations and revocations are\n"
    "recorded in the audit log.\n";
static const sg_cli_cmd create_cmd = {
    .name = "keys create",
    .summary = "create an API key; prints the secret once, alone on the last line",
    .opts = create_table,
    .description = keys_text,
};
static const sg_cli_cmd list_cmd = {
    .name = "keys list",
    .summary = "every key with its limits, expiry and status",
    .opts = db_table,
};
static const sg_cli_cmd revoke_cmd = {
    .name = "keys revoke",
    .summary = "revoke a key: its ID (as `keys list` shows), its secret, or - to read the secret from stdin",
    .args = "ID|SECRET|-",
    .min_args = 1,
    .max_args = 1,
    .opts = db_table,
    .description = keys_text,
};
static const sg_cli_cmd show_cmd = {
    .name = "keys show",
    .summary = "a key and its usage: its ID, its secret, or - to read the secret from stdin",
    .args = "ID|SECRET|-",
    .min_args = 1,
    .max_args = 1,
    .opts = db_table,
};

static int usage_error(const char *fmt, const char *arg) { return sg_cli_usage("keys", fmt, arg); }

/* Parses argv for c into o (the store defaults to ./stagegate.db); -1 to go on. */
static int parse(const sg_cli_cmd *c, int argc, char **argv, options *o) {
    int n_pos = 0, rc = sg_cli_parse(c, argc, argv, o, &n_pos);
    if (rc >= 0) return rc;
    if (n_pos) o->ref = argv[1];
    if (!o->db) o->db = "./stagegate.db";
    return -1;
}

static sg_error *open_all(const char *db, sg_store **store, sg_keys **keys) {
    sg_error *err = sg_store_open(db, store);
    if (err) return err;
    char *key_path = sg_keys_key_path(db);
    if (!key_path) err = sg_error_new("out of memory");
    if (!err) err = sg_keys_open(*store, key_path, keys);
    free(key_path);
    if (err) sg_store_close(*store);
    return err;
}

/* Administrative actions go on the audit trail too (key id 0: they are not
 * requests and count toward no key's usage). A failure is reported but does
 * not undo the action. */
static void admin_event(sg_store *store, const char *decision, const char *audience, const char *what) {
    sg_audit_record e = {.decision = decision, .audience = audience, .stage = "operator", .reason = what};
    sg_error *err = sg_audit_append(store, &e, NULL);
    if (err) {
        fprintf(stderr, "stagegate keys: warning: not recorded in the audit log: %s\n",
                sg_error_message(err));
        sg_error_free(err);
    }
}

static void format_time(int64_t ms, char *buf, size_t cap) {
    if (!ms) {
        snprintf(buf, cap, "never");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *status_of(const sg_key_record *k, int64_t now_ms) {
    if (k->revoked_ms) return "revoked";
    if (k->expires_ms && now_ms >= k->expires_ms) return "expired";
    return "active";
}

static void format_limit(int64_t v, char *buf, size_t cap) {
    if (v)
        snprintf(buf, cap, "%" PRId64, v);
    else
        snprintf(buf, cap, "policy");
}

static int cmd_create(options *o) {
    sg_key_spec spec = {.name = o->name, .audience = o->audience, .rpm = o->rpm, .tpm = o->tpm};
    if (o->expires) {
        int64_t ms;
        sg_error *err = sg_parse_duration_ms(o->expires, &ms);
        if (err) {
            fprintf(stderr, "stagegate keys: --expires: %s\n", sg_error_message(err));
            sg_error_free(err);
            return 2;
        }
        spec.expires_ms = sg_now_ms() + ms;
    }
    sg_store *store;
    sg_keys *keys;
    sg_error *err = open_all(o->db, &store, &keys);
    if (err) return sg_cli_fail("keys", err);
    char secret[SG_KEY_SECRET_LEN + 1];
    int64_t id;
    err = sg_keys_create(keys, &spec, secret, &id);
    char expires[32], rpm[24], tpm[24];
    format_time(spec.expires_ms, expires, sizeof expires);
    format_limit(spec.rpm, rpm, sizeof rpm);
    format_limit(spec.tpm, tpm, sizeof tpm);
    if (!err) {
        char what[512];
        snprintf(what, sizeof what, "key %" PRId64 " \"%s\" created (rpm %s, tpm %s, expires %s)", id,
                 spec.name, rpm, tpm, expires);
        admin_event(store, "key-created", spec.audience, what);
    }
    sg_keys_close(keys);
    sg_store_close(store);
    if (err) return sg_cli_fail("keys", err);
    printf("created key %" PRId64 " \"%s\" for audience %s (rpm %s, tpm %s, expires %s)\n", id, spec.name,
           spec.audience, rpm, tpm, expires);
    printf("the secret below is shown only this once; store it now:\n%s\n", secret);
    fflush(stdout);
    sodium_memzero(secret, sizeof secret);
    return 0;
}

static int cmd_list(options *o) {
    sg_store *store;
    sg_error *err = sg_store_open(o->db, &store);
    if (err) return sg_cli_fail("keys", err);
    sg_key_record *list;
    size_t n;
    err = sg_store_key_list(store, &list, &n);
    sg_store_close(store);
    if (err) return sg_cli_fail("keys", err);
    int64_t now = sg_now_ms();
    printf("%-5s %-20s %-18s %-8s %-8s %-21s %-21s %-8s %s\n", "ID", "NAME", "AUDIENCE", "RPM", "TPM",
           "CREATED", "EXPIRES", "STATUS", "SECRET");
    for (size_t i = 0; i < n; i++) {
        const sg_key_record *k = &list[i];
        char created[32], expires[32], rpm[24], tpm[24];
        format_time(k->created_ms, created, sizeof created);
        format_time(k->expires_ms, expires, sizeof expires);
        format_limit(k->rpm, rpm, sizeof rpm);
        format_limit(k->tpm, tpm, sizeof tpm);
        printf("%-5" PRId64 " %-20s %-18s %-8s %-8s %-21s %-21s %-8s sg-...%s\n", k->id, k->name, k->audience,
               rpm, tpm, created, expires, status_of(k, now), k->hint);
    }
    free(list);
    return 0;
}

/* "-" reads the secret from standard input (keeps it out of `ps`). */
static int resolve_ref(options *o) {
    char *buf = o->ref_buf;
    if (!o->ref) return usage_error("%s", "which key? give an ID, a secret or -");
    if (strcmp(o->ref, "-") != 0) return 0;
    if (!fgets(buf, (int)sizeof o->ref_buf, stdin)) {
        fprintf(stderr, "stagegate keys: no secret on standard input\n");
        return 2;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    o->ref = buf;
    return 0;
}

static int cmd_revoke(options *o) {
    int rc = resolve_ref(o);
    if (rc) return rc;
    sg_store *store;
    sg_keys *keys;
    sg_error *err = open_all(o->db, &store, &keys);
    if (err) return sg_cli_fail("keys", err);
    int64_t id = 0;
    bool already;
    err = sg_keys_revoke(keys, o->ref, sg_now_ms(), &id, &already);
    sg_key_record rec = {0};
    bool found = false;
    if (!err) err = sg_store_key_get(store, id, &rec, &found);
    if (!err && !already) {
        char what[256];
        snprintf(what, sizeof what, "key %" PRId64 " \"%s\" revoked", id, rec.name);
        admin_event(store, "key-revoked", rec.audience, what);
    }
    sg_keys_close(keys);
    sg_store_close(store);
    sodium_memzero(o->ref_buf, sizeof o->ref_buf);
    if (err) return sg_cli_fail("keys", err);
    printf("key %" PRId64 " \"%s\" %s\n", id, rec.name, already ? "was already revoked" : "revoked");
    return 0;
}

static int cmd_show(options *o) {
    int rc = resolve_ref(o);
    if (rc) return rc;
    sg_store *store;
    sg_keys *keys;
    sg_error *err = open_all(o->db, &store, &keys);
    if (err) return sg_cli_fail("keys", err);
    sg_key_record k;
    bool found = false;
    sg_usage total;
    sg_usage *days = NULL;
    size_t n_days = 0;
    err = sg_keys_find(keys, o->ref, &k, &found);
    if (!err && !found)
        err = strspn(o->ref, "0123456789") == strlen(o->ref) ? sg_error_new("no key with id %s", o->ref)
                                                             : sg_error_new("no key with that secret");
    if (!err) err = sg_store_usage_get(store, k.id, &total, &days, &n_days);
    sg_keys_close(keys);
    sg_store_close(store);
    sodium_memzero(o->ref_buf, sizeof o->ref_buf);
    if (err) return sg_cli_fail("keys", err);
    char created[32], expires[32], revoked[32], rpm[24], tpm[24];
    format_time(k.created_ms, created, sizeof created);
    format_time(k.expires_ms, expires, sizeof expires);
    format_time(k.revoked_ms, revoked, sizeof revoked);
    format_limit(k.rpm, rpm, sizeof rpm);
    format_limit(k.tpm, tpm, sizeof tpm);
    printf("id:                %" PRId64 "\n", k.id);
    printf("name:              %s\n", k.name);
    printf("audience:          %s\n", k.audience);
    printf("secret:            sg-...%s\n", k.hint);
    printf("status:            %s\n", status_of(&k, sg_now_ms()));
    printf("created:           %s\n", created);
    printf("expires:           %s\n", expires);
    if (k.revoked_ms) printf("revoked:           %s\n", revoked);
    printf("rpm:               %s\n", rpm);
    printf("tpm:               %s\n", tpm);
    printf("requests:          %" PRId64 "\n", total.requests);
    printf("prompt tokens:     %" PRId64 "\n", total.prompt_tokens);
    printf("completion tokens: %" PRId64 "\n", total.completion_tokens);
    if (n_days) {
        printf("\n%-10s %10s %14s %18s\n", "DAY (UTC)", "REQUESTS", "PROMPT TOKENS", "COMPLETION TOKENS");
        for (size_t i = 0; i < n_days; i++)
            printf("%-10s %10" PRId64 " %14" PRId64 " %18" PRId64 "\n", days[i].day, days[i].requests,
                   days[i].prompt_tokens, days[i].completion_tokens);
    }
    free(days);
    return 0;
}

#define RUN(verb)                                                                                            \
    static int run_##verb(int argc, char **argv) {                                                           \
        options o = {0};                                                                                     \
        int rc = parse(&verb##_cmd, argc, argv, &o);                                                         \
        return rc >= 0 ? rc : cmd_##verb(&o);                                                                \
    }
RUN(create)
RUN(list)
RUN(revoke)
RUN(show)
#undef RUN

int sg_cmd_keys(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"create", run_create, &create_cmd, NULL},
        {"list", run_list, &list_cmd, NULL},
        {"revoke", run_revoke, &revoke_cmd, NULL},
        {"show", run_show, &show_cmd, NULL},
        {0},
    };
    return sg_cli_dispatch("keys", "API keys for the gated API.", subs, argc, argv);
}
