/* cmd_tokenizer.c — `stagegate tokenizer train`: learns a byte-level BPE
 * vocabulary (vocab.json + merges.txt) from text files. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "cli/commands.h"
#include "cli/opt_table.h"
#include "train/bpe_train.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: stagegate tokenizer train --vocab-size N -o DIR FILE|DIR...\n"
            "\n"
            "Trains a GPT-2-style byte-level BPE tokenizer and writes DIR/vocab.json and\n"
            "DIR/merges.txt. A directory argument stands for its files (sorted by name).\n"
            "\"<|endoftext|>\" in the text separates documents; it gets the last id.\n"
            "  -n, --vocab-size N   tokens in the vocabulary, >= %d (256 bytes + merges + 1)\n"
            "  -o, --output DIR     output directory (created if missing)\n",
            SG_BPE_MIN_VOCAB);
}

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
    static const struct option opts[] = {{"vocab-size", required_argument, 0, 'n'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    long vocab = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': {
            char *end;
            errno = 0;
            vocab = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg) {
                fprintf(stderr, "stagegate tokenizer: --vocab-size: '%s' is not a number\n", optarg);
                return 2;
            }
            break;
        }
        case 'o':
            out = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!out || !vocab || optind >= argc) {
        fprintf(stderr, "stagegate tokenizer: train needs --vocab-size N, -o DIR and at least one file\n");
        usage(stderr);
        return 2;
    }
    if (vocab < SG_BPE_MIN_VOCAB || vocab > SG_BPE_MAX_VOCAB) {
        fprintf(stderr, "stagegate tokenizer: --vocab-size %ld is outside [%d, %d]\n", vocab,
                SG_BPE_MIN_VOCAB, SG_BPE_MAX_VOCAB);
        return 2;
    }
    sg_bpe_trainer *tr;
    sg_error *err = sg_bpe_trainer_new(&tr);
    if (err) return sg_cli_fail("tokenizer", err);
    for (int i = optind; i < argc && !err; i++) err = add_path(tr, argv[i]);
    if (!err && mkdir(out, 0777) && errno != EEXIST) err = sg_error_new("%s: %s", out, strerror(errno));
    if (!err) err = sg_bpe_trainer_train(tr, (int)vocab, out);
    sg_bpe_trainer_free(tr);
    if (err) return sg_cli_fail("tokenizer", err);
    return 0;
}

int sg_cmd_tokenizer(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return train(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "stagegate tokenizer: expected a sub-command: train\n");
    usage(stderr);
    return 2;
}
