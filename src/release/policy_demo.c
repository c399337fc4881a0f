/* policy_demo.c — the `demo:` section of the release policy (see policy_demo.h). */
#include "release/policy_demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    DK_AUDIENCE,
    DK_MODELS,
    DK_MAX_TOKENS,
    DK_TEMPERATURE,
    DK_TOP_P,
    DK_FORM_MAX_TOKENS,
    DK_BUDGETS,
    DK_MAX_SESSIONS,
    DK_FLAG_REASONS,
    DK_DISCLAIMER,
    DK_INTENDED_USE,
    DK_NOT_FOR,
    DK_PAUSED_NOTICE,
    DK_PAUSED,
    DK_COUNT
};
static const char *const demo_keys[DK_COUNT] = {
    "audience",     "models",       "max_tokens", "temperature",  "top_p",   "form_max_tokens", "budgets",
    "max_sessions", "flag_reasons", "disclaimer", "intended_use", "not_for", "paused_notice",   "paused"};

static void fail(sg_yaml_doc *y, const yaml_node_t *n, const char *f, const char *a, double v1, double v2) {
    char msg[300];
    snprintf(msg, sizeof msg, f, a, v1, v2);
    sg_yaml_error(y, n, "%s", msg);
}

/* {min, max, default} with lo <= min <= default <= max <= hi. */
static void parse_bound(sg_yaml_doc *y, const yaml_node_t *n, const char *key, double lo, double hi,
                        int integral, sg_demo_bound *b) {
    static const char *const keys[] = {"min", "max", "default"};
    yaml_node_t *v[3], *k[3];
    char what[64];
    snprintf(what, sizeof what, "'demo.%s'", key);
    if (!sg_yaml_keys(y, n, what, keys, 3, v, k)) return;
    double *dst[3] = {&b->min, &b->max, &b->def};
    for (int i = 0; i < 3; i++) {
        if (!v[i]) continue;
        char name[64];
        snprintf(name, sizeof name, "demo.%s.%s", key, keys[i]);
        if (integral) {
            long x;
            if (sg_yaml_long(y, v[i], name, (long)lo, (long)hi, &x)) *dst[i] = (double)x;
        } else {
            double x;
            if (!sg_yaml_double(y, v[i], name, &x)) continue;
            if (x < lo || x > hi) {
                fail(y, v[i], "'%s' must be between %g and %g", name, lo, hi);
                continue;
            }
            *dst[i] = x;
        }
    }
    if (b->min > b->max)
        fail(y, n, "'demo.%s': min (%g) is above max (%g)", key, b->min, b->max);
    else if (b->def < b->min || b->def > b->max)
        fail(y, v[2] ? v[2] : n, "'demo.%s.default' (%g) must lie within min and max (%g)", key, b->def,
             b->def < b->min ? b->min : b->max);
}

int sg_policy_demo_at(const sg_policy *p, int stage) {
    if (!p->demo || stage < 0 || stage >= p->n_stages) return 0;
    if (p->stages[stage].components[SG_COMPONENT_MODEL] < SG_ACCESS_HOSTED) return 0;
    return sg_policy_audience_at(p, stage, p->demo->audience);
}

