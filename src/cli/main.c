/* main.c — the `stagegate` program: dispatches to one subcommand per file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/init.h"
#include "cli/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    /* the engine */
    {"tokenize", sg_cmd_tokenize, "text to GPT-2 token ids and back"},
    {"tokenizer", sg_cmd_tokenizer, "train a byte-level BPE tokenizer"},
    {"checkpoint", sg_cmd_checkpoint, "create, inspect and convert GPT-2 checkpoints"},
    {"generate", sg_cmd_generate, "generate text from a prompt (streams)"},
    {"logits", sg_cmd_logits, "write a prompt's logits (debugging, reference tests)"},
    {"train", sg_cmd_train, "train a GPT-2 model from scratch"},
    {"finetune", sg_cmd_finetune, "continue training a checkpoint on new text"},
    {"eval", sg_cmd_eval, "perplexity, samples; release evaluations (run, record, list)"},
    /* the release */
    {"policy", sg_cmd_policy, "check a release policy file"},
    {"stage", sg_cmd_stage, "release stage: status, advance through gates, rollback, history"},
    {"risk", sg_cmd_risk, "record risk assessments and mitigation status"},
    {"signoff", sg_cmd_signoff, "record a reviewer's sign-off for a stage"},
    {"incident", sg_cmd_incident, "open, close and list incidents (suspend, roll back)"},
    {"report", sg_cmd_report, "usage, refusals, incidents and stage changes over a period"},
    {"card", sg_cmd_card, "write a model card from training records and evaluations"},
    {"datasheet", sg_cmd_datasheet, "write a datasheet for the training corpus"},
    {"system-card", sg_cmd_system_card, "write the deployment's system card and release timeline"},
    /* access and serving */
    {"serve", sg_cmd_serve, "run the gated API server (OpenAI-compatible)"},
    {"keys", sg_cmd_keys, "create, list, revoke and show API keys"},
    {"audit", sg_cmd_audit, "verify and read the hash-chained audit log"},
    {"flags", sg_cmd_flags, "community flags on completions: list, uphold or dismiss"},
    /* safety */
    {"moderate", sg_cmd_moderate, "moderation result for text on stdin (/v1/moderations shape)"},
    {"filter-eval", sg_cmd_filter_eval, "evaluate the content filter (precision, recall, evasions)"},
    {"detect", sg_cmd_detect, "is stdin text from the model? watermark and zero-shot scores"},
    {"watermark-eval", sg_cmd_watermark_eval, "evaluate the watermark (tpr, fpr, perplexity cost, edits)"},
    {"detect-eval", sg_cmd_detect_eval, "evaluate zero-shot detection (AUROC, tpr at 1% fpr)"},
    /* downloadable releases */
    {"licensee", sg_cmd_licensee, "licensee key pairs; add, list and revoke licensees"},
    {"release", sg_cmd_release, "the release's Ed25519 signing key"},
    {"pack", sg_cmd_pack, "issue an encrypted, signed, fingerprinted bundle to a licensee"},
    {"unpack", sg_cmd_unpack, "open a bundle with the licensee's key"},
    {"verify", sg_cmd_verify, "check a bundle or unpacked directory against the release key"},
    {"trace", sg_cmd_trace, "name the licensee whose copy a suspect model is"},
    {"version", sg_cmd_version, "print the version"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: stagegate COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-15s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`stagegate COMMAND --help` describes a command.\n");
}

int main(int argc, char **argv) {
    /* OpenMP's default wait policy spins for milliseconds at each barrier;
     * on a machine shared with other work that made decoding up to 50x
     * slower. libgomp reads the policy when it loads, so set "passive" and
     * re-execute once (the environment variable, if set, wins). */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv); /* only returns on failure: carry on */
    }
    sg_error *err = sg_init();
    if (err) {
        fprintf(stderr, "stagegate: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 1;
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "stagegate: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
