/* cli_parse.c — see cli_parse.h. */
#include "cli/cli_parse.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Tables are small; this bounds the "given" marks kept on the stack. */
#define MAX_OPTS 128

static size_t n_opts(const sg_cli_opt *opts) {
    size_t n = 0;
    while (opts && opts[n].name) n++;
    return n;
}

static int has_range(const sg_cli_opt *o) { return o->min < o->max; }

/* "an integer from 1 to 4096", "a number of at least 0", "one of a, b". */
static void describe(const sg_cli_opt *o, char *out, size_t size) {
    if (o->type == SG_CLI_ENUM) {
        size_t n = (size_t)snprintf(out, size, "one of ");
        for (const char *c = o->choices; *c && n + 3 < size; c++) {
            if (*c == '|') {
                out[n++] = ',';
                out[n++] = ' ';
            } else {
                out[n++] = *c;
            }
        }
        out[n < size ? n : size - 1] = '\0';
        return;
    }
    if (o->type == SG_CLI_FLAG || o->type == SG_CLI_STRING) {
        snprintf(out, size, "%s", o->arg ? o->arg : "a value");
        return;
    }
    const char *what = o->type == SG_CLI_DOUBLE ? "a number" : "an integer";
    const char *fmt = o->type == SG_CLI_DOUBLE ? "%g" : "%.0f";
    char lo[40], hi[40];
    snprintf(lo, sizeof lo, fmt, o->min);
    snprintf(hi, sizeof hi, fmt, o->max);
    if (!has_range(o))
        snprintf(out, size, "%s", what);
    else if (isinf(o->max))
        snprintf(out, size, "%s of at least %s", what, lo);
    else if (isinf(o->min))
        snprintf(out, size, "%s of at most %s", what, hi);
    else
        snprintf(out, size, "%s from %s to %s", what, lo, hi);
}

/* An option is named by its long name in errors, also when given as "-x". */
static void display_name(const sg_cli_opt *o, char *out, size_t size) {
    snprintf(out, size, "--%s", o->name);
}

static int enum_has(const char *choices, const char *v) {
    size_t len = strlen(v);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && !strncmp(c, v, n)) return 1;
        if (!bar) break;
        c = bar + 1;
    }
    return 0;
}

/* Converts v into slot, checking its type and range. */
static sg_error *convert(const sg_cli_opt *o, const char *name, const char *v, char *slot) {
    char want[256];
    describe(o, want, sizeof want);
    switch (o->type) {
    case SG_CLI_FLAG:
        *(int *)slot = 1;
        return NULL;
    case SG_CLI_STRING:
        *(const char **)slot = v;
        return NULL;
    case SG_CLI_ENUM:
        if (!enum_has(o->choices, v)) return sg_error_new("%s: expected %s, got '%s'", name, want, v);
        *(const char **)slot = v;
        return NULL;
    case SG_CLI_INT:
    case SG_CLI_LONG: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        long long lo = o->type == SG_CLI_INT ? INT_MIN : LONG_MIN;
        long long hi = o->type == SG_CLI_INT ? INT_MAX : LONG_MAX;
        if (errno || end == v || *end || x < lo || x > hi ||
            (has_range(o) && ((double)x < o->min || (double)x > o->max)))
            return sg_error_new("%s: expected %s, got '%s'", name, want, v);
        if (o->type == SG_CLI_INT)
            *(int *)slot = (int)x;
        else
            *(long *)slot = (long)x;
        return NULL;
    }
    case SG_CLI_DOUBLE: {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x) || (has_range(o) && (x < o->min || x > o->max)))
            return sg_error_new("%s: expected %s, got '%s'", name, want, v);
        *(double *)slot = x;
        return NULL;
    }
    }
    return sg_error_new("%s: bad option table entry", name);
}

