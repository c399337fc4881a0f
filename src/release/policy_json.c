/* policy_json.c — a loaded policy as JSON (`policy check --json`, status pages,
 * system cards): every setting, plus the computed effective audiences and
 * models of each stage. Filter categories appear with their action and
 * sizes, not their terms. */
#include <jansson.h>

#include "base/check.h"
#include "release/policy_int.h"

static json_t *jstrings(char *const *a, int n) {
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++) json_array_append_new(arr, json_string(a[i]));
    return arr;
}

static json_t *jstr_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *stage_json(const sg_policy *p, int idx) {
    const sg_policy_stage *s = &p->stages[idx];
    json_t *access = json_object();
    for (int c = 0; c < SG_COMPONENT_COUNT; c++)
        json_object_set_new(access, sg_policy_component_names[c],
                            json_string(sg_policy_access_names[s->components[c]]));
    json_t *am = json_object();
    for (int i = 0; i < s->n_audience_models; i++)
        json_object_set_new(am, s->audience_models[i].audience,
                            jstrings(s->audience_models[i].models, s->audience_models[i].n_models));
    json_t *rl = json_object();
    for (int i = 0; i < s->n_rate_limits; i++)
        json_object_set_new(rl, s->rate_limits[i].audience,
                            json_pack("{s:I,s:I}", "rpm", (json_int_t)s->rate_limits[i].rpm, "tpm",
                                      (json_int_t)s->rate_limits[i].tpm));
    const sg_policy_gates *g = &s->gates;
    json_t *evals = json_array();
    for (int i = 0; i < g->n_evaluations; i++) {
        const sg_policy_eval_gate *e = &g->evaluations[i];
        json_t *o = json_pack("{s:s,s:s,s:s}", "suite", e->suite ? e->suite : "", "model",
                              e->model ? e->model : "", "metric", e->metric ? e->metric : "");
        if (o && e->has_min) json_object_set_new(o, "min", json_real(e->min));
        if (o && e->has_max) json_object_set_new(o, "max", json_real(e->max));
        json_array_append_new(evals, o);
    }
    json_t *gates = json_pack("{s:i,s:s,s:o,s:i,s:o,s:o}", "min_days", g->min_days, "risk_assessment",
                              sg_policy_risk_names[g->risk_assessment], "evaluations", evals, "signoffs",
                              g->signoffs, "reviewers", jstrings(g->reviewers, g->n_reviewers),
                              "safety_protocols", jstrings(g->safety_protocols, g->n_safety_protocols));
    return json_pack("{s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:i,s:s,s:o,s:o,s:o,s:o}", "name", s->name, "current",
                     idx == p->current_stage, "audiences", jstrings(s->audiences, s->n_audiences),
                     "effective_audiences", jstrings(s->effective_audiences, s->n_effective_audiences),
                     "models", jstrings(s->models, s->n_models), "effective_models",
                     jstrings(s->effective_models, s->n_effective_models), "audience_models", am,
                     "duration_days", s->duration_days, "risk_assessment_status",
                     sg_policy_risk_names[s->risk_assessment_status], "safety_protocols_enabled",
                     jstrings(s->protocols, s->n_protocols), "access", access, "rate_limits", rl, "gates",
                     gates);
}

sg_error *sg_policy_to_json(const sg_policy *p, json_t **out) {
    SG_ASSERT(p && out, "a loaded policy");
    *out = NULL;
    json_t *models = json_array(), *stages = json_array(), *plan = json_array(), *cats = json_array();
    for (int i = 0; models && i < p->n_models; i++)
        json_array_append_new(models,
                              json_pack("{s:s,s:s}", "name", p->models[i].name, "path", p->models[i].path));
    for (int i = 0; stages && i < p->n_stages; i++) json_array_append_new(stages, stage_json(p, i));
    for (int i = 0; plan && i < p->n_mitigations; i++)
        json_array_append_new(plan, json_pack("{s:s,s:s}", "risk", p->mitigations[i].risk, "mitigation",
                                              p->mitigations[i].mitigation));
    for (int i = 0; cats && i < p->filter.n_categories; i++) {
        const sg_filter_category *c = &p->filter.categories[i];
        json_t *on = json_array();
        if (c->on_input) json_array_append_new(on, json_string("input"));
        if (c->on_output) json_array_append_new(on, json_string("output"));
        json_array_append_new(cats, json_pack("{s:s,s:s,s:o,s:i,s:i,s:i,s:b}", "name", c->name ? c->name : "",
                                              "action", sg_policy_action_names[c->action], "on", on, "terms",
                                              c->n_terms, "patterns", c->n_patterns, "allow", c->n_allow,
                                              "response", c->response != NULL));
    }
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:{s:s,s:i},s:{s:I,s:i,s:i,s:i},s:{s:i},s:o,s:{s:o,s:i}"
        ",s:o}",
        "path", p->path, "digest", p->digest, "model_name", p->model_name ? p->model_name : "", "version",
        jstr_or_null(p->version), "deployment_strategy", sg_policy_strategy_names[p->deployment_strategy],
        "current_stage", p->n_stages ? p->stages[p->current_stage].name : "", "monitoring_frequency",
        sg_policy_monitor_names[p->monitoring_frequency], "incident_response_plan",
        jstr_or_null(p->incident_response_plan), "models", models, "stages", stages, "risk_mitigation_plan",
        plan, "audit", "text", sg_policy_audit_names[p->audit_text], "retention_days",
        p->audit_retention_days, "server", "max_body_bytes", (json_int_t)p->max_body_bytes, "queue_size",
        p->queue_size, "request_timeout_s", p->request_timeout_s, "max_batch", p->max_batch, "flags",
        "suspend_after", p->suspend_after_flags, "license", jstr_or_null(p->license), "content_filter",
        "categories", cats, "leetspeak", p->filter.n_leet, "warnings", jstrings(p->warnings, p->n_warnings));
    if (!o) return sg_error_new("out of memory building the policy's JSON");
    *out = o;
    return NULL;
}
