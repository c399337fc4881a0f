/* train_opts.c — see train_opts.h. */
#include "cli/train_opts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The default of setting `key` as text ("" when it has none). */
static void default_text(json_t *all, const char *key, char *out, size_t size) {
    json_t *v = json_object_get(all, key);
    out[0] = '\0';
    if (json_is_integer(v))
        snprintf(out, size, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, size, "%g", json_real_value(v));
    else if (json_is_string(v))
        snprintf(out, size, "%s", json_string_value(v));
}

sg_cli_opt *sg_train_opts_table(sg_cli_opt *out, size_t cap, const sg_cli_opt *extra, int shorts,
                                const sg_train_config *defaults, sg_train_opts_text *text) {
    char *json_text = sg_train_config_to_json(defaults);
    json_t *all = json_text ? json_loads(json_text, 0, NULL) : NULL;
    free(json_text);
    size_t n = 0;
    for (; extra && extra[n].name; n++) {
        if (n + 1 >= cap) break;
        out[n] = extra[n];
    }
    if (extra && extra[n].name) {
        json_decref(all);
        return NULL;
    }
    sg_train_key_kind kind;
    const char *key;
    for (size_t i = 0; (key = sg_train_config_key(i, &kind)); i++) {
        if (n + 1 >= cap || i >= SG_TRAIN_OPTS_MAX || strlen(key) >= sizeof text->names[i]) {
            json_decref(all);
            return NULL;
        }
        char *name = text->names[i];
        size_t k = 0;
        for (; key[k]; k++) name[k] = key[k] == '_' ? '-' : key[k];
        name[k] = '\0';
        default_text(all, key, text->defaults[i], sizeof text->defaults[i]);
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
            .name = name,
            .type = types[kind],
            .arg = args[kind],
            .help = kind == SG_TRAIN_KEY_LIST ? "the setting (docs/TRAINING.md); repeat to add"
                                              : "the setting (docs/TRAINING.md)",
            .def = text->defaults[i][0] ? text->defaults[i] : NULL,
            .call = record,
        };
        if (shorts && !strcmp(key, "out")) out[n].short_name = 'o', out[n].arg = "DIR";
        if (shorts && !strcmp(key, "init_from")) out[n].short_name = 'm', out[n].arg = "DIR";
        n++;
    }
    out[n] = (sg_cli_opt){0};
    json_decref(all);
    return out;
}

sg_error *sg_train_opts_apply(const sg_train_flags *f, sg_train_config *c) {
    for (int i = 0; i < f->n; i++) {
        sg_error *err = sg_train_config_set(c, f->v[i].key, f->v[i].value, "command line");
        if (err) return err;
    }
    return NULL;
}
