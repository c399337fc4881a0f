/* cmd_incident.c — `stagegate incident open|close|list` (release/incidents.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/release_cli.h"
#include "release/incidents.h"
#include "release/stages.h"

typedef struct {
    const char *policy, *db, *by, *severity, *reason, *aud, *model, *note;
    int rollback, all;
} incident_opts;

#define BY                                                                                                   \
    {                                                                                                        \
        "by", 0, SG_CLI_STRING, offsetof(incident_opts, by), .arg = "NAME", .help = "who does it",           \
                                                             .def = "$USER"                                  \
    }
static const sg_cli_opt open_table[] = {
    SG_CLI_POLICY_DB(incident_opts),
    {"severity", 0, SG_CLI_STRING, offsetof(incident_opts, severity), .arg = "LEVEL",
     .help = "low, medium, high or critical", .required = 1},
    {"reason", 0, SG_CLI_STRING, offsetof(incident_opts, reason), .arg = "TEXT",
     .help = "what happened (never shown to clients)", .required = 1},
    {"suspend-audience", 0, SG_CLI_STRING, offsetof(incident_opts, aud), .arg = "A",
     .help = "refuse this audience while open"},
    {"suspend-model", 0, SG_CLI_STRING, offsetof(incident_opts, model), .arg = "M",
     .help = "refuse this model while open"},
    {"rollback", 0, SG_CLI_FLAG, offsetof(incident_opts, rollback), .arg = NULL,
     .help = "move the release back one stage"},
    BY,
    {0},
};
static const sg_cli_opt close_table[] = {
    SG_CLI_POLICY_DB(incident_opts),
    {"note", 0, SG_CLI_STRING, offsetof(incident_opts, note), .arg = "TEXT", .help = "how it was resolved"},
    BY,
    {0},
};
static const sg_cli_opt list_table[] = {
    SG_CLI_POLICY_DB(incident_opts),
    {"all", 0, SG_CLI_FLAG, offsetof(incident_opts, all), .arg = NULL, .help = "closed incidents too"},
    {0},
};
#undef BY
static const sg_cli_cmd open_cmd = {
    .name = "incident open",
    .summary = "open an incident: suspend an audience or a model, optionally roll back",
    .opts = open_table,
    .description = "A running server refuses suspended audiences and models with 403 naming the incident id\n"
                   "(never the reason) within a second.\n",
};
static const sg_cli_cmd close_cmd = {
    .name = "incident close",
    .summary = "close incident ID (lifts its suspensions)",
    .args = "ID",
    .min_args = 1,
    .max_args = 1,
    .opts = close_table,
};
static const sg_cli_cmd list_cmd = {
    .name = "incident list",
    .summary = "the open incidents (--all: every incident)",
    .opts = list_table,
};

static int run(const sg_cli_cmd *c, int argc, char **argv) {
    const char *cmd = "incident", *verb = argv[0];
    incident_opts o = {0};
    int n_pos, rc = sg_cli_parse(c, argc, argv, &o, &n_pos);
    if (rc >= 0) return rc;
    const char *policy_path = o.policy, *db = o.db, *by = o.by, *severity = o.severity, *reason = o.reason,
               *aud = o.aud, *model = o.model, *note = o.note, *const *pos = (const char *const *)argv + 1;
    int rollback = o.rollback, all = o.all;
    int is_open = !strcmp(verb, "open"), is_close = !strcmp(verb, "close"), is_list = !strcmp(verb, "list");
    char *end = NULL;
    long long id = n_pos ? strtoll(pos[0], &end, 10) : 0;
    if ((!is_open && !is_close && !is_list) || (is_open && (!severity || !reason || n_pos)) ||
        (is_close && (n_pos != 1 || *end || id <= 0)) || (is_list && n_pos)) {
        return sg_cli_usage(cmd, "close: expected a positive incident ID, got '%s'", pos[0]);
    }
    sg_policy *p = NULL;
    sg_store *store = NULL;
    if ((rc = sg_cli_open(cmd, policy_path, db, &p, &store))) return rc;
    const char *actor = sg_cli_actor(by);
    sg_error *err = NULL;
    if (is_open) {
        sg_incident_record in = {.rollback = rollback};
        snprintf(in.severity, sizeof in.severity, "%s", severity);
        snprintf(in.reason, sizeof in.reason, "%s", reason);
        snprintf(in.suspend_audience, sizeof in.suspend_audience, "%s", aud ? aud : "");
        snprintf(in.suspend_model, sizeof in.suspend_model, "%s", model ? model : "");
        snprintf(in.opened_by, sizeof in.opened_by, "%s", actor);
        int64_t nid = 0;
        if (!(err = sg_incident_open(store, p, &in, sg_now_ms(), &nid))) {
            printf("incident #%lld opened (%s)%s%s%s%s%s\n", (long long)nid, severity,
                   aud ? "; audience " : "", aud ? aud : "", model ? "; model " : "", model ? model : "",
                   rollback ? "; rolled back one stage" : "");
            printf("response plan: %s\n",
                   p->incident_response_plan ? p->incident_response_plan : "(none in the policy)");
        }
    } else if (is_close) {
        if (!(err = sg_incident_close(store, p, id, actor, note, sg_now_ms())))
            printf("incident #%lld closed\n", id);
    } else {
        sg_incident_record *inc = NULL;
        size_t n = 0;
        if (!(err = sg_store_incidents(store, all ? 0 : INT64_MAX, &inc, &n))) {
            if (!n) printf("no %sincidents\n", all ? "" : "open ");
            for (size_t i = 0; i < n; i++) {
                char when[40], closed[40] = "";
                sg_cli_time(inc[i].opened_ms, when, sizeof when);
                if (inc[i].closed_ms) sg_cli_time(inc[i].closed_ms, closed, sizeof closed);
                printf("#%lld %-8s %s  opened %s by %s%s%s%s%s%s\n    reason: %s\n", (long long)inc[i].id,
                       inc[i].severity, inc[i].closed_ms ? "closed" : "OPEN  ", when, inc[i].opened_by,
                       inc[i].suspend_audience[0] ? "; audience " : "", inc[i].suspend_audience,
                       inc[i].suspend_model[0] ? "; model " : "", inc[i].suspend_model,
                       inc[i].rollback ? "; rolled back" : "", inc[i].reason);
                if (inc[i].closed_ms)
                    printf("    closed %s by %s%s%s\n", closed, inc[i].closed_by,
                           inc[i].close_note[0] ? ": " : "", inc[i].close_note);
            }
            free(inc);
        }
    }
    if (err) rc = sg_cli_fail(cmd, err);
    sg_store_close(store);
    sg_policy_free(p);
    return rc;
}

static int run_open(int argc, char **argv) { return run(&open_cmd, argc, argv); }
static int run_close(int argc, char **argv) { return run(&close_cmd, argc, argv); }
static int run_list(int argc, char **argv) { return run(&list_cmd, argc, argv); }

int sg_cmd_incident(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"open", run_open, &open_cmd, NULL},
        {"close", run_close, &close_cmd, NULL},
        {"list", run_list, &list_cmd, NULL},
        {0},
    };
    return sg_cli_dispatch("incident", "Open, close and list incidents (suspend, roll back).", subs, argc,
                           argv);
}
