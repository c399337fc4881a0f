/* incidents.c — incidents: open (suspend, roll back), close (incidents.h). */
#include "release/incidents.h"

#include <stdio.h>
#include <string.h>

#include "access/audit.h"
#include "release/stages.h"

const char *const sg_incident_severities[] = {"low", "medium", "high", "critical", NULL};

int sg_incident_severity_valid(const char *s) {
    for (int i = 0; s && sg_incident_severities[i]; i++)
        if (!strcmp(s, sg_incident_severities[i])) return 1;
    return 0;
}

static int audience_known(const sg_policy *p, const char *a) {
    for (int s = 0; s < p->n_stages; s++)
        for (int i = 0; i < p->stages[s].n_effective_audiences; i++)
            if (!strcmp(p->stages[s].effective_audiences[i], a)) return 1;
    return 0;
}

sg_error *sg_incident_open(sg_store *store, const sg_policy *p, const sg_incident_record *in, int64_t now_ms,
                           int64_t *id) {
    if (!sg_incident_severity_valid(in->severity))
        return sg_error_new("unknown severity '%s' (low, medium, high, critical)", in->severity);
    if (!in->reason[0]) return sg_error_new("an incident needs a reason");
    if (in->suspend_audience[0] && !audience_known(p, in->suspend_audience))
        return sg_error_new("audience '%s' is not an audience of any stage of the policy",
                            in->suspend_audience);
    if (in->suspend_model[0] && !sg_policy_find_model(p, in->suspend_model))
        return sg_error_new("model '%s' is not a model of the policy", in->suspend_model);
    sg_error *err = sg_release_ensure_started(store, p, in->opened_by, now_ms);
    if (err) return err;
    sg_release_state st;
    if ((err = sg_release_state_load(store, p, &st))) return err;
    int stage = st.stage;
    sg_release_state_free(&st);
    if (in->rollback && stage == 0)
        return sg_error_new("cannot roll back: the release is at its first stage '%s'", p->stages[0].name);
    sg_incident_record rec = *in;
    rec.opened_ms = now_ms;
    rec.closed_ms = 0;
    if ((err = sg_store_incident_add(store, &rec, id))) return err;
    char text[SG_REL_TEXT_MAX + 512];
    snprintf(text, sizeof text, "incident #%lld (%s) opened by %s%s%s%s%s%s: %s", (long long)*id,
             rec.severity, rec.opened_by[0] ? rec.opened_by : "(unknown)",
             rec.suspend_audience[0] ? ", suspends audience " : "", rec.suspend_audience,
             rec.suspend_model[0] ? ", suspends model " : "", rec.suspend_model,
             rec.rollback ? ", rolls back one stage" : "", rec.reason);
    if ((err = sg_audit_note(store, 0, "incident-open", p->stages[stage].name,
                             rec.suspend_audience[0] ? rec.suspend_audience : NULL,
                             rec.suspend_model[0] ? rec.suspend_model : NULL, text)))
        return err;
    if (rec.rollback) {
        char why[64];
        snprintf(why, sizeof why, "incident #%lld", (long long)*id);
        if ((err = sg_release_rollback(store, p, -1, rec.opened_by, why, now_ms))) return err;
    }
    return NULL;
}

sg_error *sg_incident_close(sg_store *store, const sg_policy *p, int64_t id, const char *by, const char *note,
                            int64_t now_ms) {
    bool changed = false;
    sg_error *err = sg_store_incident_close(store, id, now_ms, by, note, &changed);
    if (err) return err;
    if (!changed) return sg_error_new("incident #%lld does not exist or is already closed", (long long)id);
    sg_release_state st;
    if ((err = sg_release_state_load(store, p, &st))) return err;
    const char *stage = p->stages[st.stage].name;
    char text[SG_REL_TEXT_MAX + 256];
    snprintf(text, sizeof text, "incident #%lld closed by %s%s%s", (long long)id,
             by && by[0] ? by : "(unknown)", note && note[0] ? ": " : "", note ? note : "");
    err = sg_audit_note(store, 0, "incident-close", stage, NULL, NULL, text);
    sg_release_state_free(&st);
    return err;
}
