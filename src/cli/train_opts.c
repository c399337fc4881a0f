/* train_opts.c — see train_opts.h. */
#include "cli/train_opts.h"

#include <string.h>

#define MAX_KEYS 96
#define MAX_NAME 48

static sg_error *record(void *dst, const sg_cli_opt *opt, const char *value) {
    sg_train_flags *f = dst;
    f->v[f->n].key = opt->name;
    f->v[f->n].value = value ? value : "true";
    f->n++;
    return NULL;
}

sg_error *sg_train_opts_corpus(void *dst, const char *arg) {
    sg_train_flags *f = dst;
    f->v[f->n].key = "corpus";
    f->v[f->n].value = arg;
    f->n++;
    return NULL;
}

sg_cli_opt *sg_train_opts_table(sg_cli_opt *out, size_t cap, const sg_cli_opt *extra, int shorts) {
    static char names[MAX_KEYS][MAX_NAME]; /* dashed names; the same for every table */
    size_t n = 0;
    for (; extra && extra[n].name; n++) {
        if (n + 1 >= cap) return NULL;
        out[n] = extra[n];
    }
    sg_train_key_kind kind;
    const char *key;
    for (size_t i = 0; (key = sg_train_config_key(i, &kind)); i++) {
        if (n + 1 >= cap || i >= MAX_KEYS || strlen(key) >= MAX_NAME) return NULL;
        size_t k = 0;
        for (; key[k]; k++) names[i][k] = key[k] == '_' ? '-' : key[k];
        names[i][k] = '\0';
        static const sg_cli_type types[] = {
            [SG_TRAIN_KEY_INT] = SG_CLI_LONG,      [SG_TRAIN_KEY_DOUBLE] = SG_CLI_DOUBLE,
            [SG_TRAIN_KEY_STRING] = SG_CLI_STRING, [SG_TRAIN_KEY_LIST] = SG_CLI_STRING,
            [SG_TRAIN_KEY_SWITCH] = SG_CLI_FLAG,
        };
        static const char *const args[] = {
            [SG_TRAIN_KEY_INT] = "N",     [SG_TRAIN_KEY_DOUBLE] = "X",  [SG_TRAIN_KEY_STRING] = "VALUE",
            [SG_TRAIN_KEY_LIST] = "PATH", [SG_TRAIN_KEY_SWITCH] = NULL,
        };
        out[n] = (sg_cli_opt){
            .name = names[i],
            .type = types[kind],
            .arg = args[kind],
            .help = kind == SG_TRAIN_KEY_LIST ? "the setting (docs/TRAINING.md); repeat to add"
                                              : "the setting (docs/TRAINING.md)",
            .call = record,
        };
        if (shorts && !strcmp(key, "out")) out[n].short_name = 'o', out[n].arg = "DIR";
        if (shorts && !strcmp(key, "init_from")) out[n].short_name = 'm', out[n].arg = "DIR";
        n++;
    }
    out[n] = (sg_cli_opt){0};
    return out;
}

sg_error *sg_train_opts_apply(const sg_train_flags *f, sg_train_config *c) {
    for (int i = 0; i < f->n; i++) {
        sg_error *err = sg_train_config_set(c, f->v[i].key, f->v[i].value, "command line");
        if (err) return err;
    }
    return NULL;
}
