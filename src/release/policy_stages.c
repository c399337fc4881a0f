/* policy_stages.c — the `release_stages` section of a policy: each stage's
 * audiences and models (and what is effective at it: earlier stages'
 * audiences and models carry over unless replaced), the gradient level of
 * each component group, per-audience models and rate limits, and the gates
 * that must be met to enter it (days, risk assessment, evaluations,
 * sign-offs, safety protocols). Models are parsed before stages, so that a
 * stage naming an undefined model is reported at its line and column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "release/policy_int.h"

/* ---------------------------------------------------------- protocol lists */

static void check_protocols(sg_policy_ctx *c, char **names, int n, yaml_node_t **nodes) {
    for (int i = 0; i < n; i++) {
        if (!sg_policy_known_protocol(names[i])) {
            int best = sg_yaml_closest(names[i], sg_policy_protocols, SG_COUNT(sg_policy_protocols));
            if (best >= 0)
                sg_yaml_warn(c->y, nodes[i], "unknown safety protocol '%s' (did you mean '%s'?)", names[i],
                             sg_policy_protocols[best]);
            else
                sg_yaml_warn(c->y, nodes[i], "unknown safety protocol '%s' (stagegate does not enforce it)",
                             names[i]);
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                sg_yaml_warn(c->y, nodes[i], "safety protocol '%s' is listed twice", names[i]);
    }
}

/* ------------------------------------------------------------------ gates */

static void parse_eval_gate(sg_policy_ctx *c, const yaml_node_t *n, sg_policy_eval_gate *g) {
    static const char *const keys[] = {"suite", "model", "metric", "min", "max"};
    yaml_node_t *v[5], *k[5];
    if (!sg_yaml_keys(c->y, n, "an evaluation gate", keys, 5, v, k)) return;
    if (v[0])
        sg_policy_get_name(c, v[0], "suite", &g->suite);
    else
        sg_yaml_error(c->y, n, "evaluation gate is missing 'suite'");
    if (v[1]) {
        if (sg_policy_get_name(c, v[1], "model", &g->model) && !sg_policy_find_model(c->p, g->model))
            sg_yaml_error(c->y, v[1], "evaluation gate names undefined model '%s'", g->model);
    } else {
        sg_yaml_error(c->y, n, "evaluation gate is missing 'model'");
    }
    if (v[2])
        sg_policy_get_name(c, v[2], "metric", &g->metric);
    else
        sg_yaml_error(c->y, n, "evaluation gate is missing 'metric'");
    if (v[3]) g->has_min = sg_yaml_double(c->y, v[3], "min", &g->min);
    if (v[4]) g->has_max = sg_yaml_double(c->y, v[4], "max", &g->max);
    if (!v[3] && !v[4]) sg_yaml_error(c->y, n, "evaluation gate needs 'min' or 'max'");
    if (g->has_min && g->has_max && g->min > g->max)
        sg_yaml_error(c->y, v[3], "evaluation gate has min %g above max %g", g->min, g->max);
}

static void parse_gates(sg_policy_ctx *c, const yaml_node_t *n, sg_policy_gates *g) {
    static const char *const keys[] = {"min_days", "risk_assessment", "evaluations", "signoffs",
                                       "safety_protocols"};
    yaml_node_t *v[5], *k[5];
    if (!sg_yaml_keys(c->y, n, "'gates'", keys, 5, v, k)) return;
    if (v[0]) sg_yaml_int(c->y, v[0], "min_days", 0, 36500, &g->min_days);
    if (v[1]) {
        int s;
        if (sg_yaml_enum(c->y, v[1], "risk_assessment", sg_policy_risk_names, SG_COUNT(sg_policy_risk_names),
                         &s))
            g->risk_assessment = s;
    }
    if (v[2]) {
        int total;
        g->evaluations = sg_yaml_alloc_entries(c->y, v[2], YAML_SEQUENCE_NODE, "'evaluations' must be a list",
                                               sizeof *g->evaluations, &total);
        for (int i = 0; i < total && sg_yaml_budget_left(c->y); i++) {
            yaml_node_t *item = sg_yaml_item(c->y, v[2], i);
            if (item) parse_eval_gate(c, item, &g->evaluations[g->n_evaluations++]);
        }
    }
    if (v[3]) {
        if (v[3]->type == YAML_SCALAR_NODE) {
            sg_yaml_int(c->y, v[3], "signoffs", 0, 1000, &g->signoffs);
        } else {
            static const char *const skeys[] = {"count", "reviewers"};
            yaml_node_t *sv[2], *sk[2];
            if (sg_yaml_keys(c->y, v[3], "'signoffs'", skeys, 2, sv, sk)) {
                yaml_node_t **rn = NULL;
                if (sv[1] &&
                    sg_yaml_string_list(c->y, sv[1], "reviewers", 0, &g->reviewers, &g->n_reviewers, &rn)) {
                    for (int i = 0; i < g->n_reviewers; i++)
                        for (int j = 0; j < i; j++)
                            if (!strcmp(g->reviewers[i], g->reviewers[j]))
                                sg_yaml_error(c->y, rn[i], "reviewer '%s' is listed twice", g->reviewers[i]);
                }
                free(rn);
                if (sv[0]) {
                    if (sg_yaml_int(c->y, sv[0], "count", 0, 1000, &g->signoffs) && g->n_reviewers &&
                        g->signoffs > g->n_reviewers)
                        sg_yaml_error(c->y, sv[0], "%d sign-offs required but only %d reviewers named",
                                      g->signoffs, g->n_reviewers);
                } else {
                    g->signoffs = g->n_reviewers;
                }
            }
        }
    }
    if (v[4]) {
        yaml_node_t **pn = NULL;
        if (sg_yaml_string_list(c->y, v[4], "safety_protocols", 0, &g->safety_protocols,
                                &g->n_safety_protocols, &pn))
            check_protocols(c, g->safety_protocols, g->n_safety_protocols, pn);
        free(pn);
    }
}

/* ----------------------------------------------------------------- stages */

enum {
    SK_NAME,
    SK_AUDIENCE,
    SK_DURATION,
    SK_RISK,
    SK_PROTOCOLS,
    SK_MODELS,
    SK_REPLACE_AUD,
    SK_REPLACE_MODELS,
    SK_AUDIENCE_MODELS,
    SK_ACCESS,
    SK_COMPONENTS,
    SK_RATE_LIMITS,
    SK_GATES,
    SK_COUNT
};
static const char *const stage_keys[SK_COUNT] = {
    "name",       "audience",          "duration_days",  "risk_assessment_status", "safety_protocols_enabled",
    "models",     "replace_audiences", "replace_models", "audience_models",        "access",
    "components", "rate_limits",       "gates"};

/* Appends the strings of `b` missing from a[0..*na) (a has room for them). */
static void union_into(sg_policy_ctx *c, char **a, int *na, char *const *b, int nb) {
    for (int i = 0; i < nb; i++)
        if (!sg_policy_has_string(a, *na, b[i])) {
            char *s = sg_yaml_strdup(c->y, b[i]);
            if (s) a[(*na)++] = s;
        }
}

static void compute_effective(sg_policy_ctx *c, int idx, const yaml_node_t *audience_node) {
    sg_policy *p = c->p;
    sg_policy_stage *s = &p->stages[idx], *prev = idx ? &p->stages[idx - 1] : NULL;
    int keep_aud = prev && !s->replace_audiences;
    int internal = p->deployment_strategy == SG_DEPLOY_INTERNAL_ONLY && idx > 0;
    int cap = (internal ? p->stages[0].n_effective_audiences
                        : (keep_aud ? prev->n_effective_audiences : 0) + s->n_audiences);
    s->effective_audiences = calloc((size_t)cap + 1, sizeof(char *));
    if (!s->effective_audiences) {
        sg_yaml_oom(c->y);
        return;
    }
    if (internal) {
        union_into(c, s->effective_audiences, &s->n_effective_audiences, p->stages[0].effective_audiences,
                   p->stages[0].n_effective_audiences);
        for (int i = 0; i < s->n_audiences; i++)
            if (!sg_policy_has_string(s->effective_audiences, s->n_effective_audiences, s->audiences[i])) {
                sg_yaml_warn(
                    c->y, audience_node,
                    "deployment_strategy is internal_only: audience '%s' of stage '%s' is never served",
                    s->audiences[i], s->name);
                break;
            }
    } else {
        if (keep_aud)
            union_into(c, s->effective_audiences, &s->n_effective_audiences, prev->effective_audiences,
                       prev->n_effective_audiences);
        union_into(c, s->effective_audiences, &s->n_effective_audiences, s->audiences, s->n_audiences);
    }
    int keep_models = prev && !s->replace_models;
    cap = (keep_models ? prev->n_effective_models : 0) + s->n_models;
    s->effective_models = calloc((size_t)cap + 1, sizeof(char *));
    if (!s->effective_models) {
        sg_yaml_oom(c->y);
        return;
    }
    if (keep_models)
        union_into(c, s->effective_models, &s->n_effective_models, prev->effective_models,
                   prev->n_effective_models);
    union_into(c, s->effective_models, &s->n_effective_models, s->models, s->n_models);
}

static void parse_components(sg_policy_ctx *c, const yaml_node_t *n, sg_access_level *levels, int *given) {
    yaml_node_t *v[SG_COMPONENT_COUNT], *k[SG_COMPONENT_COUNT];
    if (!sg_yaml_keys(c->y, n, "'components'", sg_policy_component_names, SG_COMPONENT_COUNT, v, k)) return;
    for (int i = 0; i < SG_COMPONENT_COUNT; i++) {
        int l;
        if (v[i] && sg_yaml_enum(c->y, v[i], "access level", sg_policy_access_names, SG_ACCESS_COUNT, &l)) {
            levels[i] = (sg_access_level)l;
            given[i] = 1;
        }
    }
}

static void parse_rate_limits(sg_policy_ctx *c, const yaml_node_t *n, sg_policy_stage *s) {
    int total;
    s->rate_limits = sg_yaml_alloc_entries(c->y, n, YAML_MAPPING_NODE,
                                           "'rate_limits' must be a mapping of audience to {rpm, tpm}",
                                           sizeof *s->rate_limits, &total);
    for (int i = 0; i < total && sg_yaml_budget_left(c->y); i++) {
        yaml_node_t *k, *v;
        char *aud;
        if (!sg_yaml_pair(c->y, n, i, &k, &v) ||
            !sg_policy_entry_name(c, k, "audience", s->rate_limits, s->n_rate_limits, sizeof *s->rate_limits,
                                  "rate limit for audience '%s' is given twice", &aud))
            continue;
        if (strcmp(aud, "default") &&
            !sg_policy_has_string(s->effective_audiences, s->n_effective_audiences, aud))
            sg_yaml_warn(c->y, k, "rate limit for audience '%s', which is not served at stage '%s'", aud,
                         s->name);
        static const char *const keys[] = {"rpm", "tpm"};
        yaml_node_t *rv[2], *rk[2];
        sg_policy_audience_limit *rl = &s->rate_limits[s->n_rate_limits++];
        rl->audience = aud;
        if (!sg_yaml_keys(c->y, v, "a rate limit", keys, 2, rv, rk)) continue;
        if (rv[0]) sg_yaml_long(c->y, rv[0], "rpm", 0, 1000000000L, &rl->rpm);
        if (rv[1]) sg_yaml_long(c->y, rv[1], "tpm", 0, 1000000000000L, &rl->tpm);
        if (!rv[0] && !rv[1])
            sg_yaml_error(c->y, v, "rate limit for audience '%s' needs 'rpm' or 'tpm'", aud);
    }
}

static void parse_audience_models(sg_policy_ctx *c, const yaml_node_t *n, sg_policy_stage *s) {
    int total;
    s->audience_models = sg_yaml_alloc_entries(
        c->y, n, YAML_MAPPING_NODE, "'audience_models' must be a mapping of audience to a list of models",
        sizeof *s->audience_models, &total);
    for (int i = 0; i < total && sg_yaml_budget_left(c->y); i++) {
        yaml_node_t *k, *v;
        char *aud;
        if (!sg_yaml_pair(c->y, n, i, &k, &v) ||
            !sg_policy_entry_name(c, k, "audience", s->audience_models, s->n_audience_models,
                                  sizeof *s->audience_models,
                                  "audience_models for audience '%s' is given twice", &aud))
            continue;
        if (!sg_policy_has_string(s->effective_audiences, s->n_effective_audiences, aud))
            sg_yaml_error(c->y, k, "audience_models names audience '%s', which is not served at stage '%s'",
                          aud, s->name);
        sg_policy_audience_models *am = &s->audience_models[s->n_audience_models++];
        am->audience = aud;
        yaml_node_t **mn = NULL;
        if (sg_yaml_string_list(c->y, v, "audience_models", 1, &am->models, &am->n_models, &mn))
            for (int j = 0; j < am->n_models; j++)
                if (!sg_policy_has_string(s->effective_models, s->n_effective_models, am->models[j]))
                    sg_yaml_error(c->y, mn[j], "model '%s' is not released at stage '%s'", am->models[j],
                                  s->name);
        free(mn);
    }
}

/* "#N" for a stage without a (valid) name, so messages can still name it. */
static void set_placeholder_name(sg_policy_ctx *c, sg_policy_stage *s, int idx) {
    char name[16];
    snprintf(name, sizeof name, "#%d", idx + 1);
    s->name = sg_yaml_strdup(c->y, name);
}

static void parse_stage(sg_policy_ctx *c, const yaml_node_t *n, int idx) {
    sg_policy *p = c->p;
    sg_policy_stage *s = &p->stages[idx];
    s->line = sg_yaml_line(n);
    s->column = sg_yaml_column(n);
    yaml_node_t *v[SK_COUNT], *k[SK_COUNT];
    int ok = sg_yaml_keys(c->y, n, "a release stage", stage_keys, SK_COUNT, v, k);
    sg_policy_stage *prev = idx ? &p->stages[idx - 1] : NULL;
    /* Defaults (inherited from the previous stage where the gradient is concerned). */
    s->components[SG_COMPONENT_MODEL] = prev ? prev->components[SG_COMPONENT_MODEL] : SG_ACCESS_GRADUAL;
    s->components[SG_COMPONENT_RISK_ANALYSIS] =
        prev ? prev->components[SG_COMPONENT_RISK_ANALYSIS] : SG_ACCESS_FULLY_CLOSED;
    s->components[SG_COMPONENT_REPLICATION] =
        prev ? prev->components[SG_COMPONENT_REPLICATION] : SG_ACCESS_FULLY_CLOSED;
    s->gates.min_days = prev ? prev->duration_days : 0;
    if (!ok) {
        set_placeholder_name(c, s, idx);
        compute_effective(c, idx, n);
        return;
    }

    if (v[SK_NAME]) {
        if (sg_yaml_string(c->y, v[SK_NAME], "name", &s->name)) {
            if (!*s->name) sg_yaml_error(c->y, v[SK_NAME], "stage name is empty");
            for (int j = 0; j < idx; j++)
                if (p->stages[j].name && !strcmp(p->stages[j].name, s->name))
                    sg_yaml_error(c->y, v[SK_NAME], "duplicate stage name '%s' (first at %d:%d)", s->name,
                                  p->stages[j].line, p->stages[j].column);
        }
    } else {
        sg_yaml_error(c->y, n, "release stage %d is missing 'name'", idx + 1);
    }
    if (!s->name) {
        set_placeholder_name(c, s, idx);
    }
    if (v[SK_AUDIENCE]) {
        yaml_node_t **an = NULL;
        if (sg_yaml_string_list(c->y, v[SK_AUDIENCE], "audience", 1, &s->audiences, &s->n_audiences, &an))
            for (int i = 0; i < s->n_audiences; i++) {
                if (!sg_policy_valid_name(s->audiences[i], 0))
                    sg_yaml_error(
                        c->y, an[i],
                        "audience must be 1-64 characters of letters, digits, '_', '-' or '.', got '%s'",
                        s->audiences[i]);
                else if (!strcmp(s->audiences[i], "default"))
                    sg_yaml_error(
                        c->y, an[i],
                        "'default' is reserved (the rate limit of unlisted audiences): pick another "
                        "audience name");
            }
        free(an);
    } else if (idx == 0) {
        sg_yaml_error(c->y, n, "the first release stage ('%s') is missing 'audience'", s->name);
    }
    if (v[SK_AUDIENCE] && idx == 0 && s->n_audiences == 0 && sg_yaml_is_null(v[SK_AUDIENCE]))
        sg_yaml_error(c->y, v[SK_AUDIENCE], "the first release stage ('%s') has no audience", s->name);
    if (v[SK_REPLACE_AUD]) sg_yaml_bool(c->y, v[SK_REPLACE_AUD], "replace_audiences", &s->replace_audiences);
    if (v[SK_REPLACE_MODELS]) sg_yaml_bool(c->y, v[SK_REPLACE_MODELS], "replace_models", &s->replace_models);
    if (v[SK_DURATION]) sg_yaml_int(c->y, v[SK_DURATION], "duration_days", 0, 36500, &s->duration_days);
    if (v[SK_RISK]) {
        int r;
        if (sg_yaml_enum(c->y, v[SK_RISK], "risk_assessment_status", sg_policy_risk_names,
                         SG_COUNT(sg_policy_risk_names), &r)) {
            s->risk_assessment_status = r;
            s->gates.risk_assessment = r;
        }
    }
    if (v[SK_PROTOCOLS]) {
        yaml_node_t **pn = NULL;
        if (sg_yaml_string_list(c->y, v[SK_PROTOCOLS], "safety_protocols_enabled", 0, &s->protocols,
                                &s->n_protocols, &pn)) {
            check_protocols(c, s->protocols, s->n_protocols, pn);
            s->gates.safety_protocols = calloc((size_t)s->n_protocols + 1, sizeof(char *));
            if (!s->gates.safety_protocols)
                sg_yaml_oom(c->y);
            else
                union_into(c, s->gates.safety_protocols, &s->gates.n_safety_protocols, s->protocols,
                           s->n_protocols);
        }
        free(pn);
    }
    if (v[SK_MODELS]) {
        yaml_node_t **mn = NULL;
        if (sg_yaml_string_list(c->y, v[SK_MODELS], "models", 1, &s->models, &s->n_models, &mn))
            for (int i = 0; i < s->n_models; i++)
                if (!sg_policy_find_model(p, s->models[i]))
                    sg_yaml_error(c->y, mn[i], "stage '%s' releases undefined model '%s'", s->name,
                                  s->models[i]);
        free(mn);
    }
    int given[SG_COMPONENT_COUNT] = {0};
    if (v[SK_COMPONENTS]) parse_components(c, v[SK_COMPONENTS], s->components, given);
    if (v[SK_ACCESS]) {
        int l;
        if (sg_yaml_enum(c->y, v[SK_ACCESS], "access level", sg_policy_access_names, SG_ACCESS_COUNT, &l)) {
            if (given[SG_COMPONENT_MODEL] && s->components[SG_COMPONENT_MODEL] != (sg_access_level)l)
                sg_yaml_error(c->y, v[SK_ACCESS], "'access' (%s) contradicts components.model (%s)",
                              sg_policy_access_names[l],
                              sg_policy_access_names[s->components[SG_COMPONENT_MODEL]]);
            s->components[SG_COMPONENT_MODEL] = (sg_access_level)l;
        }
    }
    compute_effective(c, idx, v[SK_AUDIENCE] ? v[SK_AUDIENCE] : n);
    if (v[SK_AUDIENCE_MODELS]) parse_audience_models(c, v[SK_AUDIENCE_MODELS], s);
    if (v[SK_RATE_LIMITS]) parse_rate_limits(c, v[SK_RATE_LIMITS], s);
    if (v[SK_GATES]) {
        if (p->deployment_strategy == SG_DEPLOY_FULL_RELEASE)
            sg_yaml_warn(c->y, k[SK_GATES],
                         "deployment_strategy is full_release: the gates of stage '%s' are not applied",
                         s->name);
        else if (idx == 0)
            sg_yaml_warn(c->y, k[SK_GATES],
                         "the first stage is where the release starts: its gates are never checked");
        /* Explicit gate keys replace the defaults taken from the stage. */
        if (v[SK_GATES]->type == YAML_MAPPING_NODE) {
            for (int i = 0; i < sg_yaml_length(v[SK_GATES]); i++) {
                yaml_node_t *gk, *gv;
                if (sg_yaml_pair(c->y, v[SK_GATES], i, &gk, &gv) && gk->type == YAML_SCALAR_NODE &&
                    !strcmp(sg_yaml_scalar(gk), "safety_protocols")) {
                    sg_policy_free_strings(s->gates.safety_protocols, s->gates.n_safety_protocols);
                    s->gates.safety_protocols = NULL;
                    s->gates.n_safety_protocols = 0;
                }
            }
        }
        parse_gates(c, v[SK_GATES], &s->gates);
    }
    if (p->deployment_strategy == SG_DEPLOY_FULL_RELEASE) {
        sg_policy_gates *g = &s->gates;
        g->min_days = 0;
        g->risk_assessment = SG_RISK_NONE;
        g->signoffs = 0;
        for (int i = 0; i < g->n_evaluations; i++) {
            free(g->evaluations[i].suite);
            free(g->evaluations[i].model);
            free(g->evaluations[i].metric);
        }
        g->n_evaluations = 0;
        sg_policy_free_strings(g->safety_protocols, g->n_safety_protocols);
        g->safety_protocols = NULL;
        g->n_safety_protocols = 0;
    }
}

void sg_policy_parse_stages(sg_policy_ctx *c, const yaml_node_t *n) {
    sg_policy *p = c->p;
    if (n->type != YAML_SEQUENCE_NODE) {
        sg_yaml_error(c->y, n, "'release_stages' must be a list, not %s", sg_yaml_kind(n));
        return;
    }
    int total = sg_yaml_length(n);
    if (total == 0) {
        sg_yaml_error(c->y, n, "'release_stages' is empty: a release needs at least one stage");
        return;
    }
    p->stages = calloc((size_t)total, sizeof *p->stages);
    if (!p->stages) {
        sg_yaml_oom(c->y);
        return;
    }
    for (int i = 0; i < total && sg_yaml_budget_left(c->y) && !sg_yaml_failed(c->y); i++) {
        yaml_node_t *item = sg_yaml_item(c->y, n, i);
        if (!item) continue;
        p->n_stages++;
        parse_stage(c, item, p->n_stages - 1);
    }
}

/* ---------------------------------------------------------------- freeing */

static void free_gates(sg_policy_gates *g) {
    for (int i = 0; i < g->n_evaluations; i++) {
        free(g->evaluations[i].suite);
        free(g->evaluations[i].model);
        free(g->evaluations[i].metric);
    }
    free(g->evaluations);
    sg_policy_free_strings(g->reviewers, g->n_reviewers);
    sg_policy_free_strings(g->safety_protocols, g->n_safety_protocols);
}

void sg_policy_free_stage(sg_policy_stage *s) {
    free(s->name);
    sg_policy_free_strings(s->audiences, s->n_audiences);
    sg_policy_free_strings(s->effective_audiences, s->n_effective_audiences);
    sg_policy_free_strings(s->models, s->n_models);
    sg_policy_free_strings(s->effective_models, s->n_effective_models);
    for (int j = 0; j < s->n_audience_models; j++) {
        free(s->audience_models[j].audience);
        sg_policy_free_strings(s->audience_models[j].models, s->audience_models[j].n_models);
    }
    free(s->audience_models);
    sg_policy_free_strings(s->protocols, s->n_protocols);
    for (int j = 0; j < s->n_rate_limits; j++) free(s->rate_limits[j].audience);
    free(s->rate_limits);
    free_gates(&s->gates);
}
