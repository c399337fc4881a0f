/* cmd_licensee.c — `stagegate licensee keygen|add|list|revoke`: who may receive
 * downloadable bundles. */
#include <inttypes.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/audit.h"
#include "base/log.h"
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "distribution/keyfiles.h"
#include "store/store_distribution.h"

enum { O_DB, O_NAME, O_PUB, O_OUT };
typedef struct {
    const char *v[4];
} licensee_opts;
#define V(i) (offsetof(licensee_opts, v) + (i) * sizeof(const char *))
#define OPT_DB                                                                                               \
    { "db", 0, SG_CLI_STRING, V(O_DB), .arg = "PATH", .help = "the store", .required = 1 }
#define OPT_NAME                                                                                             \
    { "name", 0, SG_CLI_STRING, V(O_NAME), .arg = "N", .help = "the licensee's name" }
static const sg_cli_opt keygen_table[] = {
    {"output", 'o', SG_CLI_STRING, V(O_OUT), .arg = "NAME", .help = "writes NAME.pub and NAME.key",
     .required = 1},
    {0},
};
static const sg_cli_opt add_table[] = {
    OPT_DB,
    OPT_NAME,
    {"public-key", 0, SG_CLI_STRING, V(O_PUB), .arg = "NAME.pub", .help = "the key from `licensee keygen`"},
    {0}};
static const sg_cli_opt list_table[] = {OPT_DB, {0}};
static const sg_cli_opt revoke_table[] = {OPT_DB, OPT_NAME, {0}};
#undef OPT_DB
#undef OPT_NAME
#undef V
static const sg_cli_cmd keygen_cmd = {
    .name = "licensee keygen",
    .summary =
        "(run by the licensee) write an X25519 key pair: NAME.pub to send, NAME.key (mode 0600) to keep",
    .opts = keygen_table,
    .description = "Bundles are sealed to NAME.pub.\n",
};
static const sg_cli_cmd add_cmd = {
    .name = "licensee add",
    .summary = "register a licensee and its public key (audited)",
    .opts = add_table,
    .description = "--name and --public-key are required.\n",
};
static const sg_cli_cmd list_cmd = {
    .name = "licensee list",
    .summary = "the licensees, their keys and status",
    .opts = list_table,
};
static const sg_cli_cmd revoke_cmd = {
    .name = "licensee revoke",
    .summary = "stop issuing new bundles to a licensee (audited)",
    .opts = revoke_table,
    .description = "--name is required.\n",
};

static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= SG_KEY_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == '"' || s[i] == '\\') return 0;
    return 1;
}

static sg_error *audit(sg_store *store, const char *decision, const char *name) {
    char reason[256];
    snprintf(reason, sizeof reason, "licensee=%s", name);
    return sg_audit_note(store, 0, decision, NULL, NULL, NULL, reason);
}

static int run(const sg_cli_cmd *spec, int argc, char **argv) {
    const char *cmd = "licensee", *verb = argv[0];
    licensee_opts o = {0};
    int rc = sg_cli_parse(spec, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char **v = o.v;
    if (!strcmp(verb, "keygen")) {
        sg_error *err = sg_licensee_keygen(v[O_OUT]);
        if (err) return sg_cli_fail(cmd, err);
        printf("wrote %s.pub (send it to the releaser) and %s.key (keep it secret)\n", v[O_OUT], v[O_OUT]);
        return 0;
    }
    sg_store *store = NULL;
    sg_error *err = sg_store_open(v[O_DB], &store);
    if (err) return sg_cli_fail(cmd, err);
    if (!strcmp(verb, "add")) {
        unsigned char pk[32];
        int64_t id = 0;
        if (!v[O_NAME] || !v[O_PUB]) {
            sg_store_close(store);
            return sg_cli_usage(cmd, "add needs --name N and --public-key FILE");
        }
        if (!valid_name(v[O_NAME]))
            err = sg_error_new("licensee name must be 1-%d printable characters without spaces or quotes",
                               SG_KEY_NAME_MAX - 1);
        if (!err) err = sg_licensee_read_public(v[O_PUB], pk);
        if (!err) err = sg_store_licensee_insert(store, v[O_NAME], pk, sg_now_ms(), &id);
        if (!err) err = audit(store, "licensee-added", v[O_NAME]);
        if (!err) {
            char kid[17];
            sg_key_id(pk, kid);
            printf("licensee %" PRId64 " %s added (key %s)\n", id, v[O_NAME], kid);
        }
    } else if (!strcmp(verb, "list")) {
        sg_licensee_record *rows = NULL;
        size_t n = 0;
        err = sg_store_licensee_list(store, &rows, &n);
        if (!err) {
            printf("%-4s %-24s %-16s %-20s %s\n", "id", "name", "key", "added (UTC)", "status");
            for (size_t i = 0; i < n; i++) {
                char kid[17], when[32];
                sg_key_id(rows[i].public_key, kid);
                time_t t = (time_t)(rows[i].created_ms / 1000);
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
                printf("%-4" PRId64 " %-24s %-16s %-20s %s\n", rows[i].id, rows[i].name, kid, when,
                       rows[i].revoked_ms ? "revoked" : "active");
            }
        }
        free(rows);
    } else {
        bool changed = false;
        if (!v[O_NAME]) {
            sg_store_close(store);
            return sg_cli_usage(cmd, "revoke needs --name N");
        }
        err = sg_store_licensee_revoke(store, v[O_NAME], sg_now_ms(), &changed);
        if (!err && !changed) err = sg_error_new("no active licensee named '%s'", v[O_NAME]);
        if (!err) err = audit(store, "licensee-revoked", v[O_NAME]);
        if (!err) printf("licensee %s revoked: no new bundles will be issued to it\n", v[O_NAME]);
    }
    sg_store_close(store);
    return err ? sg_cli_fail(cmd, err) : 0;
}

static int run_keygen(int argc, char **argv) { return run(&keygen_cmd, argc, argv); }
static int run_add(int argc, char **argv) { return run(&add_cmd, argc, argv); }
static int run_list(int argc, char **argv) { return run(&list_cmd, argc, argv); }
static int run_revoke(int argc, char **argv) { return run(&revoke_cmd, argc, argv); }

int sg_cmd_licensee(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"keygen", run_keygen, &keygen_cmd, NULL},
        {"add", run_add, &add_cmd, NULL},
        {"list", run_list, &list_cmd, NULL},
        {"revoke", run_revoke, &revoke_cmd, NULL},
        {0},
    };
    return sg_cli_dispatch("licensee", "Licensee key pairs; add, list and revoke licensees (audited).", subs,
                           argc, argv);
}
