/* stages.c — current stage, history, gates, advance and rollback (stages.h). */
#include "release/stages.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "release/journal.h"

#define DAY_MS (86400LL * 1000)

static int latest_move(sg_store *store, sg_stage_move *out, sg_error **err) {
    sg_stage_move *moves = NULL;
    size_t n = 0;
    if ((*err = sg_store_stage_moves(store, 0, &moves, &n))) return 0;
    if (n) *out = moves[n - 1];
    free(moves);
    return n > 0;
}

sg_error *sg_release_state_load(sg_store *store, const sg_policy *p, sg_release_state *out) {
    memset(out, 0, sizeof *out);
    sg_error *err = sg_store_release_version(store, &out->version);
    if (err) return err;
    sg_stage_move last;
    out->stage = p->current_stage;
    if (latest_move(store, &last, &err)) {
        int i = sg_policy_stage_index(p, last.to_stage);
        if (i < 0)
            return sg_error_new("the recorded current stage '%s' is not a stage of policy %s", last.to_stage,
                                p->path ? p->path : "(string)");
        out->stage = i;
        out->entered_ms = last.time_ms;
    }
    if (err) return err;
    sg_incident_record *inc = NULL;
    size_t n = 0;
    if ((err = sg_store_incidents(store, INT64_MAX, &inc, &n))) return err; /* open ones only */
    out->incidents = inc;
    out->n_incidents = n;
    return NULL;
}

void sg_release_state_free(sg_release_state *s) {
    if (!s) return;
    free(s->incidents);
    s->incidents = NULL;
    s->n_incidents = 0;
}

int64_t sg_release_suspended(const sg_release_state *s, const char *audience, const char *model) {
    for (size_t i = 0; i < s->n_incidents; i++) {
        const sg_incident_record *r = &s->incidents[i];
        if (r->closed_ms) continue;
        if (audience && r->suspend_audience[0] && !strcmp(r->suspend_audience, audience)) return r->id;
        if (model && r->suspend_model[0] && !strcmp(r->suspend_model, model)) return r->id;
    }
    return 0;
}

sg_error *sg_release_ensure_started(sg_store *store, const sg_policy *p, const char *actor, int64_t now_ms) {
    sg_stage_move last;
    sg_error *err = NULL;
    if (latest_move(store, &last, &err) || err) return err;
    sg_stage_move m = {.time_ms = now_ms, .override = 0};
    const char *name = p->stages[p->current_stage].name;
    snprintf(m.from_stage, sizeof m.from_stage, "%s", name);
    snprintf(m.to_stage, sizeof m.to_stage, "%s", name);
    snprintf(m.kind, sizeof m.kind, "start");
    snprintf(m.actor, sizeof m.actor, "%s", actor ? actor : "");
    snprintf(m.reason, sizeof m.reason, "release started at the policy's current_stage (policy %.64s)",
             p->digest);
    if ((err = sg_store_stage_move_add(store, &m, NULL))) return err;
    return sg_journal_event(store, "stage-start", name, NULL, NULL, m.reason);
}

static sg_gate_result *add_gate(sg_gate_report *r, const char *name, int met) {
    if (r->n >= SG_GATE_MAX) return NULL;
    sg_gate_result *g = &r->gates[r->n++];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    g->met = met;
    return g;
}

#define GATE_TEXT(field, ...) snprintf(field, sizeof field, __VA_ARGS__)

static sg_risk_status parse_risk(const char *s) {
    for (int i = SG_RISK_NONE; i <= SG_RISK_COMPLETED; i++)
        if (!strcmp(sg_risk_status_name((sg_risk_status)i), s)) return (sg_risk_status)i;
    return SG_RISK_NONE;
}

static void format_time(int64_t ms, char *buf, size_t size) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm);
}