void sg_policy_demo_parse(sg_yaml_doc *y, const yaml_node_t *n, const sg_policy *p, sg_policy_demo **out) {
    *out = NULL;
    sg_policy_demo *d = calloc(1, sizeof *d);
    if (!d) return;
    d->line = (int)n->start_mark.line + 1;
    d->column = (int)n->start_mark.column + 1;
    d->max_tokens = (sg_demo_bound){1, 64, 32};
    d->temperature = (sg_demo_bound){0.1, 1.5, 0.8};
    d->top_p = (sg_demo_bound){0.1, 1.0, 1.0};
    d->form_max_tokens = 24;
    d->session_tpm = 2000;
    d->network_tpm = 6000;
    d->global_tpm = 60000;
    d->max_sessions = 4096;
    *out = d;
    yaml_node_t *v[DK_COUNT], *k[DK_COUNT];
    if (!sg_yaml_keys(y, n, "'demo'", demo_keys, DK_COUNT, v, k)) return; /* reported: not a mapping */

    if (v[DK_AUDIENCE])
        sg_yaml_string(y, v[DK_AUDIENCE], "demo.audience", &d->audience);
    else
        sg_yaml_error(y, n,
                      "'demo' needs an 'audience': the audience its visitors are decided and audited as");
    if (v[DK_MODELS]) {
        yaml_node_t *mn = v[DK_MODELS];
        if (sg_yaml_string_list(y, mn, "demo.models", 0, &d->models, &d->n_models, NULL) &&
            mn->type == YAML_SEQUENCE_NODE)
            for (int i = 0; i < d->n_models; i++)
                if (!sg_policy_find_model(p, d->models[i])) {
                    char msg[200];
                    snprintf(msg, sizeof msg, "demo.models: '%s' is not a model of this policy",
                             d->models[i]);
                    const yaml_node_t *at = sg_yaml_item(y, mn, i);
                    sg_yaml_error(y, at ? at : mn, "%s", msg);
                }
        if (!d->n_models) sg_yaml_error(y, mn, "'demo.models' must name at least one model");
    } else {
        sg_yaml_error(y, n, "'demo' needs 'models': the models the page offers");
    }
    if (v[DK_MAX_TOKENS]) parse_bound(y, v[DK_MAX_TOKENS], "max_tokens", 1, 4096, 1, &d->max_tokens);
    if (v[DK_TEMPERATURE]) parse_bound(y, v[DK_TEMPERATURE], "temperature", 0, 2, 0, &d->temperature);
    if (v[DK_TOP_P]) parse_bound(y, v[DK_TOP_P], "top_p", 0.01, 1, 0, &d->top_p);
    long x;
    if (v[DK_FORM_MAX_TOKENS] && sg_yaml_long(y, v[DK_FORM_MAX_TOKENS], "demo.form_max_tokens", 1, 4096, &x))
        d->form_max_tokens = (int)x;
    if ((double)d->form_max_tokens > d->max_tokens.max) d->form_max_tokens = (int)d->max_tokens.max;
    if (v[DK_BUDGETS]) {
        static const char *const keys[] = {"session_tpm", "network_tpm", "global_tpm"};
        yaml_node_t *bv[3], *bk[3];
        long *dst[3] = {&d->session_tpm, &d->network_tpm, &d->global_tpm};
        if (sg_yaml_keys(y, v[DK_BUDGETS], "'demo.budgets'", keys, 3, bv, bk))
            for (int i = 0; i < 3; i++) {
                char name[48];
                snprintf(name, sizeof name, "demo.budgets.%s", keys[i]);
                if (bv[i]) sg_yaml_long(y, bv[i], name, 1, 1000000000L, dst[i]);
            }
        if (d->session_tpm > d->network_tpm || d->network_tpm > d->global_tpm)
            sg_yaml_error(y, v[DK_BUDGETS],
                          "'demo.budgets' must satisfy session_tpm <= network_tpm <= global_tpm");
        if ((double)d->session_tpm < d->max_tokens.max)
            fail(y, v[DK_BUDGETS],
                 "'demo.budgets.%s' (%g) is below demo.max_tokens.max (%g): no request could run",
                 "session_tpm", (double)d->session_tpm, d->max_tokens.max);
    }
    if (v[DK_MAX_SESSIONS] && sg_yaml_long(y, v[DK_MAX_SESSIONS], "demo.max_sessions", 16, 10000000L, &x))
        d->max_sessions = (int)x;
    if (v[DK_FLAG_REASONS])
        sg_yaml_string_list(y, v[DK_FLAG_REASONS], "demo.flag_reasons", 0, &d->flag_reasons,
                            &d->n_flag_reasons, NULL);
    if (!d->n_flag_reasons) {
        free(d->flag_reasons); /* an empty (or failed) list */
        static const char *const defaults[] = {"harmful or offensive", "false or misleading", "other"};
        d->flag_reasons = calloc(4, sizeof *d->flag_reasons);
        for (int i = 0; d->flag_reasons && i < 3; i++)
            d->flag_reasons[d->n_flag_reasons++] = strdup(defaults[i]);
    }
    for (int i = 0; i < d->n_flag_reasons; i++)
        if (!d->flag_reasons[i] || !d->flag_reasons[i][0] || strlen(d->flag_reasons[i]) >= 64)
            sg_yaml_error(y, v[DK_FLAG_REASONS] ? v[DK_FLAG_REASONS] : n,
                          "each of 'demo.flag_reasons' must be a non-empty string of under 64 bytes");
    if (v[DK_DISCLAIMER]) sg_yaml_string(y, v[DK_DISCLAIMER], "demo.disclaimer", &d->disclaimer);
    if (v[DK_INTENDED_USE]) sg_yaml_string(y, v[DK_INTENDED_USE], "demo.intended_use", &d->intended_use);
    if (v[DK_NOT_FOR]) sg_yaml_string(y, v[DK_NOT_FOR], "demo.not_for", &d->not_for);
    if (v[DK_PAUSED_NOTICE]) sg_yaml_string(y, v[DK_PAUSED_NOTICE], "demo.paused_notice", &d->paused_notice);
    if (v[DK_PAUSED]) sg_yaml_bool(y, v[DK_PAUSED], "demo.paused", &d->paused);

    /* The demo exists only where model access is hosted or above, for its audience. */
    if (d->audience) {
        int served = 0;
        for (int s = 0; s < p->n_stages && !served; s++)
            if (p->stages[s].components[SG_COMPONENT_MODEL] >= SG_ACCESS_HOSTED &&
                sg_policy_audience_at(p, s, d->audience))
                served = 1;
        if (!served) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "demo.audience '%s' is not served at any stage whose model access is 'hosted' or above: "
                     "the demo would never open",
                     d->audience);
            sg_yaml_error(y, v[DK_AUDIENCE], "%s", msg);
        }
    }
}

void sg_policy_demo_free(sg_policy_demo *d) {
    if (!d) return;
    free(d->audience);
    for (int i = 0; i < d->n_models; i++) free(d->models[i]);
    free(d->models);
    for (int i = 0; i < d->n_flag_reasons; i++) free(d->flag_reasons[i]);
    free(d->flag_reasons);
    free(d->disclaimer);
    free(d->intended_use);
    free(d->not_for);
    free(d->paused_notice);
    free(d);
}
