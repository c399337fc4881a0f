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

static const char usage_text[] =
    "usage: stagegate risk record --policy FILE [--db PATH] --stage STAGE --status STATUS --file DOC [--by "
    "NAME]\n"
    "       stagegate risk mitigation --policy FILE [--db PATH] --item NAME --status STATUS [--note TEXT] "
    "[--by NAME]\n"
    "       stagegate risk list --policy FILE [--db PATH]\n"
    "STATUS of an assessment: not_started, pending, in_progress, completed. The document is stored\n"
    "in the database with its BLAKE2b-256 digest. Mitigation items are the keys of the policy's\n"
    "risk_mitigation_plan; their status is free text (planned, in_progress, done, ...).\n";

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

int sg_cmd_risk(int argc, char **argv) {
    const char *cmd = "risk";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1], *policy_path = NULL, *db = NULL, *by = NULL, *stage = NULL, *status = NULL,
               *file = NULL, *item = NULL, *note = NULL;
    int n_pos = 0;
    sg_cli_opt opts[] = {
        {"--policy", &policy_path, NULL}, {"--db", &db, NULL},         {"--by", &by, NULL},
        {"--stage", &stage, NULL},        {"--status", &status, NULL}, {"--file", &file, NULL},
        {"--item", &item, NULL},          {"--note", &note, NULL},     {NULL, NULL, NULL}};
    int rc = sg_cli_parse(cmd, argc, argv, 2, opts, NULL, 0, &n_pos);
    if (rc == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (rc) return rc;
    if (strcmp(verb, "record") && strcmp(verb, "mitigation") && strcmp(verb, "list")) {
        fprintf(stderr, "stagegate risk: unknown verb '%s'\n%s", verb, usage_text);
        return 2;
    }
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