static int in_list(char **list, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

sg_error *sg_release_gates(sg_store *store, const sg_policy *p, const sg_release_state *st, int64_t now_ms,
                           sg_gate_report *r) {
    memset(r, 0, sizeof *r);
    r->from = st->stage;
    r->to = st->stage + 1 < p->n_stages ? st->stage + 1 : -1;
    if (r->to < 0) {
        snprintf(r->blocked, sizeof r->blocked, "'%s' is the last stage of the policy",
                 p->stages[st->stage].name);
        return NULL;
    }
    if (p->deployment_strategy == SG_DEPLOY_INTERNAL_ONLY) {
        snprintf(r->blocked, sizeof r->blocked,
                 "deployment_strategy internal_only: the release never leaves '%s' and its audience",
                 p->stages[0].name);
        return NULL;
    }
    if (p->deployment_strategy == SG_DEPLOY_FULL_RELEASE) {
        r->all_met = 1;
        sg_gate_result *g = add_gate(r, "full_release", 1);
        GATE_TEXT(g->what, "deployment_strategy full_release");
        GATE_TEXT(g->evidence, "no gates apply");
        return NULL;
    }
    const sg_policy_stage *next = &p->stages[r->to];
    const sg_policy_gates *gates = &next->gates;
    sg_error *err = NULL;
    sg_gate_result *g;

    /* minimum time in the current stage */
    if (gates->min_days > 0 && (g = add_gate(r, "min_days", 0))) {
        GATE_TEXT(g->what, "at least %d days in '%s'", gates->min_days, p->stages[st->stage].name);
        if (!st->entered_ms) {
            GATE_TEXT(g->evidence, "no entry into '%s' recorded yet", p->stages[st->stage].name);
        } else {
            double days = (double)(now_ms - st->entered_ms) / (double)DAY_MS;
            char when[32];
            format_time(st->entered_ms, when, sizeof when);
            g->met = now_ms - st->entered_ms >= (int64_t)gates->min_days * DAY_MS;
            GATE_TEXT(g->evidence, "%.1f days since %s", days, when);
        }
    }

    /* risk assessment for the next stage */
    if (gates->risk_assessment != SG_RISK_NONE && (g = add_gate(r, "risk_assessment", 0))) {
        GATE_TEXT(g->what, "risk assessment for '%s' at least %s", next->name,
                  sg_risk_status_name(gates->risk_assessment));
        sg_risk_record *risks = NULL;
        size_t n = 0;
        if ((err = sg_store_risks(store, &risks, &n))) return err;
        const sg_risk_record *latest = NULL;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(risks[i].stage, next->name)) latest = &risks[i];
        if (!latest) {
            GATE_TEXT(g->evidence, "none recorded");
        } else {
            char when[32];
            format_time(latest->time_ms, when, sizeof when);
            g->met = parse_risk(latest->status) >= gates->risk_assessment;
            GATE_TEXT(g->evidence, "#%lld %.32s by %.64s on %s (%.160s, blake2b %.16s)",
                      (long long)latest->id, latest->status, latest->author, when, latest->file,
                      latest->digest);
        }
        free(risks);
    }

    /* evaluation thresholds over stored results */
    for (int i = 0; i < gates->n_evaluations; i++) {
        const sg_policy_eval_gate *e = &gates->evaluations[i];
        if (!(g = add_gate(r, "evaluation", 0))) break;
        char bound[96] = "";
        if (e->has_min && e->has_max)
            snprintf(bound, sizeof bound, "in [%g, %g]", e->min, e->max);
        else if (e->has_min)
            snprintf(bound, sizeof bound, ">= %g", e->min);
        else if (e->has_max)
            snprintf(bound, sizeof bound, "<= %g", e->max);
        GATE_TEXT(g->what, "%s/%s %s %s", e->suite, e->model, e->metric, bound);
        sg_eval_record rec;
        bool found = false;
        if ((err = sg_store_eval_latest(store, e->suite, e->model, e->metric, &rec, &found))) return err;
        if (!found) {
            GATE_TEXT(g->evidence, "no stored result (run: stagegate eval run %s -m %s)", e->suite, e->model);
        } else {
            g->met = (!e->has_min || rec.value >= e->min) && (!e->has_max || rec.value <= e->max);
            char when[32];
            format_time(rec.time_ms, when, sizeof when);
            GATE_TEXT(g->evidence, "%s = %.6g (run #%lld, %s, %s, code %s)", e->metric, rec.value,
                      (long long)rec.run_id, rec.source, when, rec.code_version);
        }
    }

    /* sign-offs for the next stage since the release entered this one */
    if (gates->signoffs > 0 && (g = add_gate(r, "signoffs", 0))) {
        GATE_TEXT(g->what, "%d sign-off%s for '%s'%s", gates->signoffs, gates->signoffs == 1 ? "" : "s",
                  next->name, gates->n_reviewers ? " by named reviewers" : "");
        sg_signoff_record *so = NULL;
        size_t n = 0;
        if ((err = sg_store_signoffs(store, &so, &n))) return err;
        char names[384] = "";
        int count = 0, ignored = 0;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(so[i].stage, next->name) || so[i].time_ms < st->entered_ms) continue;
            if (gates->n_reviewers && !in_list(gates->reviewers, gates->n_reviewers, so[i].reviewer)) {
                ignored++;
                continue;
            }
            int dup = 0;
            for (size_t j = 0; j < i; j++)
                if (!strcmp(so[j].stage, next->name) && so[j].time_ms >= st->entered_ms &&
                    !strcmp(so[j].reviewer, so[i].reviewer))
                    dup = 1;
            if (dup) continue;
            count++;
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", so[i].reviewer);
        }
        free(so);
        g->met = count >= gates->signoffs;
        GATE_TEXT(g->evidence, "%d of %d: %.280s%s", count, gates->signoffs, count ? names : "none",
                  ignored ? " (sign-offs by reviewers not named in the policy ignored)" : "");
    }

    /* safety protocols that must be active at the next stage */
    for (int i = 0; i < gates->n_safety_protocols; i++) {
        const char *name = gates->safety_protocols[i];
        int known = sg_policy_known_protocol(name), on = sg_policy_protocol_enabled(p, r->to, name);
        if (!(g = add_gate(r, "safety_protocol", known && on))) break;
        GATE_TEXT(g->what, "%s active at '%s'", name, next->name);
        GATE_TEXT(g->evidence, "%s",
                  !known ? "not implemented by this stagegate"
                  : on   ? "enabled by the policy"
                         : "not enabled at that stage");
    }

    /* no open incident */
    if ((g = add_gate(r, "incidents", st->n_incidents == 0))) {
        GATE_TEXT(g->what, "no open incident");
        if (!st->n_incidents) {
            GATE_TEXT(g->evidence, "none open");
        } else {
            GATE_TEXT(g->evidence, "%zu open (first #%lld, severity %s)", st->n_incidents,
                      (long long)st->incidents[0].id, st->incidents[0].severity);
        }
    }

    r->all_met = 1;
    for (int i = 0; i < r->n; i++)
        if (!r->gates[i].met) r->all_met = 0;
    return NULL;
}

