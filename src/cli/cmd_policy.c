/* cmd_policy.c — `stagegate policy check FILE`: validates a release policy,
 * prints its warnings and the stages as a table, or its errors. */
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "cli/commands.h"
#include "release/policy.h"
#include "release/policy_demo.h"

typedef struct {
    int json;
} check_opts;
static const sg_cli_opt check_table[] = {
    {"json", 0, SG_CLI_FLAG, offsetof(check_opts, json), .arg = NULL,
     .help = "print the policy (settings, effective audiences and models per stage, warnings) as one JSON "
             "object"},
    {0},
};
static const sg_cli_cmd check_cmd = {
    .name = "policy check",
    .summary = "validate a release policy: its warnings and its stages as a table, or its errors",
    .args = "FILE",
    .min_args = 1,
    .max_args = 1,
    .opts = check_table,
    .description =
        "Loads the release policy FILE and prints its warnings (unknown keys, unknown safety\n"
        "protocols, ...) and its stages as a table: audiences and models served (cumulative),\n"
        "access level per component group (model / risk analysis / replication), safety\n"
        "protocols, and the gates for entering each stage. Exits 0 if the policy is valid, 1 with\n"
        "FILE:LINE:COLUMN errors if not. docs/POLICY.md describes every key.\n",
};

/* A growable string for one table cell. */
static void put_list(sg_buf *b, char *const *items, int n) {
    if (!n) sg_buf_addf(b, "-");
    for (int i = 0; i < n; i++) sg_buf_addf(b, "%s%s", i ? ", " : "", items[i]);
}

enum { COL_STAGE, COL_AUDIENCES, COL_MODELS, COL_ACCESS, COL_PROTOCOLS, COL_GATES, NCOLS };
static const char *const headers[NCOLS] = {
    " STAGE", "AUDIENCES", "MODELS", "ACCESS (model/risk/repl)", "PROTOCOLS", "GATES (to enter)"};

static void fill_row(const sg_policy *p, int i, sg_buf *cells) {
    const sg_policy_stage *s = &p->stages[i];
    sg_buf_addf(&cells[COL_STAGE], "%s%s", i == p->current_stage ? "*" : " ", s->name);
    put_list(&cells[COL_AUDIENCES], s->effective_audiences, s->n_effective_audiences);
    put_list(&cells[COL_MODELS], s->effective_models, s->n_effective_models);
    for (int a = 0; a < s->n_audience_models; a++) {
        sg_buf_addf(&cells[COL_MODELS], " [%s: ", s->audience_models[a].audience);
        put_list(&cells[COL_MODELS], s->audience_models[a].models, s->audience_models[a].n_models);
        sg_buf_addf(&cells[COL_MODELS], "]");
    }
    sg_buf_addf(&cells[COL_ACCESS], "%s/%s/%s", sg_access_level_name(s->components[SG_COMPONENT_MODEL]),
                sg_access_level_name(s->components[SG_COMPONENT_RISK_ANALYSIS]),
                sg_access_level_name(s->components[SG_COMPONENT_REPLICATION]));
    put_list(&cells[COL_PROTOCOLS], s->protocols, s->n_protocols);
    sg_buf *g = &cells[COL_GATES];
    if (i == 0) {
        sg_buf_addf(g, "(start)");
        return;
    }
    const sg_policy_gates *gt = &s->gates;
    int any = 0;
    if (gt->min_days)
        sg_buf_addf(g, "%s%d days in '%s'", any++ ? "\n" : "", gt->min_days, p->stages[i - 1].name);
    if (gt->risk_assessment != SG_RISK_NONE)
        sg_buf_addf(g, "%srisk assessment %s", any++ ? "\n" : "", sg_risk_status_name(gt->risk_assessment));
    for (int e = 0; e < gt->n_evaluations; e++) {
        const sg_policy_eval_gate *ev = &gt->evaluations[e];
        sg_buf_addf(g, "%s%s/%s %s", any++ ? "\n" : "", ev->suite, ev->model, ev->metric);
        if (ev->has_min) sg_buf_addf(g, " >= %g", ev->min);
        if (ev->has_max) sg_buf_addf(g, " <= %g", ev->max);
    }
    if (gt->signoffs) {
        sg_buf_addf(g, "%s%d sign-off%s", any++ ? "\n" : "", gt->signoffs, gt->signoffs == 1 ? "" : "s");
        if (gt->n_reviewers) {
            sg_buf_addf(g, " of ");
            put_list(g, gt->reviewers, gt->n_reviewers);
        }
    }
    if (gt->n_safety_protocols) {
        int same = gt->n_safety_protocols == s->n_protocols;
        for (int k = 0; same && k < gt->n_safety_protocols; k++)
            same = strcmp(gt->safety_protocols[k], s->protocols[k]) == 0;
        sg_buf_addf(g, "%s", any++ ? "\n" : "");
        if (same) {
            sg_buf_addf(g, "its protocols active");
        } else {
            sg_buf_addf(g, "protocols active: ");
            put_list(g, gt->safety_protocols, gt->n_safety_protocols);
        }
    }
    if (!any) sg_buf_addf(g, "none");
}

