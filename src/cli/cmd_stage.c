/* cmd_stage.c — `stagegate stage status|advance|rollback|history`: where the
 * release stands, its gates, and recorded moves (release/stages.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/release_cli.h"
#include "release/stages.h"

typedef struct {
    const char *policy, *db, *by, *reason, *to;
    int force;
} stage_opts;

#define BY                                                                                                   \
    { "by", 0, SG_CLI_STRING, offsetof(stage_opts, by), .arg = "NAME", .help = "who does it", .def = "$USER" }
static const sg_cli_opt status_table[] = {SG_CLI_POLICY_DB(stage_opts), {0}};
static const sg_cli_opt advance_table[] = {
    SG_CLI_POLICY_DB(stage_opts),
    BY,
    {"force", 0, SG_CLI_FLAG, offsetof(stage_opts, force), .arg = NULL,
     .help = "move even with unmet gates (needs --reason)"},
    {"reason", 0, SG_CLI_STRING, offsetof(stage_opts, reason), .arg = "TEXT",
     .help = "why (recorded and audited)"},
    {0},
};
static const sg_cli_opt rollback_table[] = {
    SG_CLI_POLICY_DB(stage_opts),
    BY,
    {"reason", 0, SG_CLI_STRING, offsetof(stage_opts, reason), .arg = "TEXT",
     .help = "why (recorded and audited)", .required = 1},
    {"to", 0, SG_CLI_STRING, offsetof(stage_opts, to), .arg = "STAGE", .help = "the stage to go back to",
     .def = "the previous one"},
    {0},
};
#undef BY
static const sg_cli_cmd status_cmd = {
    .name = "stage status",
    .summary = "the current stage, who can use what, open incidents, and each gate of the next stage",
    .opts = status_table,
    .description = "Each gate of the next stage is shown met or unmet, with the evidence on record.\n",
};
static const sg_cli_cmd advance_cmd = {
    .name = "stage advance",
    .summary = "move to the next stage when every gate is met",
    .opts = advance_table,
    .description =
        "Exits 1 naming each unmet gate; --force --reason overrides and is audited as an override.\n",
};
static const sg_cli_cmd rollback_cmd = {
    .name = "stage rollback",
    .summary = "move the release back a stage",
    .opts = rollback_table,
};
static const sg_cli_cmd history_cmd = {
    .name = "stage history",
    .summary = "the recorded stage moves",
    .opts = status_table,
};

static void print_list(const char *label, char **items, int n) {
    printf("%s", label);
    for (int i = 0; i < n; i++) printf("%s%s", i ? ", " : "", items[i]);
    printf("%s\n", n ? "" : "(none)");
}

static void print_status(const sg_policy *p, const sg_release_state *st, const sg_gate_report *r,
                         long long now) {
    const sg_policy_stage *s = &p->stages[st->stage];
    char when[40] = "";
    printf("release %s %s (%s), policy %s\n", p->model_name ? p->model_name : "",
           p->version ? p->version : "", sg_deployment_strategy_name(p->deployment_strategy), p->path);
    if (st->entered_ms) sg_cli_time(st->entered_ms, when, sizeof when);
    printf("current stage: %s (%d of %d)", s->name, st->stage + 1, p->n_stages);
    if (st->entered_ms) printf(" since %s (%.1f days)", when, (double)(now - st->entered_ms) / 86400000.0);
    printf("\n  access:");
    for (int c = 0; c < SG_COMPONENT_COUNT; c++)
        printf(" %s=%s", sg_component_name((sg_component)c),
               sg_access_level_name(sg_policy_component_level(p, st->stage, (sg_component)c)));
    printf("\n");
    print_list("  safety protocols: ", s->protocols, s->n_protocols);
    printf("  who can use what:\n");
    for (int a = 0; a < s->n_effective_audiences; a++) {
        const char *aud = s->effective_audiences[a];
        printf("    %s:", aud);
        int any = 0;
        for (int m = 0; m < p->n_models; m++) {
            if (sg_policy_decide(p, st->stage, aud, p->models[m].name, NULL, 0) != SG_POLICY_ALLOW) continue;
            int64_t inc = sg_release_suspended(st, NULL, p->models[m].name);
            printf(" %s", p->models[m].name);
            if (inc) printf(" (suspended by incident #%lld)", (long long)inc);
            any = 1;
        }
        if (!any) printf(" no model");
        sg_policy_limits l = sg_policy_rate_limit(p, st->stage, aud);
        if (l.enforced) {
            if (l.rpm) printf("; %ld requests/min", l.rpm);
            if (l.tpm) printf("; %ld tokens/min", l.tpm);
            if (!l.rpm && !l.tpm) printf("; no rate limit set");
        }
        int64_t inc = sg_release_suspended(st, aud, NULL);
        if (inc) printf("; SUSPENDED by incident #%lld", (long long)inc);
        printf("\n");
    }
    printf("open incidents:");
    if (!st->n_incidents) printf(" none");
    printf("\n");
    for (size_t i = 0; i < st->n_incidents; i++) {
        const sg_incident_record *inc = &st->incidents[i];
        sg_cli_time(inc->opened_ms, when, sizeof when);
        printf("  #%lld %s since %s by %s%s%s%s%s: %s\n", (long long)inc->id, inc->severity, when,
               inc->opened_by, inc->suspend_audience[0] ? ", audience " : "", inc->suspend_audience,
               inc->suspend_model[0] ? ", model " : "", inc->suspend_model, inc->reason);
    }
    printf("monitoring_frequency: %s\n", sg_monitoring_frequency_name(p->monitoring_frequency));
    printf("incident_response_plan: %s\n",
           p->incident_response_plan ? p->incident_response_plan : "(none in the policy)");
    char buf[16384];
    sg_gate_report_format(r, buf, sizeof buf);
    if (r->to < 0)
        printf("next stage: none\n%s", buf);
    else
        printf("next stage: %s -- %s\n%s", p->stages[r->to].name,
               r->blocked[0] ? "blocked"
               : r->all_met  ? "every gate met (stage advance will move)"
                             : "gates unmet",
               buf);
}

static int run(const sg_cli_cmd *c, int argc, char **argv) {
    const char *cmd = "stage", *verb = argv[0];
    stage_opts o = {0};
    int rc = sg_cli_parse(c, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *policy_path = o.policy, *db = o.db, *by = o.by, *reason = o.reason, *to = o.to;
    int force = o.force;
    sg_policy *p = NULL;
    sg_store *store = NULL;
    if ((rc = sg_cli_open(cmd, policy_path, db, &p, &store))) return rc;
    const char *actor = sg_cli_actor(by);
    long long now = sg_now_ms();
    sg_error *err = NULL;
    sg_release_state st = {0};
    sg_gate_report *report = calloc(1, sizeof *report);
    rc = 0;
    if (!report) {
        err = sg_error_new("out of memory");
    } else if (!strcmp(verb, "status")) {
        if (!(err = sg_release_ensure_started(store, p, actor, now)) &&
            !(err = sg_release_state_load(store, p, &st)) &&
            !(err = sg_release_gates(store, p, &st, now, report)))
            print_status(p, &st, report, now);
    } else if (!strcmp(verb, "advance")) {
        int moved = 0;
        err = sg_release_advance(store, p, actor, force, reason, now, report, &moved);
        if (!err && moved) {
            printf("advanced: %s -> %s%s\n", p->stages[report->from].name, p->stages[report->to].name,
                   report->all_met ? "" : " (OVERRIDE: recorded with the unmet gates below)");
            char buf[16384];
            sg_gate_report_format(report, buf, sizeof buf);
            fputs(buf, stdout);
        } else if (!err) {
            fprintf(stderr, "stagegate stage: cannot advance from '%s' to '%s': unmet gates:\n",
                    p->stages[report->from].name, p->stages[report->to].name);
            for (int i = 0; i < report->n; i++)
                if (!report->gates[i].met)
                    fprintf(stderr, "  %s: %s -- %s\n", report->gates[i].name, report->gates[i].what,
                            report->gates[i].evidence);
            fprintf(stderr, "(record the evidence, or override with --force --reason TEXT)\n");
            rc = 1;
        }
    } else if (!strcmp(verb, "rollback")) {
        int target = -1;
        if (to && (target = sg_policy_stage_index(p, to)) < 0) {
            err = sg_error_new("no stage named '%s' in the policy", to);
        } else if (!(err = sg_release_rollback(store, p, target, actor, reason, now)) &&
                   !(err = sg_release_state_load(store, p, &st))) {
            printf("rolled back: now at %s\n", p->stages[st.stage].name);
        }
    } else { /* history */
        sg_stage_move *moves = NULL;
        size_t n = 0;
        if (!(err = sg_store_stage_moves(store, 0, &moves, &n))) {
            if (!n) printf("no stage moves recorded (the release is at the policy's current_stage)\n");
            for (size_t i = 0; i < n; i++) {
                char when[40];
                sg_cli_time(moves[i].time_ms, when, sizeof when);
                printf("#%lld %s  %-8s %s -> %s  by %s%s\n    why: %s\n", (long long)moves[i].id, when,
                       moves[i].kind, moves[i].from_stage, moves[i].to_stage, moves[i].actor,
                       moves[i].override ? "  [OVERRIDE]" : "", moves[i].reason);
                if (moves[i].evidence[0]) printf("    evidence:\n%s", moves[i].evidence);
            }
            free(moves);
        }
    }
    if (err) rc = sg_cli_fail(cmd, err);
    free(report);
    sg_release_state_free(&st);
    sg_store_close(store);
    sg_policy_free(p);
    return rc;
}

static int status(int argc, char **argv) { return run(&status_cmd, argc, argv); }
static int advance(int argc, char **argv) { return run(&advance_cmd, argc, argv); }
static int rollback(int argc, char **argv) { return run(&rollback_cmd, argc, argv); }
static int history(int argc, char **argv) { return run(&history_cmd, argc, argv); }

int sg_cmd_stage(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"status", status, &status_cmd, NULL},
        {"advance", advance, &advance_cmd, NULL},
        {"rollback", rollback, &rollback_cmd, NULL},
        {"history", history, &history_cmd, NULL},
        {0},
    };
    return sg_cli_dispatch("stage", "The release stage: status, advance through gates, rollback, history.",
                           subs, argc, argv);
}