/* Stores one value (or sets the flag; v is NULL then). */
static sg_error *store(const sg_cli_opt *o, const char *v, void *dst) {
    char name[80];
    display_name(o, name, sizeof name);
    if (o->call) { /* checked like a stored value, then handed over */
        union {
            int i;
            long l;
            double d;
            const char *s;
        } scratch;
        sg_error *err = convert(o, name, v, (char *)&scratch);
        if (!err && (err = o->call(dst, o, v))) err = sg_error_wrap(err, "%s", name);
        return err;
    }
    char *slot = (char *)dst + o->off;
    if (o->repeat > 0) {
        int *count = (int *)((char *)dst + o->count_off);
        if (*count >= o->repeat)
            return sg_error_new("%s: given more than %d time%s", name, o->repeat, o->repeat == 1 ? "" : "s");
        size_t width = o->type == SG_CLI_FLAG || o->type == SG_CLI_INT ? sizeof(int)
                       : o->type == SG_CLI_LONG                        ? sizeof(long)
                       : o->type == SG_CLI_DOUBLE                      ? sizeof(double)
                                                                       : sizeof(const char *);
        slot += width * (size_t)(*count)++;
    }
    return convert(o, name, v, slot);
}

/* Edit distance with transpositions ("modle" is one edit from "model"), for
 * "did you mean" (names are short). */
static size_t distance(const char *a, size_t na, const char *b) {
    size_t nb = strlen(b);
    if (na > 63 || nb > 63) return SIZE_MAX;
    size_t d[64][64];
    for (size_t i = 0; i <= na; i++) d[i][0] = i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[na][nb];
}

/* The closest of the names at name_off in items[0..count) (stride bytes
 * apart) to text[0..n), or NULL when none is close; ties go to the first. */
static const char *closest(const char *text, size_t n, const void *items, size_t count, size_t stride,
                           size_t name_off) {
    const char *best = NULL;
    size_t best_d = n / 3 + 1; /* at most about a third of the letters wrong */
    if (best_d > 3) best_d = 3;
    for (size_t i = 0; i < count; i++) {
        const char *name = *(const char *const *)((const char *)items + i * stride + name_off);
        size_t d = distance(text, n, name);
        if (d <= best_d && (!best || d < best_d)) {
            best = name;
            best_d = d;
        }
    }
    if (best || !n) return best;
    /* else the one name that starts with the text ("--temp" for "--temperature") */
    for (size_t i = 0; i < count; i++) {
        const char *name = *(const char *const *)((const char *)items + i * stride + name_off);
        if (strncmp(name, text, n)) continue;
        if (best) return NULL;
        best = name;
    }
    return best;
}

static sg_error *unknown_option(const sg_cli_opt *opts, size_t n, const char *arg) {
    const char *text = arg + (arg[1] == '-' ? 2 : 1);
    const char *eq = strchr(text, '=');
    size_t len = eq ? (size_t)(eq - text) : strlen(text);
    const char *near =
        arg[1] == '-' ? closest(text, len, opts, n, sizeof *opts, offsetof(sg_cli_opt, name)) : NULL;
    if (near) return sg_error_new("unknown option '%.*s' (did you mean '--%s'?)", (int)(len + 2), arg, near);
    return sg_error_new("unknown option '%.*s'", (int)(len + (size_t)(text - arg)), arg);
}

