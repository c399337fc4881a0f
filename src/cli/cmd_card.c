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

typedef struct {
    const char *policy, *db, *model, *out;
} card_opts;

#define OUT                                                                                                  \
    {                                                                                                        \
        "output", 'o', SG_CLI_STRING, offsetof(card_opts, out), .arg = "FILE", .help = "write to FILE",      \
                                                                .def = "stdout"                              \
    }
static const sg_cli_opt model_table[] = {
    SG_CLI_POLICY_DB(card_opts),
    {"model", 'm', SG_CLI_STRING, offsetof(card_opts, model), .arg = "MODEL", .help = "a model of the policy",
     .required = 1},
    OUT,
    {0},
};
static const sg_cli_opt system_table[] = {SG_CLI_POLICY_DB(card_opts), OUT, {0}};
#undef OUT
static const sg_cli_cmd commands[] = {
    [DOC_MODEL_CARD] = {.name = "card",
                        .summary = "write a model card from training records and evaluations",
                        .opts = model_table,
                        .description =
                            "Writes the model card (Hugging Face format, Mitchell et al. sections) of MODEL\n"
                            "from its training records and the stored evaluations, to stdout or FILE.\n"},
    [DOC_DATASHEET] = {.name = "datasheet",
                       .summary = "write a datasheet for the training corpus",
                       .opts = model_table,
                       .description =
                           "Writes the datasheet (Gebru et al.) of the corpus MODEL was trained on, from\n"
                           "its training records and the corpus files.\n"},
    [DOC_SYSTEM_CARD] = {.name = "system-card",
                         .summary = "write the deployment's system card and release timeline",
                         .opts = system_table,
                         .description =
                             "Writes the system card: stages, audiences, access per component, safety\n"
                             "protocols, rate limits, incidents and the release timeline.\n"},
};

/* Writes the document to stdout or -o FILE. */
static int write_document(document doc, int argc, char **argv) {
    const char *cmd = commands[doc].name;
    card_opts o = {0};
    int rc = sg_cli_parse(&commands[doc], argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *policy_path = o.policy, *db = o.db, *model = o.model, *out = o.out;
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

int sg_cmd_card(int argc, char **argv) { return write_document(DOC_MODEL_CARD, argc, argv); }
int sg_cmd_datasheet(int argc, char **argv) { return write_document(DOC_DATASHEET, argc, argv); }
int sg_cmd_system_card(int argc, char **argv) { return write_document(DOC_SYSTEM_CARD, argc, argv); }
