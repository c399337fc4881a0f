/* cmd_licensee.c — `stagegate licensee keygen|add|list|revoke`: who may receive
 * downloadable bundles. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/audit.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/dist_opts.h"
#include "distribution/keyfiles.h"
#include "store/store_distribution.h"

static const char usage_text[] =
    "usage: stagegate licensee keygen -o NAME\n"
    "       stagegate licensee add    --db PATH --name N --public-key NAME.pub\n"
    "       stagegate licensee list   --db PATH\n"
    "       stagegate licensee revoke --db PATH --name N\n"
    "\n"
    "keygen  (run by the licensee) writes an X25519 key pair: NAME.pub to send to the\n"
    "        releaser and NAME.key (mode 0600) to keep; bundles are sealed to NAME.pub.\n"
    "add     registers a licensee and its public key; revoke stops new bundles for it.\n"
    "Additions and revocations are recorded in the audit log.\n";

static const char *const names[] = {"db", "name", "public-key", "output", NULL};
enum { O_DB, O_NAME, O_PUB, O_OUT };

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

int sg_cmd_licensee(int argc, char **argv) {
    const char *cmd = "licensee";
    if (argc < 2) return sg_dist_usage(cmd, usage_text, "missing sub-command");
    const char *verb = argv[1];
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
        fputs(usage_text, stdout);
        return 0;
    }
    const char *v[5] = {0}, *pos[1];
    int np = 0;
    int rc = sg_dist_parse(cmd, usage_text, argc, argv, 2, names, v, pos, 0, &np);
    if (rc) return rc == 1 ? 0 : rc;
    if (!strcmp(verb, "keygen")) {
        if (!v[O_OUT]) return sg_dist_usage(cmd, usage_text, "keygen needs -o NAME");
        sg_error *err = sg_licensee_keygen(v[O_OUT]);
        if (err) return sg_dist_fail(cmd, err);
        printf("wrote %s.pub (send it to the releaser) and %s.key (keep it secret)\n", v[O_OUT], v[O_OUT]);
        return 0;
    }
    if (strcmp(verb, "add") && strcmp(verb, "list") && strcmp(verb, "revoke"))
        return sg_dist_usage(cmd, usage_text, "unknown sub-command");
    if (!v[O_DB]) return sg_dist_usage(cmd, usage_text, "--db PATH is required");
    sg_store *store = NULL;
    sg_error *err = sg_store_open(v[O_DB], &store);
    if (err) return sg_dist_fail(cmd, err);
    if (!strcmp(verb, "add")) {
        unsigned char pk[32];
        int64_t id = 0;
        if (!v[O_NAME] || !v[O_PUB]) {
            sg_store_close(store);
            return sg_dist_usage(cmd, usage_text, "add needs --name N and --public-key FILE");
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
            return sg_dist_usage(cmd, usage_text, "revoke needs --name N");
        }
        err = sg_store_licensee_revoke(store, v[O_NAME], sg_now_ms(), &changed);
        if (!err && !changed) err = sg_error_new("no active licensee named '%s'", v[O_NAME]);
        if (!err) err = audit(store, "licensee-revoked", v[O_NAME]);
        if (!err) printf("licensee %s revoked: no new bundles will be issued to it\n", v[O_NAME]);
    }
    sg_store_close(store);
    return err ? sg_dist_fail(cmd, err) : 0;
}