sg_error *sg_cli_parse_args(const sg_cli_cmd *cmd, int argc, char **argv, void *dst, int *n_args, int *help) {
    const sg_cli_opt *opts = cmd->opts;
    size_t n = n_opts(opts);
    if (n > MAX_OPTS) return sg_error_new("%zu options: the parser takes at most %d", n, MAX_OPTS);
    unsigned char given[MAX_OPTS] = {0};
    int has_h = 0;
    for (size_t k = 0; k < n; k++) has_h |= opts[k].short_name == 'h';
    *help = 0;
    /* --help anywhere before "--" wins over every other problem */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || (!has_h && !strcmp(argv[i], "-h"))) {
            *help = 1;
            return NULL;
        }
    int n_pos = 0, only_args = 0;
    sg_error *err = NULL;
    for (int i = 1; i < argc && !err; i++) {
        char *a = argv[i];
        if (only_args || a[0] != '-' || !a[1]) {
            if (cmd->on_arg) {
                err = cmd->on_arg(dst, a);
                continue;
            }
            if (cmd->max_args >= 0 && n_pos >= cmd->max_args) {
                err = sg_error_new("unexpected argument '%s'", a);
                break;
            }
            argv[1 + n_pos++] = a; /* 1 + n_pos <= i: nothing unread is overwritten */
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            size_t k;
            for (k = 0; k < n; k++)
                if (strlen(opts[k].name) == len && !strncmp(opts[k].name, a + 2, len)) break;
            if (k == n) {
                err = unknown_option(opts, n, a);
                break;
            }
            const sg_cli_opt *o = &opts[k];
            given[k] = 1;
            if (o->type == SG_CLI_FLAG) {
                if (eq)
                    err = sg_error_new("--%s: takes no value, got '%s'", o->name, eq + 1);
                else
                    err = store(o, NULL, dst);
            } else if (eq) {
                err = store(o, eq + 1, dst);
            } else if (i + 1 < argc) {
                err = store(o, argv[++i], dst);
            } else {
                err = sg_error_new("--%s: missing value %s", o->name, o->arg ? o->arg : "");
            }
            continue;
        }
        /* short options: "-x", "-xVALUE", "-x VALUE", "-abc" for flags */
        for (const char *s = a + 1; *s && !err; s++) {
            size_t k;
            for (k = 0; k < n; k++)
                if (opts[k].short_name && opts[k].short_name == *s) break;
            if (k == n) {
                err = s == a + 1 ? unknown_option(opts, n, a)
                                 : sg_error_new("unknown option '-%c' in '%s'", *s, a);
                break;
            }
            const sg_cli_opt *o = &opts[k];
            given[k] = 1;
            if (o->type == SG_CLI_FLAG) {
                err = store(o, NULL, dst);
                continue;
            }
            if (s[1])
                err = store(o, s + 1, dst);
            else if (i + 1 < argc)
                err = store(o, argv[++i], dst);
            else
                err = sg_error_new("-%c: missing value %s", *s, o->arg ? o->arg : "");
            break;
        }
    }
    if (err) return err;
    for (size_t k = 0; k < n; k++)
        if (opts[k].required && !given[k])
            return sg_error_new("--%s%s%s is required", opts[k].name, opts[k].arg ? " " : "",
                                opts[k].arg ? opts[k].arg : "");
    if (!cmd->on_arg && n_pos < cmd->min_args)
        return sg_error_new("missing %s", cmd->args ? cmd->args : "arguments");
    if (n_args)
        *n_args = n_pos;
    else if (n_pos)
        return sg_error_new("unexpected argument '%s'", argv[1]);
    return NULL;
}

int sg_cli_parse(const sg_cli_cmd *cmd, int argc, char **argv, void *dst, int *n_args) {
    int help = 0;
    sg_error *err = sg_cli_parse_args(cmd, argc, argv, dst, n_args, &help);
    if (err) {
        fprintf(stderr, "stagegate %s: %s\n", cmd->name, sg_error_message(err));
        sg_error_free(err);
        return 2;
    }
    if (help) {
        sg_cli_help(cmd, dst, stdout);
        return 0;
    }
    return -1;
}

/* "-m, --model DIR" / "    --ids". */
static int option_label(const sg_cli_opt *o, char *out, size_t size) {
    char sh[8] = "    ";
    if (o->short_name) snprintf(sh, sizeof sh, "-%c, ", o->short_name);
    int has_arg = o->type != SG_CLI_FLAG;
    const char *arg = o->arg ? o->arg : o->type == SG_CLI_ENUM ? o->choices : "VALUE";
    return snprintf(out, size, "%s--%s%s%s", sh, o->name, has_arg ? " " : "", has_arg ? arg : "");
}

