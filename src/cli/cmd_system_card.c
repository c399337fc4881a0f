/* cmd_system_card.c — `stagegate system-card`: the deployment system card (release/cards.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "cli/commands.h"
#include "cli/release_cli.h"
#include "release/cards.h"

static const char usage_text[] = "usage: stagegate system-card --policy FILE [--db PATH] [-o FILE]\\nWrites "
                                 "the system card: stages, audiences, access per component, safety "
                                 "protocols, rate\\nlimits, incidents and the release timeline.\\n";

int sg_cmd_system_card(int argc, char **argv) {
    const char *cmd = "system-card", *policy_path = NULL, *db = NULL, *model = NULL, *out = NULL;
    int n_pos = 0;
    sg_cli_opt opts[] = {{"--policy", &policy_path, NULL},
                         {"--db", &db, NULL},
                         {"-m", &model, NULL},
                         {"-o", &out, NULL},
                         {NULL, NULL, NULL}};
    int rc = sg_cli_parse(cmd, argc, argv, 1, opts, NULL, 0, &n_pos);
    if (rc == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (rc) return rc;
    if (model) {
        fputs(usage_text, stderr);
        return 2;
    }
    sg_policy *p = NULL;
    sg_store *store = NULL;
    if ((rc = sg_cli_open(cmd, policy_path, db, &p, &store))) return rc;
    char *text = NULL;
    sg_error *err = sg_card_system(store, p, &text);
    if (!err && out)
        err = sg_file_write_atomic(out, text, strlen(text));
    else if (!err)
        fputs(text, stdout);
    free(text);
    if (err) rc = sg_cli_fail(cmd, err);
    sg_store_close(store);
    sg_policy_free(p);
    return rc;
}
