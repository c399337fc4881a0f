/* cmd_risk.c — `stagegate risk record|mitigation|list`: risk assessments as
 * documents with status and author, and the status of each entry of the
 * policy's risk_mitigation_plan. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "base/fileio.h"
#include "base/init.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/release_cli.h"
#include "release/stages.h"

typedef struct {
    const char *policy, *db, *by, *stage, *status, *file, *item, *note;
} risk_opts;

#define BY                                                                                                   \
    {                                                                                                        \
        "by", 0, SG_CLI_STRING, offsetof(risk_opts, by), .arg = "NAME", .help = "who records it",            \
                                                         .def = "$USER"                                      \
    }
static const sg_cli_opt record_table[] = {
    SG_CLI_POLICY_DB(risk_opts),
    {"stage", 0, SG_CLI_STRING, offsetof(risk_opts, stage), .arg = "STAGE", .help = "the stage it assesses",
     .required = 1},
    {"status", 0, SG_CLI_ENUM, offsetof(risk_opts, status), .arg = NULL, .help = "the assessment's status",
     .choices = "not_started|pending|in_progress|completed", .required = 1},
    {"file", 0, SG_CLI_STRING, offsetof(risk_opts, file), .arg = "DOC", .help = "the assessment document",
     .required = 1},
    BY,
    {0},
};
static const sg_cli_opt mitigation_table[] = {
    SG_CLI_POLICY_DB(risk_opts),
    {"item", 0, SG_CLI_STRING, offsetof(risk_opts, item), .arg = "NAME",
     .help = "a key of the policy's risk_mitigation_plan", .required = 1},
    {"status", 0, SG_CLI_STRING, offsetof(risk_opts, status), .arg = "STATUS",
     .help = "free text: planned, in_progress, done, ...", .required = 1},
    {"note", 0, SG_CLI_STRING, offsetof(risk_opts, note), .arg = "TEXT",
     .help = "a note kept with the status"},
    BY,
    {0},
};
static const sg_cli_opt list_table[] = {SG_CLI_POLICY_DB(risk_opts), {0}};
#undef BY
static const sg_cli_cmd record_cmd = {
    .name = "risk record",
    .summary = "record a risk assessment document for a stage",
    .opts = record_table,
    .description = "The document is stored in the database with its BLAKE2b-256 digest.\n",
};
static const sg_cli_cmd mitigation_cmd = {
    .name = "risk mitigation",
    .summary = "record the status of an item of the policy's risk_mitigation_plan",
    .opts = mitigation_table,
};
static const sg_cli_cmd list_cmd = {
    .name = "risk list",
    .summary = "the recorded assessments and the mitigation plan's status",
    .opts = list_table,
};

static int valid_risk_status(const char *s) {
    for (int i = SG_RISK_NOT_STARTED; i <= SG_RISK_COMPLETED; i++)
        if (!strcmp(sg_risk_status_name((sg_risk_status)i), s)) return 1;
    return 0;
}

static sg_error *record(sg_store *store, const sg_policy *p, const char *stage, const char *status,
                        const char *file, const char *actor) {
    if (!stage || !status || !file) return sg_error_new("record needs --stage, --status and --file");
    if (sg_policy_stage_index(p, stage) < 0) return sg_error_new("no stage named '%s' in the policy", stage);
    if (!valid_risk_status(status))
        return sg_error_new("unknown status '%s' (not_started, pending, in_progress, completed)", status);
    char *body = NULL;
    size_t size = 0;
    sg_error *err = sg_file_read(file, &body, &size);
    if (err) return err;
    if (size == 0) {
        free(body);
        return sg_error_new("%s: the assessment document is empty", file);
    }
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)body, size, NULL, 0);
    sg_risk_record r = {.time_ms = sg_now_ms()};
    snprintf(r.stage, sizeof r.stage, "%s", stage);
    snprintf(r.status, sizeof r.status, "%s", status);
    snprintf(r.author, sizeof r.author, "%s", actor);
    snprintf(r.file, sizeof r.file, "%s", file);
    sodium_bin2hex(r.digest, sizeof r.digest, h, sizeof h);
    int64_t id = 0;
    err = sg_store_risk_add(store, &r, body, &id);
    free(body);
    if (err) return err;
    char text[512];
    snprintf(text, sizeof text, "risk assessment #%lld for '%.128s': %s by %.128s (blake2b %.16s)",
             (long long)id, stage, status, actor, r.digest);
    if ((err = sg_audit_note(store, 0, "risk-record", stage, NULL, NULL, text))) return err;
    printf("recorded risk assessment #%lld for '%s': %s (%s, %zu bytes, blake2b %.16s)\n", (long long)id,
           stage, status, file, size, r.digest);
    return NULL;
}

static sg_error *mitigation(sg_store *store, const sg_policy *p, const char *item, const char *status,
                            const char *note, const char *actor) {
    if (!item || !status) return sg_error_new("mitigation needs --item and --status");
    int known = 0;
    for (int i = 0; i < p->n_mitigations; i++)
        if (!strcmp(p->mitigations[i].risk, item)) known = 1;
    if (!known) {
        char names[1024] = "";
        for (int i = 0; i < p->n_mitigations; i++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", p->mitigations[i].risk);
        }
        return sg_error_new("'%s' is not an item of the policy's risk_mitigation_plan (%s)", item,
                            names[0] ? names : "the plan is empty");
    }
    sg_mitigation_record m = {.time_ms = sg_now_ms()};
    snprintf(m.item, sizeof m.item, "%s", item);
    snprintf(m.status, sizeof m.status, "%s", status);
    snprintf(m.actor, sizeof m.actor, "%s", actor);
    snprintf(m.note, sizeof m.note, "%s", note ? note : "");
    int64_t id;
    sg_error *err = sg_store_mitigation_add(store, &m, &id);
    if (err) return err;
    char text[512];
    snprintf(text, sizeof text, "mitigation '%.128s' -> %.31s by %.128s", item, status, actor);
    if ((err = sg_audit_note(store, 0, "risk-mitigation", NULL, NULL, NULL, text))) return err;
    printf("mitigation '%s': %s\n", item, status);
    return NULL;
}

static sg_error *list(sg_store *store, const sg_policy *p) {
    sg_risk_record *r = NULL;
    sg_mitigation_record *m = NULL;
    size_t nr = 0, nm = 0;
    sg_error *err = sg_store_risks(store, &r, &nr);
    if (!err) err = sg_store_mitigations(store, &m, &nm);
    if (err) return err;
    char when[40];
    printf("risk assessments:%s\n", nr ? "" : " none recorded");
    for (size_t i = 0; i < nr; i++) {
        sg_cli_time(r[i].time_ms, when, sizeof when);
        printf("  #%lld %-20s %-12s by %s on %s  %s (blake2b %.16s)\n", (long long)r[i].id, r[i].stage,
               r[i].status, r[i].author, when, r[i].file, r[i].digest);
    }
    printf("risk_mitigation_plan:%s\n", p->n_mitigations ? "" : " empty");
    for (int i = 0; i < p->n_mitigations; i++) {
        const sg_mitigation_record *last = NULL;
        for (size_t k = 0; k < nm; k++)
            if (!strcmp(m[k].item, p->mitigations[i].risk)) last = &m[k];
        printf("  %s: %s\n    status: ", p->mitigations[i].risk, p->mitigations[i].mitigation);
        if (last) {
            sg_cli_time(last->time_ms, when, sizeof when);
            printf("%s (by %s, %s)%s%s\n", last->status, last->actor, when, last->note[0] ? ": " : "",
                   last->note);
        } else {
            printf("not recorded\n");
        }
    }
    free(r);
    free(m);
    return NULL;
}

static int run(const sg_cli_cmd *c, int argc, char **argv) {
    const char *cmd = "risk", *verb = argv[0];
    risk_opts o = {0};
    int rc = sg_cli_parse(c, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *policy_path = o.policy, *db = o.db, *by = o.by, *stage = o.stage, *status = o.status,
               *file = o.file, *item = o.item, *note = o.note;
    sg_policy *p = NULL;
    sg_store *store = NULL;
    if ((rc = sg_cli_open(cmd, policy_path, db, &p, &store))) return rc;
    if (!sg_init_done()) {
        fprintf(stderr, "stagegate risk: libsodium failed to initialise\n");
        rc = 1;
    } else {
        const char *actor = sg_cli_actor(by);
        sg_error *err = !strcmp(verb, "record")       ? record(store, p, stage, status, file, actor)
                        : !strcmp(verb, "mitigation") ? mitigation(store, p, item, status, note, actor)
                                                      : list(store, p);
        if (err) rc = sg_cli_fail(cmd, err);
    }
    sg_store_close(store);
    sg_policy_free(p);
    return rc;
}

static int run_record(int argc, char **argv) { return run(&record_cmd, argc, argv); }
static int run_mitigation(int argc, char **argv) { return run(&mitigation_cmd, argc, argv); }
static int run_list(int argc, char **argv) { return run(&list_cmd, argc, argv); }

int sg_cmd_risk(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"record", run_record, &record_cmd, NULL},
        {"mitigation", run_mitigation, &mitigation_cmd, NULL},
        {"list", run_list, &list_cmd, NULL},
        {0},
    };
    return sg_cli_dispatch("risk", "Risk assessments and the status of the risk mitigation plan.", subs, argc,
                           argv);
}
