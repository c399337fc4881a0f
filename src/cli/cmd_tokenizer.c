/* cmd_tokenizer.c — `stagegate tokenizer train`: learns a byte-level BPE
 * vocabulary (vocab.json + merges.txt) from text files. */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "train/bpe_train.h"

typedef struct {
    const char *out;
    long vocab;
} train_opts;

static const sg_cli_opt train_table[] = {
    {"vocab-size", 'n', SG_CLI_LONG, offsetof(train_opts, vocab), .arg = "N",
     .help = "tokens in the vocabulary (256 bytes + merges + 1)", .min = SG_BPE_MIN_VOCAB,
     .max = SG_BPE_MAX_VOCAB},
    {"output", 'o', SG_CLI_STRING, offsetof(train_opts, out), .arg = "DIR",
     .help = "output directory (created if missing)"},
    {0},
};
static const sg_cli_cmd train_cmd = {
    .name = "tokenizer train",
    .summary = "train a GPT-2-style byte-level BPE tokenizer: DIR/vocab.json and DIR/merges.txt",
    .args = "FILE|DIR...",
    .max_args = -1,
    .opts = train_table,
    .description =
        "A directory argument stands for its files (sorted by name). \"<|endoftext|>\" in the text\n"
        "separates documents; it gets the last id.\n",
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Adds a file, or every regular file of a directory in name order. */
static sg_error *add_path(sg_bpe_trainer *tr, const char *path) {
    struct stat st;
    if (stat(path, &st)) return sg_error_new("%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return sg_bpe_trainer_add_file(tr, path);
    DIR *d = opendir(path);
    if (!d) return sg_error_new("%s: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    sg_error *err = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) {
                err = sg_error_new("out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = sg_path_join(path, e->d_name))) {
            err = sg_error_new("out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (!err) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !err; i++) {
        struct stat fs;
        if (!stat(names[i], &fs) && S_ISREG(fs.st_mode)) err = sg_bpe_trainer_add_file(tr, names[i]);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return err;
}

static int train(int argc, char **argv) {
    train_opts o = {0};
    int n_files, rc = sg_cli_parse(&train_cmd, argc, argv, &o, &n_files);
    if (rc >= 0) return rc;
    const char *out = o.out;
    long vocab = o.vocab;
    if (!out || !vocab || !n_files)
        return sg_cli_usage("tokenizer", "train needs --vocab-size N, -o DIR and at least one file");
    sg_bpe_trainer *tr;
    sg_error *err = sg_bpe_trainer_new(&tr);
    if (err) return sg_cli_fail("tokenizer", err);
    for (int i = 1; i <= n_files && !err; i++) err = add_path(tr, argv[i]);
    if (!err && mkdir(out, 0777) && errno != EEXIST) err = sg_error_new("%s: %s", out, strerror(errno));
    if (!err) err = sg_bpe_trainer_train(tr, (int)vocab, out);
    sg_bpe_trainer_free(tr);
    if (err) return sg_cli_fail("tokenizer", err);
    return 0;
}

int sg_cmd_tokenizer(int argc, char **argv) {
    static const sg_cli_sub subs[] = {{"train", train, &train_cmd, NULL}, {0}};
    return sg_cli_dispatch("tokenizer", "Byte-level BPE tokenizers.", subs, argc, argv);
}
