/* policy.c — the release policy's names (the YAML spellings of its enums) and
 * the questions the rest of stagegate asks of a loaded policy: may this
 * audience use this model at this stage, which rate limit applies, is a
 * safety protocol on, what is released of each component group. Loading is
 * in policy_load.c (the module's files are listed in policy_int.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/check.h"
#include "release/policy_int.h"

/* ---------------------------------------------------------------- names */

const char *const sg_policy_access_names[SG_ACCESS_COUNT] = {"fully_closed", "gradual",      "hosted",
                                                             "api",          "downloadable", "fully_open"};
const char *const sg_policy_component_names[SG_COMPONENT_COUNT] = {"model", "risk_analysis", "replication"};
const char *const sg_policy_strategy_names[3] = {"full_release", "staged_release", "internal_only"};
const char *const sg_policy_risk_names[5] = {"none", "not_started", "pending", "in_progress", "completed"};
const char *const sg_policy_monitor_names[4] = {"hourly", "daily", "weekly", "monthly"};
const char *const sg_policy_audit_names[3] = {"none", "hashed", "full"};
const char *const sg_policy_action_names[4] = {"block", "redact", "hardcoded", "flag"};
const char *const sg_policy_protocols[7] = {"content_filter",     "rate_limit", "moderation_api",
                                            "user_feedback_loop", "watermark",  "detection",
                                            "hardcoded_responses"};

/* Each list is spelled in its enum's order, one name per value. */
_Static_assert(SG_COUNT(sg_policy_strategy_names) == SG_DEPLOY_INTERNAL_ONLY + 1, "strategy names");
_Static_assert(SG_COUNT(sg_policy_risk_names) == SG_RISK_COMPLETED + 1, "risk names");
_Static_assert(SG_COUNT(sg_policy_monitor_names) == SG_MONITOR_MONTHLY + 1, "monitoring names");
_Static_assert(SG_COUNT(sg_policy_audit_names) == SG_AUDIT_TEXT_FULL + 1, "audit text names");
_Static_assert(SG_COUNT(sg_policy_action_names) == SG_FILTER_FLAG + 1, "filter action names");

const char *sg_access_level_name(sg_access_level l) {
    return (unsigned)l < SG_ACCESS_COUNT ? sg_policy_access_names[l] : "?";
}
const char *sg_component_name(sg_component c) {
    return (unsigned)c < SG_COMPONENT_COUNT ? sg_policy_component_names[c] : "?";
}
const char *sg_risk_status_name(sg_risk_status s) {
    return (unsigned)s < (unsigned)SG_COUNT(sg_policy_risk_names) ? sg_policy_risk_names[s] : "?";
}
const char *sg_deployment_strategy_name(sg_deployment_strategy s) {
    return (unsigned)s < (unsigned)SG_COUNT(sg_policy_strategy_names) ? sg_policy_strategy_names[s] : "?";
}
const char *sg_monitoring_frequency_name(sg_monitoring_frequency f) {
    return (unsigned)f < (unsigned)SG_COUNT(sg_policy_monitor_names) ? sg_policy_monitor_names[f] : "?";
}

int sg_policy_known_protocol(const char *name) {
    for (int i = 0; i < SG_COUNT(sg_policy_protocols); i++)
        if (!strcmp(name, sg_policy_protocols[i])) return 1;
    return 0;
}

int sg_policy_has_string(char *const *a, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(a[i], s)) return 1;
    return 0;
}

/* -------------------------------------------------------------- questions */

int sg_policy_stage_index(const sg_policy *p, const char *stage_name) {
    SG_ASSERT(p && stage_name, "a policy and a stage name");
    for (int i = 0; i < p->n_stages; i++)
        if (p->stages[i].name && !strcmp(p->stages[i].name, stage_name)) return i;
    return -1;
}

const sg_policy_model *sg_policy_find_model(const sg_policy *p, const char *model_name) {
    SG_ASSERT(p && model_name, "a policy and a model name");
    for (int i = 0; i < p->n_models; i++)
        if (!strcmp(p->models[i].name, model_name)) return &p->models[i];
    return NULL;
}

