/* cmd_train.c — `stagegate train` and `stagegate finetune`: settings from a
 * YAML file and/or flags, then sg_train_run; Ctrl-C saves and exits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/train_printer.h"
#include "train/trainer.h"

static volatile int stop_flag;

static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out, int finetune) {
    if (finetune)
        fprintf(out, "usage: stagegate finetune -m CHECKPOINT_DIR -o OUT_DIR [--config FILE] [--KEY "
                     "VALUE...] FILES...\n"
                     "  Continues training CHECKPOINT_DIR (its tokenizer too) on FILES (files or directories "
                     "of .txt).\n"
                     "  --layer-lr-decay D   layer l of L learns at lr * D^(L-1-l), embeddings lr * D^L\n"
                     "  --freeze-layers N    freeze the embeddings and the lowest N layers\n"
                     "  Defaults: lr 1e-4, warmup 20, steps 200; every `stagegate train` setting applies.\n");
    else
        fprintf(
            out,
            "usage: stagegate train [--config FILE.yaml] [--KEY VALUE...] [-o OUT_DIR] [FILES...]\n"
            "  Trains a GPT-2 from scratch on FILES (files or directories of .txt) or --shard.\n"
            "  Keys (YAML or --key, see docs/TRAINING.md): corpus val-corpus val-fraction shard tokenizer\n"
            "  layers heads embd n-ctx context batch grad-accum steps warmup lr lr-floor beta1 beta2 eps\n"
            "  weight-decay clip dropout-embd dropout-attn dropout-resid seed eval-interval eval-batches\n"
            "  checkpoint-interval log-interval dtype out resume stop-after threads\n"
            "  --resume continues OUT_DIR/train_state.bin bit for bit. Ctrl-C saves a checkpoint and "
            "exits.\n");
}

static int run_train(int argc, char **argv, int finetune) {
    const char *name = finetune ? "finetune" : "train";
    sg_train_config cfg;
    sg_train_config_defaults(&cfg);
    sg_error *err = NULL;
    if (finetune) {
        cfg.lr = 1e-4, cfg.warmup = 20, cfg.steps = 200, cfg.eval_interval = 50;
    }
    /* the config file first, so that flags override it */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout, finetune);
            sg_train_config_free(&cfg);
            return 0;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) goto usage_error;
            if ((err = sg_train_config_load_yaml(&cfg, argv[++i]))) goto fail;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config")) {
            i++;
        } else if (!strcmp(a, "-o") || !strcmp(a, "-m")) {
            if (i + 1 >= argc) goto usage_error;
            if ((err =
                     sg_train_config_set(&cfg, a[1] == 'o' ? "out" : "init_from", argv[++i], "command line")))
                goto fail;
        } else if (!strncmp(a, "--", 2)) {
            if (sg_train_config_is_switch(a + 2)) {
                err = sg_train_config_set(&cfg, a + 2, "true", "command line");
            } else {
                if (i + 1 >= argc) {
                    fprintf(stderr, "stagegate %s: %s needs a value\n", name, a);
                    goto usage_error;
                }
                err = sg_train_config_set(&cfg, a + 2, argv[++i], "command line");
            }
            if (err) goto fail;
        } else if ((err = sg_train_config_set(&cfg, "corpus", a, "command line"))) {
            goto fail;
        }
    }
    if (finetune && !cfg.init_from) {
        fprintf(stderr, "stagegate finetune: -m CHECKPOINT_DIR is required\n");
        goto usage_error;
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
    fprintf(stderr, "stagegate %s: %s\n", name, sg_error_message(err));
    sg_error_free(err);
    sg_train_config_free(&cfg);
    return 1;
usage_error:
    usage(stderr, finetune);
    sg_train_config_free(&cfg);
    return 2;
}

int sg_cmd_train(int argc, char **argv) { return run_train(argc, argv, 0); }
int sg_cmd_finetune(int argc, char **argv) { return run_train(argc, argv, 1); }
