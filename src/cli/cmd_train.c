/* cmd_train.c — `stagegate train` and `stagegate finetune`: settings from a
 * YAML file and/or flags, then sg_train_run; Ctrl-C saves and exits. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/train_opts.h"
#include "cli/train_printer.h"
#include "train/trainer.h"

static volatile int stop_flag;

static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

typedef struct {
    sg_train_flags flags; /* first: the settings' options record here */
    const char *config;
} train_opts;

static const sg_cli_opt config_opt[] = {
    {"config", 0, SG_CLI_STRING, offsetof(train_opts, config), .arg = "FILE.yaml",
     .help = "the settings as a YAML file (flags override it)"},
    {0},
};

static sg_cli_cmd train_cmd = {
    .name = "train",
    .summary = "train a GPT-2 model from scratch",
    .args = "[FILES...]",
    .max_args = -1,
    .description = "Trains a GPT-2 from scratch on FILES (files or directories of .txt) or --shard. Every\n"
                   "setting of docs/TRAINING.md is an option, named with dashes. --resume continues\n"
                   "OUT_DIR/train_state.bin bit for bit. Ctrl-C saves a checkpoint and exits.\n",
    .on_arg = sg_train_opts_corpus,
};
static sg_cli_cmd finetune_cmd = {
    .name = "finetune",
    .summary = "continue training a checkpoint on new text",
    .args = "FILES...",
    .max_args = -1,
    .description =
        "Continues training CHECKPOINT_DIR (-m; its tokenizer too) on FILES (files or directories of\n"
        ".txt). --layer-lr-decay D: layer l of L learns at lr * D^(L-1-l), embeddings lr * D^L;\n"
        "--freeze-layers N freezes the embeddings and the lowest N layers. Defaults: lr 1e-4,\n"
        "warmup 20, steps 200, eval-interval 50; every `stagegate train` setting applies.\n",
    .on_arg = sg_train_opts_corpus,
};

static int run_train(int argc, char **argv, int finetune) {
    const char *name = finetune ? "finetune" : "train";
    sg_cli_cmd *spec = finetune ? &finetune_cmd : &train_cmd;
    sg_train_config cfg;
    sg_train_config_defaults(&cfg);
    if (finetune) {
        cfg.lr = 1e-4, cfg.warmup = 20, cfg.steps = 200, cfg.eval_interval = 50;
    }
    static sg_cli_opt table[100];
    static sg_train_opts_text text;
    spec->opts = sg_train_opts_table(table, sizeof table / sizeof table[0], config_opt, 1, &cfg, &text);
    if (!spec->opts) {
        sg_train_config_free(&cfg);
        return sg_cli_fail(name, sg_error_new("too many training settings for the option table"));
    }
    train_opts o = {.flags.v = calloc((size_t)argc, sizeof *o.flags.v)};
    if (!o.flags.v) {
        sg_train_config_free(&cfg);
        return sg_cli_fail(name, sg_error_new("out of memory"));
    }
    int rc = sg_cli_parse(spec, argc, argv, &o, NULL);
    if (rc >= 0) {
        free(o.flags.v);
        sg_train_config_free(&cfg);
        return rc;
    }
    sg_error *err = NULL;
    /* the config file first, so that flags override it */
    if (o.config && (err = sg_train_config_load_yaml(&cfg, o.config))) goto fail;
    if ((err = sg_train_opts_apply(&o.flags, &cfg))) goto fail;
    free(o.flags.v);
    o.flags.v = NULL;
    if (finetune && !cfg.init_from) {
        sg_train_config_free(&cfg);
        return sg_cli_usage("finetune", "-m CHECKPOINT_DIR is required");
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sg_train_printer printer;
    sg_train_printer_init(&printer, cfg.log_interval);
    err = sg_train_run(&cfg, &stop_flag, sg_train_printer_event, &printer);
    if (err) goto fail;
    sg_train_config_free(&cfg);
    return 0;
fail:
    free(o.flags.v);
    sg_train_config_free(&cfg);
    return sg_cli_fail(name, err);
}

int sg_cmd_train(int argc, char **argv) { return run_train(argc, argv, 0); }
int sg_cmd_finetune(int argc, char **argv) { return run_train(argc, argv, 1); }
