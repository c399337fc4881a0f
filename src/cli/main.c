/* main.c — the `stagegate` program: dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"version", sg_cmd_version, "print the version"},
    {"tokenize", sg_cmd_tokenize, "text to GPT-2 token ids and back"},
    {"train", sg_cmd_train, "train a GPT-2 model from scratch"},
    {"finetune", sg_cmd_finetune, "continue training a checkpoint on new text"},
    {"eval", sg_cmd_eval, "perplexity of a checkpoint on text; gradient checks"},
    {"tokenizer", sg_cmd_tokenizer, "train a byte-level BPE tokenizer"},
    {"checkpoint", sg_cmd_checkpoint, "create, inspect and convert GPT-2 checkpoints"},
    {"keys", sg_cmd_keys, "create, list, revoke and show API keys"},
    {"audit", sg_cmd_audit, "verify and read the hash-chained audit log"},
    {"policy", sg_cmd_policy, "check a release policy file"},
    {"licensee", sg_cmd_licensee, "licensee key pairs; add, list and revoke licensees"},
    {"release", sg_cmd_release, "the release's Ed25519 signing key"},
    {"pack", sg_cmd_pack, "issue an encrypted, signed, fingerprinted bundle to a licensee"},
    {"unpack", sg_cmd_unpack, "open a bundle with the licensee's key"},
    {"verify", sg_cmd_verify, "check a bundle or unpacked directory against the release key"},
    {"trace", sg_cmd_trace, "name the licensee whose copy a suspect model is"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: stagegate COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`stagegate COMMAND --help` describes a command.\n");
}

int main(int argc, char **argv) {
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
