/* cmd_incident.c — `stagegate incident open|close|list` (release/incidents.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/release_cli.h"
#include "release/incidents.h"
#include "release/stages.h"

static const char usage_text[] =
    "usage: stagegate incident open --policy FILE [--db PATH] --severity LEVEL --reason TEXT\n"
    "                               [--suspend-audience A] [--suspend-model M] [--rollback] [--by NAME]\n"
    "       stagegate incident close ID --policy FILE [--db PATH] [--note TEXT] [--by NAME]\n"
    "       stagegate incident list --policy FILE [--db PATH] [--all]\n"
    "LEVEL: low, medium, high, critical. A running server refuses suspended audiences and models\n"
    "with 403 naming the incident id (never the reason) within a second; --rollback moves the\n"
    "release back one stage.\n";

int sg_cmd_incident(int argc, char **argv) {
    const char *cmd = "incident";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1], *policy_path = NULL, *db = NULL, *by = NULL, *severity = NULL, *reason = NULL,
               *aud = NULL, *model = NULL, *note = NULL, *pos[1];
    int rollback = 0, all = 0, n_pos = 0;
    sg_cli_opt opts[] = {{"--policy", &policy_path, NULL},
                         {"--db", &db, NULL},
                         {"--by", &by, NULL},
                         {"--severity", &severity, NULL},
                         {"--reason", &reason, NULL},
                         {"--suspend-audience", &aud, NULL},
                         {"--suspend-model", &model, NULL},
                         {"--note", &note, NULL},
                         {"--rollback", NULL, &rollback},
                         {"--all", NULL, &all},
                         {NULL, NULL, NULL}};
    int rc = sg_cli_parse(cmd, argc, argv, 2, opts, pos, 1, &n_pos);
    if (rc == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (rc) return rc;
    int is_open = !strcmp(verb, "open"), is_close = !strcmp(verb, "close"), is_list = !strcmp(verb, "list");
    char *end = NULL;
    long long id = n_pos ? strtoll(pos[0], &end, 10) : 0;
    if ((!is_open && !is_close && !is_list) || (is_open && (!severity || !reason || n_pos)) ||
        (is_close && (n_pos != 1 || *end || id <= 0)) || (is_list && n_pos)) {
        fputs(usage_text, stderr);
        return 2;
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
