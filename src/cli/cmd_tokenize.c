/* cmd_tokenize.c — `stagegate tokenize`: text on stdin to GPT-2 token ids
 * (space-separated, one line) or, with --decode, ids back to bytes. Given
 * files, it encodes each and prints one line per file. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/read_all.h"
#include "engine/tokenizer.h"

typedef struct {
    const char *dir;
    int decode, special;
} tokenize_opts;

static const sg_cli_opt table[] = {
    {"model", 'm', SG_CLI_STRING, offsetof(tokenize_opts, dir), .arg = "DIR",
     .help = "tokenizer (or checkpoint) directory: vocab.json and merges.txt", .required = 1},
    {"decode", 'd', SG_CLI_FLAG, offsetof(tokenize_opts, decode), .arg = NULL,
     .help = "read ids (whitespace-separated) and write their bytes"},
    {"special", 's', SG_CLI_FLAG, offsetof(tokenize_opts, special), .arg = NULL,
     .help = "encode \"<|endoftext|>\" as the end-of-text id (by default it is ordinary text)"},
    {0},
};
static const sg_cli_cmd cmd = {
    .name = "tokenize",
    .summary = "text to GPT-2 token ids and back",
    .args = "[FILE...]",
    .max_args = -1,
    .opts = table,
    .description = "Reads stdin and writes stdout. Given FILEs, encodes each one and prints one line of ids\n"
                   "per file.\n",
};

static int read_all(FILE *f, char **data, size_t *size) {
    *data = sg_read_stream(f, size);
    if (*data && ferror(f)) {
        free(*data);
        *data = NULL;
    }
    return *data ? 0 : -1;
}

static int read_path(const char *path, char **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int rc = read_all(f, data, size);
    fclose(f);
    return rc;
}

static int encode(const sg_tokenizer *t, const char *in, size_t n, int special) {
    int *ids, n_ids;
    sg_error *err = sg_tokenizer_encode(t, in, n, special, &ids, &n_ids);
    if (err) {
        fprintf(stderr, "stagegate tokenize: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 1;
    }
    char *out = malloc((size_t)n_ids * 12 + 2), *p = out;
    if (!out) {
        free(ids);
        fprintf(stderr, "stagegate tokenize: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n_ids; i++) {
        if (i) *p++ = ' ';
        char digits[12];
        int k = 0;
        unsigned v = (unsigned)ids[i]; /* ids are >= 0 */
        do digits[k++] = (char)('0' + v % 10);
        while (v /= 10);
        while (k) *p++ = digits[--k];
    }
    *p++ = '\n';
    int rc = fwrite(out, 1, (size_t)(p - out), stdout) == (size_t)(p - out) ? 0 : 1;
    free(out);
    free(ids);
    return rc;
}

static int decode(const sg_tokenizer *t, const char *in, size_t n) {
    int *ids = NULL, cap = 0, n_ids = 0;
    const char *s = in, *end = in + n;
    while (s < end) {
        while (s < end && strchr(" \t\r\n", *s)) s++;
        if (s == end) break;
        char *e;
        errno = 0;
        long v = strtol(s, &e, 10);
        if (e == s || errno || v < 0 || v > 0x7fffffff || (e < end && !strchr(" \t\r\n", *e))) {
            fprintf(stderr, "stagegate tokenize: input byte %zu: expected a token id\n", (size_t)(s - in));
            free(ids);
            return 1;
        }
        if (n_ids == cap) {
            cap = cap ? cap * 2 : 1024;
            int *ni = realloc(ids, (size_t)cap * sizeof *ids);
            if (!ni) {
                free(ids);
                fprintf(stderr, "stagegate tokenize: out of memory\n");
                return 1;
            }
            ids = ni;
        }
        ids[n_ids++] = (int)v;
        s = e;
    }
    char *bytes;
    size_t len;
    sg_error *err = sg_tokenizer_decode(t, ids, n_ids, &bytes, &len);
    free(ids);
    if (err) {
        fprintf(stderr, "stagegate tokenize: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 1;
    }
    int rc = fwrite(bytes, 1, len, stdout) == len ? 0 : 1;
    free(bytes);
    return rc;
}

int sg_cmd_tokenize(int argc, char **argv) {
    tokenize_opts o = {0};
    int n_files, rc = sg_cli_parse(&cmd, argc, argv, &o, &n_files);
    if (rc >= 0) return rc;
    const char *dir = o.dir;
    int do_decode = o.decode, special = o.special;
    if (do_decode && n_files) return sg_cli_usage("tokenize", "--decode reads stdin only");
    sg_tokenizer *t;
    sg_error *err = sg_tokenizer_load(dir, &t);
    if (err) {
        fprintf(stderr, "stagegate tokenize: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 1;
    }
    char *in;
    size_t n;
    rc = 0;
    for (int i = 1; i <= n_files && !rc; i++) {
        if (read_path(argv[i], &in, &n)) {
            fprintf(stderr, "stagegate tokenize: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
            break;
        }
        rc = encode(t, in, n, special);
        free(in);
    }
    if (n_files == 0) {
        if (read_all(stdin, &in, &n)) {
            fprintf(stderr, "stagegate tokenize: reading stdin: %s\n", strerror(errno));
            sg_tokenizer_free(t);
            return 1;
        }
        rc = do_decode ? decode(t, in, n) : encode(t, in, n, special);
        free(in);
    }
    sg_tokenizer_free(t);
    return rc;
}
