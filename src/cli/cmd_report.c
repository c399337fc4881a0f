/* cmd_report.c — `stagegate report`: the monitoring report over a period
 * (release/report.h), as Markdown text or JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/release_cli.h"
#include "release/report.h"

typedef struct {
    const char *policy, *db, *since, *out;
    int json;
} report_opts;

static const sg_cli_opt table[] = {
    SG_CLI_POLICY_DB(report_opts),
    {"since", 0, SG_CLI_STRING, offsetof(report_opts, since), .arg = "DURATION",
     .help = "the period: 7d, 24h, 30m, 90s", .def = "the policy's monitoring_frequency period"},
    {"json", 0, SG_CLI_FLAG, offsetof(report_opts, json), .arg = NULL,
     .help = "JSON instead of Markdown text"},
    {"output", 'o', SG_CLI_STRING, offsetof(report_opts, out), .arg = "FILE", .help = "write to FILE",
     .def = "stdout"},
    {0},
};
static const sg_cli_cmd cmd_spec = {
    .name = "report",
    .summary = "usage, refusals, incidents and stage changes over a period",
    .opts = table,
    .description =
        "Usage per audience and model, refusals by cause, top keys, incidents and stage changes.\n",
};

int sg_cmd_report(int argc, char **argv) {
    const char *cmd = "report";
    report_opts o = {0};
    int rc = sg_cli_parse(&cmd_spec, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *policy_path = o.policy, *db = o.db, *since = o.since, *out = o.out;
    int json = o.json;
    long long span = since ? sg_cli_duration_ms(since) : 0;
    if (since && span < 0) {
        fprintf(stderr, "stagegate report: --since '%s': expected a duration like 7d, 24h, 30m\n", since);
        return 2;
    }
    sg_policy *p = NULL;
    sg_store *store = NULL;
    if ((rc = sg_cli_open(cmd, policy_path, db, &p, &store))) return rc;
    if (!since) span = sg_report_period_ms(p->monitoring_frequency);
    long long now = sg_now_ms();
    json_t *rep = NULL;
    sg_error *err = sg_report_build(store, p, now - span, now, &rep);
    if (!err) {
        char *text = json ? json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS) : sg_report_text(rep);
        if (!text) {
            err = sg_error_new("out of memory");
        } else if (out) {
            err = sg_file_write_atomic(out, text, strlen(text));
        } else {
            fputs(text, stdout);
            if (json) fputc('\n', stdout);
        }
        free(text);
        json_decref(rep);
    }
    if (err) rc = sg_cli_fail(cmd, err);
    sg_store_close(store);
    sg_policy_free(p);
    return rc;
}
