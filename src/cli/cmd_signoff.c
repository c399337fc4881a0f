/* cmd_signoff.c — `stagegate signoff`: a named reviewer signs off a stage
 * (the signoffs gate counts distinct reviewers, see release/stages.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/release_cli.h"
#include "store/store_release.h"

typedef struct {
    const char *policy, *db, *by, *stage, *note;
} signoff_opts;

static const sg_cli_opt table[] = {
    SG_CLI_POLICY_DB(signoff_opts),
    {"stage", 0, SG_CLI_STRING, offsetof(signoff_opts, stage), .arg = "STAGE",
     .help = "the stage signed off"},
    {"by", 0, SG_CLI_STRING, offsetof(signoff_opts, by), .arg = "NAME", .help = "the reviewer"},
    {"note", 0, SG_CLI_STRING, offsetof(signoff_opts, note), .arg = "TEXT", .help = "what was reviewed"},
    {0},
};
static const sg_cli_cmd cmd_spec = {
    .name = "signoff",
    .summary = "record a reviewer's sign-off for a stage",
    .args = "[list]",
    .max_args = 1,
    .opts = table,
    .description =
        "Without `list`, --stage, --by and --note are required. When the policy names reviewers for\n"
        "the stage's gate, only they may sign off. `signoff list` prints the sign-offs recorded.\n",
};

int sg_cmd_signoff(int argc, char **argv) {
    const char *cmd = "signoff";
    signoff_opts o = {0};
    int n_pos, rc = sg_cli_parse(&cmd_spec, argc, argv, &o, &n_pos);
    if (rc >= 0) return rc;
    const char *policy_path = o.policy, *db = o.db, *by = o.by, *stage = o.stage, *note = o.note;
    const char *const *pos = (const char *const *)argv + 1;
    int listing = n_pos == 1 && !strcmp(pos[0], "list");
    if ((n_pos && !listing) || (!listing && (!stage || !by || !note || !by[0] || !note[0]))) {
        return sg_cli_usage(cmd,
                            n_pos ? "unexpected argument '%s'" : "--stage, --by and --note are required%s",
                            n_pos ? pos[0] : "");
    }
    sg_policy *p = NULL;
    sg_store *store = NULL;
    if ((rc = sg_cli_open(cmd, policy_path, db, &p, &store))) return rc;
    sg_error *err = NULL;
    if (listing) {
        sg_signoff_record *so = NULL;
        size_t n = 0;
        if (!(err = sg_store_signoffs(store, &so, &n))) {
            if (!n) printf("no sign-offs recorded\n");
            for (size_t i = 0; i < n; i++) {
                char when[40];
                sg_cli_time(so[i].time_ms, when, sizeof when);
                printf("#%lld %s  %s by %s: %s\n", (long long)so[i].id, when, so[i].stage, so[i].reviewer,
                       so[i].note);
            }
            free(so);
        }
    } else {
        int s = sg_policy_stage_index(p, stage);
        if (s < 0) {
            err = sg_error_new("no stage named '%s' in the policy", stage);
        } else {
            const sg_policy_gates *g = &p->stages[s].gates;
            int allowed = g->n_reviewers == 0;
            for (int i = 0; i < g->n_reviewers; i++)
                if (!strcmp(g->reviewers[i], by)) allowed = 1;
            if (!allowed) {
                char names[512] = "";
                for (int i = 0; i < g->n_reviewers; i++) {
                    size_t len = strlen(names);
                    snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", g->reviewers[i]);
                }
                err = sg_error_new("'%s' is not a reviewer for stage '%s' (reviewers: %s)", by, stage, names);
            } else {
                sg_signoff_record r = {.time_ms = sg_now_ms()};
                snprintf(r.stage, sizeof r.stage, "%s", stage);
                snprintf(r.reviewer, sizeof r.reviewer, "%s", by);
                snprintf(r.note, sizeof r.note, "%s", note);
                int64_t id = 0;
                if (!(err = sg_store_signoff_add(store, &r, &id))) {
                    char text[SG_REL_TEXT_MAX + 300];
                    snprintf(text, sizeof text, "sign-off #%lld for '%s' by %s: %s", (long long)id, r.stage,
                             r.reviewer, r.note);
                    if (!(err = sg_audit_note(store, 0, "signoff", stage, NULL, NULL, text)))
                        printf("sign-off #%lld recorded: %s for '%s'\n", (long long)id, by, stage);
                }
            }
        }
    }
    if (err) rc = sg_cli_fail(cmd, err);
    sg_store_close(store);
    sg_policy_free(p);
    return rc;
}