int sg_policy_audience_at(const sg_policy *p, int stage, const char *audience) {
    SG_ASSERT(p, "a loaded policy");
    if (stage < 0 || stage >= p->n_stages || !audience) return 0;
    const sg_policy_stage *s = &p->stages[stage];
    return sg_policy_has_string(s->effective_audiences, s->n_effective_audiences, audience);
}

static void say(char *why, size_t size, const char *f, ...) SG_PRINTF(3, 4);
static void say(char *why, size_t size, const char *f, ...) {
    if (!why || !size) return;
    va_list ap;
    va_start(ap, f);
    vsnprintf(why, size, f, ap);
    va_end(ap);
}

sg_policy_verdict sg_policy_decide(const sg_policy *p, int stage, const char *audience, const char *model,
                                   char *why, size_t why_size) {
    SG_ASSERT(p, "a loaded policy");
    say(why, why_size, "%s", "");
    if (!model || !sg_policy_find_model(p, model)) {
        say(why, why_size, "model '%s' does not exist", model ? model : "");
        return SG_POLICY_DENY_UNKNOWN_MODEL;
    }
    if (stage < 0 || stage >= p->n_stages) {
        say(why, why_size, "model '%s' is not released: no release stage %d", model, stage);
        return SG_POLICY_DENY_NOT_RELEASED;
    }
    const sg_policy_stage *s = &p->stages[stage];
    if (s->components[SG_COMPONENT_MODEL] == SG_ACCESS_FULLY_CLOSED) {
        say(why, why_size, "model access is fully closed at stage '%s': model '%s' is not served", s->name,
            model);
        return SG_POLICY_DENY_CLOSED;
    }
    if (!sg_policy_has_string(s->effective_models, s->n_effective_models, model)) {
        say(why, why_size, "model '%s' is not released at stage '%s'", model, s->name);
        return SG_POLICY_DENY_NOT_RELEASED;
    }
    if (!audience) audience = "";
    int ok = sg_policy_has_string(s->effective_audiences, s->n_effective_audiences, audience);
    for (int i = 0; ok && i < s->n_audience_models; i++)
        if (!strcmp(s->audience_models[i].audience, audience))
            ok = sg_policy_has_string(s->audience_models[i].models, s->audience_models[i].n_models, model);
    if (!ok) {
        say(why, why_size, "model '%s' is not released to audience '%s' at stage '%s'", model, audience,
            s->name);
        return SG_POLICY_DENY_AUDIENCE;
    }
    return SG_POLICY_ALLOW;
}

int sg_policy_protocol_enabled(const sg_policy *p, int stage, const char *name) {
    SG_ASSERT(p, "a loaded policy");
    if (stage < 0 || stage >= p->n_stages || !name) return 0;
    return sg_policy_has_string(p->stages[stage].protocols, p->stages[stage].n_protocols, name);
}

/* The newest entry for `audience` at stage <= `stage`, or NULL. */
static const sg_policy_audience_limit *find_limit(const sg_policy *p, int stage, const char *audience) {
    for (int i = stage; i >= 0; i--)
        for (int j = 0; j < p->stages[i].n_rate_limits; j++)
            if (!strcmp(p->stages[i].rate_limits[j].audience, audience)) return &p->stages[i].rate_limits[j];
    return NULL;
}

sg_policy_limits sg_policy_rate_limit(const sg_policy *p, int stage, const char *audience) {
    SG_ASSERT(p, "a loaded policy");
    sg_policy_limits l = {0, 0, 0};
    if (stage < 0 || stage >= p->n_stages) return l;
    l.enforced = sg_policy_protocol_enabled(p, stage, "rate_limit");
    const sg_policy_audience_limit *rl = audience ? find_limit(p, stage, audience) : NULL;
    if (!rl) rl = find_limit(p, stage, "default");
    if (rl) {
        l.rpm = rl->rpm;
        l.tpm = rl->tpm;
    }
    return l;
}

sg_access_level sg_policy_component_level(const sg_policy *p, int stage, sg_component c) {
    SG_ASSERT(p, "a loaded policy");
    if (stage < 0 || stage >= p->n_stages || (unsigned)c >= SG_COMPONENT_COUNT) return SG_ACCESS_FULLY_CLOSED;
    return p->stages[stage].components[c];
}