void sg_cli_synopsis(const sg_cli_cmd *cmd, FILE *out) {
    size_t n = n_opts(cmd->opts);
    fprintf(out, "stagegate %s", cmd->name);
    /* flags first ([--json]), then the arguments, then the required options,
     * then the optional ones with values (or "[options]" when there are many) */
    int n_flags = 0, n_valued = 0;
    for (size_t k = 0; k < n; k++) {
        const sg_cli_opt *o = &cmd->opts[k];
        if (o->required) continue;
        if (o->type == SG_CLI_FLAG)
            n_flags++;
        else
            n_valued++;
    }
    int many = n_flags + n_valued > 4;
    if (!many)
        for (size_t k = 0; k < n; k++)
            if (cmd->opts[k].type == SG_CLI_FLAG && !cmd->opts[k].required)
                fprintf(out, " [--%s]", cmd->opts[k].name);
    if (cmd->args) fprintf(out, " %s", cmd->args);
    for (size_t k = 0; k < n; k++) {
        const sg_cli_opt *o = &cmd->opts[k];
        if (!o->required) continue;
        char label[160];
        option_label(o, label, sizeof label);
        /* "-m, --model DIR" -> "-m DIR" when there is a short name */
        if (o->short_name && o->type != SG_CLI_FLAG)
            fprintf(out, " -%c %s", o->short_name, o->arg ? o->arg : "VALUE");
        else
            fprintf(out, " %s", label + 4);
    }
    if (many) {
        fprintf(out, " [options]");
    } else {
        for (size_t k = 0; k < n; k++) {
            const sg_cli_opt *o = &cmd->opts[k];
            if (o->required || o->type == SG_CLI_FLAG) continue;
            char label[160];
            option_label(o, label, sizeof label);
            fprintf(out, " [%s]", label + 4);
        }
    }
}

/* "(integer from 1 to 64; default 8; repeatable, up to 4)". */
static void annotation(const sg_cli_opt *o, const void *dst, FILE *out) {
    char parts[4][300];
    int np = 0;
    if (o->required) snprintf(parts[np++], sizeof parts[0], "required");
    if (o->type == SG_CLI_INT || o->type == SG_CLI_LONG || o->type == SG_CLI_DOUBLE ||
        o->type == SG_CLI_ENUM) {
        char want[256];
        describe(o, want, sizeof want);
        /* "an integer ..." -> "integer ..." */
        const char *w = !strncmp(want, "an ", 3) ? want + 3 : !strncmp(want, "a ", 2) ? want + 2 : want;
        snprintf(parts[np++], sizeof parts[0], "%s", w);
    }
    char def[200] = "";
    if (o->def) {
        snprintf(def, sizeof def, "%s", o->def);
    } else if (dst && !o->call && o->repeat <= 0 && !o->required) {
        const char *slot = (const char *)dst + o->off;
        switch (o->type) {
        case SG_CLI_INT:
            snprintf(def, sizeof def, "%d", *(const int *)slot);
            break;
        case SG_CLI_LONG:
            snprintf(def, sizeof def, "%ld", *(const long *)slot);
            break;
        case SG_CLI_DOUBLE:
            snprintf(def, sizeof def, "%g", *(const double *)slot);
            break;
        case SG_CLI_STRING:
        case SG_CLI_ENUM:
            if (*(const char *const *)slot) snprintf(def, sizeof def, "%.190s", *(const char *const *)slot);
            break;
        case SG_CLI_FLAG:
            break;
        }
    }
    if (def[0]) snprintf(parts[np++], sizeof parts[0], "default %s", def);
    if (o->repeat > 1) snprintf(parts[np++], sizeof parts[0], "repeatable, up to %d", o->repeat);
    if (!np) return;
    fprintf(out, " (");
    for (int i = 0; i < np; i++) fprintf(out, "%s%s", i ? "; " : "", parts[i]);
    fprintf(out, ")");
}

