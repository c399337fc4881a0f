/* main.c — the `stagegate` program: dispatches to one subcommand per file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"version", sg_cmd_version, "print the version"},
    {"tokenize", sg_cmd_tokenize, "text to GPT-2 token ids and back"},
    {"generate", sg_cmd_generate, "generate text from a prompt (streams)"},
    {"logits", sg_cmd_logits, "write a prompt's logits (debugging, reference tests)"},
    {"tokenizer", sg_cmd_tokenizer, "train a byte-level BPE tokenizer"},
    {"checkpoint", sg_cmd_checkpoint, "create, inspect and convert GPT-2 checkpoints"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: stagegate COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
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
