/* dist_opts.c — see dist_opts.h. */
#include "cli/dist_opts.h"

#include <stdio.h>
#include <string.h>

int sg_dist_usage(const char *cmd, const char *usage, const char *what) {
    fprintf(stderr, "stagegate %s: %s\n%s", cmd, what, usage);
    return 2;
}

int sg_dist_fail(const char *cmd, sg_error *err) {
    fprintf(stderr, "stagegate %s: %s\n", cmd, sg_error_message(err));
    sg_error_free(err);
    return 1;
}

int sg_dist_parse(const char *cmd, const char *usage, int argc, char **argv, int first,
                  const char *const *names, const char **values, const char **positional, int max_pos,
                  int *n_pos) {
    *n_pos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 1;
        }
        if (a[0] == '-' && a[1] == '-') {
            int j;
            for (j = 0; names[j]; j++) {
                size_t len = strlen(names[j]);
                int flag = names[j][len - 1] == '!';
                if (flag) len--;
                if (strncmp(a + 2, names[j], len) != 0) continue;
                if (a[2 + len] == '\0') {
                    if (flag) {
                        values[j] = "1";
                    } else {
                        if (i + 1 >= argc) {
                            char msg[128];
                            snprintf(msg, sizeof msg, "%s needs a value", a);
                            return sg_dist_usage(cmd, usage, msg);
                        }
                        values[j] = argv[++i];
                    }
                    break;
                }
                if (a[2 + len] == '=' && !flag) {
                    values[j] = a + 3 + len;
                    break;
                }
            }
            if (!names[j]) {
                char msg[160];
                snprintf(msg, sizeof msg, "unknown option %.100s", a);
                return sg_dist_usage(cmd, usage, msg);
            }
        } else if (a[0] == '-' && a[1] == 'o' && a[2] == '\0') {
            /* -o is --output for every command here */
            int j;
            for (j = 0; names[j] && strcmp(names[j], "output"); j++) {
            }
            if (!names[j] || i + 1 >= argc) return sg_dist_usage(cmd, usage, "-o needs a value");
            values[j] = argv[++i];
        } else if (a[0] == '-' && a[1] == 'm' && a[2] == '\0') {
            int j;
            for (j = 0; names[j] && strcmp(names[j], "model"); j++) {
            }
            if (!names[j] || i + 1 >= argc) return sg_dist_usage(cmd, usage, "-m needs a value");
            values[j] = argv[++i];
        } else {
            if (*n_pos >= max_pos) {
                char msg[160];
                snprintf(msg, sizeof msg, "unexpected argument %.100s", a);
                return sg_dist_usage(cmd, usage, msg);
            }
            positional[(*n_pos)++] = a;
        }
    }
    return 0;
}