void sg_cli_help(const sg_cli_cmd *cmd, const void *dst, FILE *out) {
    fprintf(out, "usage: ");
    sg_cli_synopsis(cmd, out);
    fprintf(out, "\n");
    if (cmd->summary) fprintf(out, "\n%s\n", cmd->summary);
    size_t n = n_opts(cmd->opts);
    if (n) fprintf(out, "\noptions:\n");
    for (size_t k = 0; k < n; k++) {
        const sg_cli_opt *o = &cmd->opts[k];
        char label[200];
        option_label(o, label, sizeof label);
        fprintf(out, "  %-26s %s", label, o->help ? o->help : "");
        annotation(o, dst, out);
        fprintf(out, "\n");
    }
    fprintf(out, "  %-26s %s\n", "-h, --help", "print this help and exit");
    if (cmd->description)
        fprintf(out, "\n%s%s", cmd->description,
                cmd->description[strlen(cmd->description) - 1] == '\n' ? "" : "\n");
}

int sg_cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stagegate %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 2;
}

int sg_cli_fail(const char *cmd, sg_error *err) {
    fprintf(stderr, "stagegate %s: %s\n", cmd, sg_error_message(err));
    sg_error_free(err);
    return 1;
}

static void group_help(const char *group, const char *description, const sg_cli_sub *subs, FILE *out) {
    int width = 0;
    for (const sg_cli_sub *s = subs; s->name; s++)
        if ((int)strlen(s->name) > width) width = (int)strlen(s->name);
    for (const sg_cli_sub *s = subs; s->name; s++) {
        fprintf(out, "%s", s == subs ? "usage: " : "       ");
        if (s->cmd)
            sg_cli_synopsis(s->cmd, out);
        else
            fprintf(out, "stagegate %s %s ...", group, s->name);
        fprintf(out, "\n");
    }
    if (description) fprintf(out, "\n%s\n", description);
    fprintf(out, "\ncommands:\n");
    for (const sg_cli_sub *s = subs; s->name; s++) {
        const char *summary = s->summary ? s->summary : s->cmd ? s->cmd->summary : NULL;
        fprintf(out, "  %-*s  %s\n", width, s->name, summary ? summary : "");
    }
    fprintf(out, "\n`stagegate %s COMMAND --help` describes a command and its options.\n", group);
}

int sg_cli_dispatch(const char *group, const char *description, const sg_cli_sub *subs, int argc,
                    char **argv) {
    size_t n = 0;
    while (subs[n].name) n++;
    int help_member = 0;
    for (size_t i = 0; i < n; i++) help_member |= !strcmp(subs[i].name, "help");
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
                      (!help_member && !strcmp(argv[1], "help")))) {
        group_help(group, description, subs, stdout);
        return 0;
    }
    if (argc >= 2)
        for (size_t i = 0; i < n; i++)
            if (!strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
    if (argc < 2) {
        fprintf(stderr, "stagegate %s: expected a sub-command:", group);
        for (size_t i = 0; i < n; i++) fprintf(stderr, "%s %s", i ? "," : "", subs[i].name);
        fprintf(stderr, " (`stagegate %s --help` describes them)\n", group);
        return 2;
    }
    const char *near = closest(argv[1], strlen(argv[1]), subs, n, sizeof *subs, offsetof(sg_cli_sub, name));
    if (near)
        fprintf(stderr, "stagegate %s: unknown sub-command '%s' (did you mean '%s'?)\n", group, argv[1],
                near);
    else
        fprintf(stderr, "stagegate %s: unknown sub-command '%s' (`stagegate %s --help` lists them)\n", group,
                argv[1], group);
    return 2;
}