void sg_gate_report_format(const sg_gate_report *r, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = 0;
    if (r->blocked[0]) {
        snprintf(buf, size, "  %s\n", r->blocked);
        return;
    }
    for (int i = 0; i < r->n && len < size; i++) {
        const sg_gate_result *g = &r->gates[i];
        int k = snprintf(buf + len, size - len, "  [%s] %s: %s -- %s\n", g->met ? "met" : "UNMET", g->name,
                         g->what, g->evidence);
        if (k < 0) break;
        len += (size_t)k;
    }
}

static sg_error *record_move(sg_store *store, const sg_policy *p, int from, int to, const char *kind,
                             int override, const char *actor, const char *reason, const char *evidence,
                             int64_t now_ms) {
    sg_stage_move m = {.time_ms = now_ms, .override = override};
    snprintf(m.from_stage, sizeof m.from_stage, "%s", p->stages[from].name);
    snprintf(m.to_stage, sizeof m.to_stage, "%s", p->stages[to].name);
    snprintf(m.kind, sizeof m.kind, "%s", kind);
    snprintf(m.actor, sizeof m.actor, "%s", actor ? actor : "");
    snprintf(m.reason, sizeof m.reason, "%s", reason ? reason : "");
    snprintf(m.evidence, sizeof m.evidence, "%s", evidence ? evidence : "");
    sg_error *err = sg_store_stage_move_add(store, &m, NULL);
    if (err) return err;
    char text[SG_REL_TEXT_MAX + 512];
    snprintf(text, sizeof text, "%s -> %s by %s%s%s", m.from_stage, m.to_stage,
             m.actor[0] ? m.actor : "(unknown)", m.reason[0] ? ": " : "", m.reason);
    const char *decision = !strcmp(kind, "rollback") ? "stage-rollback"
                           : override                ? "stage-override"
                                                     : "stage-advance";
    return sg_journal_event(store, decision, m.to_stage, NULL, NULL, text);
}

sg_error *sg_release_advance(sg_store *store, const sg_policy *p, const char *actor, int force,
                             const char *reason, int64_t now_ms, sg_gate_report *report, int *moved) {
    *moved = 0;
    sg_error *err = sg_release_ensure_started(store, p, actor, now_ms);
    if (err) return err;
    sg_release_state st;
    if ((err = sg_release_state_load(store, p, &st))) return err;
    err = sg_release_gates(store, p, &st, now_ms, report);
    sg_release_state_free(&st);
    if (err) return err;
    if (report->blocked[0]) return sg_error_new("cannot advance: %s", report->blocked);
    if (!report->all_met && !force) return NULL;
    if (!report->all_met && (!reason || !reason[0]))
        return sg_error_new("--force needs --reason: an override is recorded with why it was made");
    char evidence[SG_REL_TEXT_MAX];
    sg_gate_report_format(report, evidence, sizeof evidence);
    const char *why = reason && reason[0] ? reason : "every gate met";
    if ((err = record_move(store, p, report->from, report->to, "advance", !report->all_met, actor, why,
                           evidence, now_ms)))
        return err;
    *moved = 1;
    return NULL;
}

sg_error *sg_release_rollback(sg_store *store, const sg_policy *p, int to, const char *actor,
                              const char *reason, int64_t now_ms) {
    if (!reason || !reason[0]) return sg_error_new("a rollback needs a reason (--reason TEXT)");
    sg_error *err = sg_release_ensure_started(store, p, actor, now_ms);
    if (err) return err;
    sg_release_state st;
    if ((err = sg_release_state_load(store, p, &st))) return err;
    int from = st.stage;
    sg_release_state_free(&st);
    if (to < 0) to = from - 1;
    if (to < 0) return sg_error_new("cannot roll back: '%s' is the first stage", p->stages[from].name);
    if (to >= from)
        return sg_error_new("cannot roll back to '%s': it is not before the current stage '%s'",
                            p->stages[to].name, p->stages[from].name);
    return record_move(store, p, from, to, "rollback", 0, actor, reason, "", now_ms);
}