/* Column widths; longer cells wrap at spaces. ACCESS never wraps. */
static const size_t max_width[NCOLS] = {22, 24, 26, 40, 28, 48};

/* The next wrapped segment of `s` (at most w characters unless a word is
 * longer): its length, and in *skip the characters to the next segment. */
static size_t segment(const char *s, size_t w, size_t *skip) {
    size_t n = strlen(s);
    const char *nl = memchr(s, '\n', n < w + 1 ? n : w + 1);
    if (nl) return *skip = (size_t)(nl - s) + 1, (size_t)(nl - s);
    if (n <= w) return *skip = n, n;
    size_t cut = w;
    while (cut > 0 && s[cut] != ' ') cut--;
    if (cut == 0) cut = w; /* one long word: hard break */
    *skip = cut + (s[cut] == ' ');
    return cut;
}

static sg_error *print_table(const sg_policy *p) {
    int n_cells = p->n_stages * NCOLS;
    sg_buf *cells = calloc((size_t)n_cells, sizeof *cells);
    if (!cells) return sg_error_new("out of memory");
    for (int i = 0; i < n_cells; i++) sg_buf_init(&cells[i], 0);
    sg_error *err = NULL;
    for (int i = 0; i < p->n_stages; i++) fill_row(p, i, &cells[i * NCOLS]);
    for (int i = 0; i < n_cells && !err; i++)
        if (cells[i].deferred)
            err = sg_error_wrap(cells[i].deferred, "the stage table"), cells[i].deferred = NULL;
    if (err) goto out;
    size_t width[NCOLS];
    for (int c = 0; c < NCOLS; c++) width[c] = strlen(headers[c]);
    for (int i = 0; i < p->n_stages; i++) {
        for (int c = 0; c < NCOLS; c++) {
            size_t len = cells[i * NCOLS + c].len;
            if (len > max_width[c]) len = max_width[c];
            if (len > width[c]) width[c] = len;
        }
    }
    for (int c = 0; c < NCOLS; c++)
        printf("%s%-*s", c ? "  " : "", c == NCOLS - 1 ? 0 : (int)width[c], headers[c]);
    printf("\n");
    for (int i = 0; i < p->n_stages; i++) {
        const char *rest[NCOLS];
        for (int c = 0; c < NCOLS; c++) rest[c] = cells[i * NCOLS + c].data ? cells[i * NCOLS + c].data : "";
        for (int more = 1; more;) {
            more = 0;
            size_t len[NCOLS], skip[NCOLS];
            int last = 0;
            for (int c = 0; c < NCOLS; c++) {
                len[c] = segment(rest[c], width[c], &skip[c]);
                if (len[c]) last = c;
            }
            for (int c = 0; c <= last; c++) {
                printf("%s%-*.*s", c ? "  " : "", c == last ? 0 : (int)width[c], (int)len[c], rest[c]);
            }
            for (int c = 0; c < NCOLS; c++) {
                rest[c] += skip[c];
                more |= *rest[c] != 0;
            }
            printf("\n");
        }
        if (i + 1 < p->n_stages) printf("\n");
    }
out:
    for (int i = 0; i < n_cells; i++) sg_buf_free(&cells[i]);
    free(cells);
    return err;
}

