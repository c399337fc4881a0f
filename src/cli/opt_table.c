/* opt_table.c — see opt_table.h. */
#include "cli/opt_table.h"

#include <stdio.h>
#include <string.h>

int sg_opt_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg) {
    fprintf(stderr, "stagegate %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

int sg_opt_parse(const char *cmd, const char *usage, int argc, char **argv, int first,
                 const sg_opt_spec *opts, size_t n_opts, void *dst, const char **positional) {
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        size_t j;
        for (j = 0; j < n_opts; j++) {
            size_t len = strlen(opts[j].name);
            void *slot = (char *)dst + opts[j].off;
            if (!strcmp(a, opts[j].name)) {
                if (opts[j].is_flag) {
                    *(bool *)slot = true;
                } else {
                    if (i + 1 >= argc) return sg_opt_usage_error(cmd, usage, "%s needs a value", a);
                    *(const char **)slot = argv[++i];
                }
                break;
            }
            if (!opts[j].is_flag && !strncmp(a, opts[j].name, len) && a[len] == '=') {
                *(const char **)slot = a + len + 1;
                break;
            }
        }
        if (j < n_opts) continue;
        if (a[0] == '-' && (a[1] == '-' || !positional))
            return sg_opt_usage_error(cmd, usage, "unknown option %s", a);
        if (!positional || *positional) return sg_opt_usage_error(cmd, usage, "unexpected argument '%s'", a);
        *positional = a;
    }
    return 0;
}

int sg_cli_fail(const char *cmd, sg_error *err) {
    fprintf(stderr, "stagegate %s: %s\n", cmd, sg_error_message(err));
    sg_error_free(err);
    return 1;
}
