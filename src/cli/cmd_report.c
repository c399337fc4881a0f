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

static const char usage_text[] =
    "usage: stagegate report --policy FILE [--db PATH] [--since DURATION] [--json] [-o FILE]\n"
    "DURATION like 7d, 24h, 30m (default: the policy's monitoring_frequency period).\n"
    "Usage per audience and model, refusals by cause, top keys, incidents and stage changes.\n";

int sg_cmd_report(int argc, char **argv) {
    const char *cmd = "report", *policy_path = NULL, *db = NULL, *since = NULL, *out = NULL;
    int json = 0, n_pos = 0;
    sg_cli_opt opts[] = {{"--policy", &policy_path, NULL}, {"--db", &db, NULL},
                         {"--since", &since, NULL},        {"-o", &out, NULL},
                         {"--json", NULL, &json},          {NULL, NULL, NULL}};
    int rc = sg_cli_parse(cmd, argc, argv, 1, opts, NULL, 0, &n_pos);
    if (rc == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (rc) return rc;
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