static int check(const char *path, int as_json) {
    sg_policy *p;
    sg_error *err = sg_policy_load(path, &p);
    if (err) {
        const char *msg = sg_error_message(err);
        while (*msg) {
            const char *nl = strchr(msg, '\n');
            int n = nl ? (int)(nl - msg) : (int)strlen(msg);
            fprintf(stderr, "stagegate policy: %.*s\n", n, msg);
            msg += n + (nl != NULL);
        }
        sg_error_free(err);
        return 1;
    }
    if (as_json) {
        json_t *j;
        err = sg_policy_to_json(p, &j);
        sg_policy_free(p);
        if (err) {
            fprintf(stderr, "stagegate policy: %s\n", sg_error_message(err));
            sg_error_free(err);
            return 1;
        }
        int rc = json_dumpf(j, stdout, JSON_INDENT(2)) ? 1 : 0;
        printf("\n");
        json_decref(j);
        return rc;
    }
    for (int i = 0; i < p->n_warnings; i++) fprintf(stderr, "%s\n", p->warnings[i]);
    for (int i = 0; i < p->n_models; i++) {
        struct stat st;
        if (stat(p->models[i].path, &st) || !S_ISDIR(st.st_mode))
            fprintf(stderr, "%s:%d: note: checkpoint directory of model '%s' (%s) does not exist yet\n", path,
                    p->models[i].line, p->models[i].name, p->models[i].path);
    }
    printf("policy %s: valid\n", path);
    printf("release: %s%s%s, %s, current stage '%s'\n", p->model_name, p->version ? " " : "",
           p->version ? p->version : "", sg_deployment_strategy_name(p->deployment_strategy),
           p->stages[p->current_stage].name);
    printf("digest: blake2b-256:%s\n", p->digest);
    printf("monitoring: %s; incident response plan: %s\n",
           sg_monitoring_frequency_name(p->monitoring_frequency),
           p->incident_response_plan ? p->incident_response_plan : "(none)");
    if (p->n_models) {
        printf("models:");
        for (int i = 0; i < p->n_models; i++)
            printf("%s %s (%s)", i ? "," : "", p->models[i].name, p->models[i].path);
        printf("\n");
    }
    if (p->filter.n_categories) {
        printf("content filter:");
        for (int i = 0; i < p->filter.n_categories; i++) {
            const sg_filter_category *c = &p->filter.categories[i];
            static const char *const actions[] = {"block", "redact", "hardcoded", "flag"};
            printf("%s %s (%s, %d terms, %d patterns)", i ? "," : "", c->name, actions[c->action], c->n_terms,
                   c->n_patterns);
        }
        printf("\n");
    }
    if (p->demo) {
        const sg_policy_demo *d = p->demo;
        printf("web demo: audience %s, models", d->audience);
        for (int i = 0; i < d->n_models; i++) printf("%s %s", i ? "," : "", d->models[i]);
        printf("; open at:");
        int any = 0;
        for (int s = 0; s < p->n_stages; s++)
            if (sg_policy_demo_at(p, s)) printf("%s '%s'", any++ ? "," : "", p->stages[s].name);
        printf("%s; budgets %ld/%ld/%ld tokens per minute (session/network/all)%s\n", any ? "" : " no stage",
               d->session_tpm, d->network_tpm, d->global_tpm, d->paused ? "; PAUSED" : "");
    }
    printf("\n");
    err = print_table(p);
    sg_policy_free(p);
    return err ? sg_cli_fail("policy check", err) : 0;
}

static int run_check(int argc, char **argv) {
    check_opts o = {0};
    int n, rc = sg_cli_parse(&check_cmd, argc, argv, &o, &n);
    return rc >= 0 ? rc : check(argv[1], o.json);
}

int sg_cmd_policy(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"check", run_check, &check_cmd, NULL},
        {"apply", sg_policy_apply, &sg_policy_apply_cmd, NULL}, /* in cmd_serve.c */
        {0},
    };
    return sg_cli_dispatch("policy", "Check a release policy file; make the running server apply it.", subs,
                           argc, argv);
}
