/* cmd_card.c — the release documents (eval/cards.h): `stagegate card`
 * (a model card), `stagegate datasheet` (the training corpus's datasheet) and
 * `stagegate system-card` (the deployment's system card). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "cli/commands.h"
#include "cli/release_cli.h"
#include "eval/cards.h"

typedef enum { DOC_MODEL_CARD, DOC_DATASHEET, DOC_SYSTEM_CARD } document;

/* Parses --policy/--db/-m/-o, writes the document to stdout or -o FILE. */
static int write_document(document doc, const char *cmd, const char *usage_text, int argc, char **argv) {
    const char *policy_path = NULL, *db = NULL, *model = NULL, *out = NULL;
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
    if ((doc == DOC_SYSTEM_CARD) != !model) { /* -m is required, except for the system card */
        fputs(usage_text, stderr);
        return 2;
    }
    sg_policy *p = NULL;
    sg_store *store = NULL;
    if ((rc = sg_cli_open(cmd, policy_path, db, &p, &store))) return rc;
    char *text = NULL;
    sg_error *err = doc == DOC_MODEL_CARD  ? sg_card_model(store, p, model, &text)
                    : doc == DOC_DATASHEET ? sg_card_datasheet(store, p, model, &text)
                                           : sg_card_system(store, p, &text);
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

int sg_cmd_card(int argc, char **argv) {
    return write_document(
        DOC_MODEL_CARD, "card",
        "usage: stagegate card --policy FILE [--db PATH] -m MODEL [-o FILE]\n"
        "Writes the model card (Hugging Face format, Mitchell et al. sections) of MODEL from "
        "its\ntraining records and the stored evaluations, to stdout or FILE.\n",
        argc, argv);
}

int sg_cmd_datasheet(int argc, char **argv) {
    return write_document(DOC_DATASHEET, "datasheet",
                          "usage: stagegate datasheet --policy FILE [--db PATH] -m MODEL [-o FILE]\n"
                          "Writes the datasheet (Gebru et al.) of the corpus MODEL was trained on, from its "
                          "training\nrecords and the corpus files.\n",
                          argc, argv);
}

int sg_cmd_system_card(int argc, char **argv) {
    return write_document(
        DOC_SYSTEM_CARD, "system-card",
        "usage: stagegate system-card --policy FILE [--db PATH] [-o FILE]\n"
        "Writes the system card: stages, audiences, access per component, safety protocols, "
        "rate\nlimits, incidents and the release timeline.\n",
        argc, argv);
}
