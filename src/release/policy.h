/* policy.h — the release policy: a YAML file (libyaml) loaded into plain, typed
 * structs, plus the questions the rest of stagegate asks of it: may this
 * audience use this model at this stage, which audiences does a stage reach,
 * is a safety protocol on, what rate limit applies, what is released of each
 * component group. docs/POLICY.md documents every key.
 *
 * Loading is pure: no global state, nothing but the YAML text and the policy
 * file's directory (for relative paths) goes in. A loaded policy is immutable,
 * so any number of threads may query it; a server reloads by loading the new
 * file into a second sg_policy and swapping pointers only if that succeeded.
 *
 *     sg_policy *p;
 *     sg_error *err = sg_policy_load("examples/release.yaml", &p);
 *     if (err) { fprintf(stderr, "%s\n", sg_error_message(err)); ... }
 *     for (int i = 0; i < p->n_warnings; i++) fprintf(stderr, "%s\n", p->warnings[i]);
 *     char why[256];
 *     if (sg_policy_decide(p, p->current_stage, "public", "sotu-large", why, sizeof why)
 *             != SG_POLICY_ALLOW) -> 403 with `why`
 *     sg_policy_free(p);
 *
 * Errors read "FILE:LINE:COL: message" (one line per error, several errors
 * joined by '\n'); warnings read "FILE:LINE:COL: warning: message". Lines and
 * columns are 1-based. */
#ifndef SG_POLICY_H
#define SG_POLICY_H

#include <stddef.h>

#include "base/error.h"
#include "safety/filter_rules.h"
#include "store/audit_text.h"

/* The gradient of access (Solaiman 2023), from closed to open. Ordered: a
 * higher value releases more. */
typedef enum {
    SG_ACCESS_FULLY_CLOSED,
    SG_ACCESS_GRADUAL,      /* staged: only the stage's audiences, through the gateway */
    SG_ACCESS_HOSTED,       /* a hosted interface (web demo) for the stage's audiences */
    SG_ACCESS_API,          /* programmatic API access */
    SG_ACCESS_DOWNLOADABLE, /* gated download of the weights (signed bundles) */
    SG_ACCESS_FULLY_OPEN,
    SG_ACCESS_COUNT
} sg_access_level;

/* The component groups of a release, each with its own level on the gradient. */
typedef enum {
    SG_COMPONENT_MODEL,         /* the model itself (weights / inference) */
    SG_COMPONENT_RISK_ANALYSIS, /* model/system cards, evaluation results, risk assessments */
    SG_COMPONENT_REPLICATION,   /* training code, configuration, telemetry, datasheet */
    SG_COMPONENT_COUNT
} sg_component;

typedef enum {
    SG_DEPLOY_FULL_RELEASE,
    SG_DEPLOY_STAGED_RELEASE,
    SG_DEPLOY_INTERNAL_ONLY
} sg_deployment_strategy;

/* Status of a risk assessment, ordered; as a gate, "at least this". */
typedef enum {
    SG_RISK_NONE,
    SG_RISK_NOT_STARTED,
    SG_RISK_PENDING,
    SG_RISK_IN_PROGRESS,
    SG_RISK_COMPLETED
} sg_risk_status;

typedef enum {
    SG_MONITOR_HOURLY,
    SG_MONITOR_DAILY,
    SG_MONITOR_WEEKLY,
    SG_MONITOR_MONTHLY
} sg_monitoring_frequency;

typedef struct {
    char *name; /* API model name, e.g. "sotu-small" */
    char *path; /* checkpoint directory, resolved against the policy file's directory */
    int line;   /* where it is declared (1-based) */
} sg_policy_model;

typedef struct {
    char *audience; /* an audience name, or "default" for every audience not listed */
    long rpm;       /* requests per minute, 0 = unlimited */
    long tpm;       /* tokens (prompt + max_tokens) per minute, 0 = unlimited */
} sg_policy_audience_limit;

/* An evaluation gate: the latest stored result of `suite` for `model` must
 * have `metric` >= min (if has_min) and <= max (if has_max). */
typedef struct {
    char *suite;
    char *model;
    char *metric;
    int has_min, has_max;
    double min, max;
} sg_policy_eval_gate;

/* Evidence required to ENTER a stage (the first stage has no gates to pass). */
typedef struct {
    int min_days;                   /* days spent in the previous stage */
    sg_risk_status risk_assessment; /* recorded assessment for this stage at least this; NONE = no gate */
    sg_policy_eval_gate *evaluations;
    int n_evaluations;
    int signoffs;     /* number of distinct sign-offs required */
    char **reviewers; /* if n_reviewers > 0, only these may sign off */
    int n_reviewers;
    char **safety_protocols; /* must be active when the stage starts */
    int n_safety_protocols;
} sg_policy_gates;

/* A restriction of which models one audience gets at a stage. */
typedef struct {
    char *audience;
    char **models;
    int n_models;
} sg_policy_audience_models;

typedef struct {
    char *name;
    int line, column;
    char **audiences; /* as declared at this stage */
    int n_audiences;
    int replace_audiences;      /* 1: earlier stages' audiences are dropped */
    char **effective_audiences; /* computed: who is served at this stage */
    int n_effective_audiences;
    char **models; /* as declared at this stage */
    int n_models;
    int replace_models;
    char **effective_models; /* computed: which models are released at this stage */
    int n_effective_models;
    sg_policy_audience_models *audience_models; /* optional per-audience restriction */
    int n_audience_models;
    int duration_days;
    sg_risk_status risk_assessment_status;
    char **protocols; /* safety_protocols_enabled (exactly, not cumulative) */
    int n_protocols;
    sg_access_level components[SG_COMPONENT_COUNT]; /* components[SG_COMPONENT_MODEL] is `access` */
    sg_policy_audience_limit *rate_limits;
    int n_rate_limits;
    sg_policy_gates gates;
} sg_policy_stage;

typedef struct {
    char *risk;
    char *mitigation;
} sg_policy_mitigation;

typedef struct {
    char *path;      /* the policy file as given */
    char *base_dir;  /* its directory */
    char digest[65]; /* BLAKE2b-256 of the file's bytes, hex: which policy is in force (audit) */

    /* The starter schema. */
    char *model_name;
    char *version;
    sg_deployment_strategy deployment_strategy;
    sg_policy_stage *stages;
    int n_stages;
    sg_policy_mitigation *mitigations; /* risk_mitigation_plan */
    int n_mitigations;
    sg_monitoring_frequency monitoring_frequency;
    char *incident_response_plan; /* NULL if absent */

    /* Extensions. */
    sg_policy_model *models;
    int n_models;
    int current_stage; /* index into stages: where the release starts */
    sg_audit_text_mode audit_text;
    int audit_retention_days; /* 0 = keep forever */
    long max_body_bytes;
    int queue_size;
    int request_timeout_s;
    int max_batch;
    int suspend_after_flags;     /* suspend a key after this many upheld flags; 0 = never */
    char *license;               /* resolved path, NULL if absent */
    sg_filter_rules filter;      /* content_filter (empty if absent) */
    struct sg_policy_demo *demo; /* the hosted web demo (release/policy_demo.h); NULL if absent */

    char **warnings; /* "FILE:LINE:COL: warning: ..." */
    int n_warnings;
} sg_policy;

/* Loads and validates the policy at `path`. On error *out is NULL and the
 * error message holds every problem found, one "FILE:LINE:COL: ..." per line. */
sg_error *sg_policy_load(const char *path, sg_policy **out) SG_MUST_CHECK;

/* The same from a buffer: `name` is used in messages, relative paths resolve
 * against `base_dir` (NULL = as written). */
sg_error *sg_policy_load_string(const char *name, const char *text, size_t len, const char *base_dir,
                                sg_policy **out) SG_MUST_CHECK;

void sg_policy_free(sg_policy *p);

/* Lookups; -1 / NULL when absent. */
int sg_policy_stage_index(const sg_policy *p, const char *stage_name);
const sg_policy_model *sg_policy_find_model(const sg_policy *p, const char *model_name);

/* The access decision the server makes per request. */
typedef enum {
    SG_POLICY_ALLOW,
    SG_POLICY_DENY_UNKNOWN_MODEL, /* not a model of this policy (404) */
    SG_POLICY_DENY_NOT_RELEASED,  /* the model is not released at this stage (403) */
    SG_POLICY_DENY_AUDIENCE,      /* released, but not to this audience (403) */
    SG_POLICY_DENY_CLOSED,        /* the stage's model access is fully_closed (403) */
} sg_policy_verdict;

/* May `audience` use `model` through the gateway at stage `stage`? Writes a
 * human message (naming the model, audience and stage) to `why` when denied,
 * "" when allowed; `why` may be NULL. */
sg_policy_verdict sg_policy_decide(const sg_policy *p, int stage, const char *audience, const char *model,
                                   char *why, size_t why_size);

/* Is `audience` served at all at `stage` (any model)? */
int sg_policy_audience_at(const sg_policy *p, int stage, const char *audience);

/* Is safety protocol `name` enabled at `stage` (its safety_protocols_enabled)? */
int sg_policy_protocol_enabled(const sg_policy *p, int stage, const char *name);

/* The rate limit for `audience` at `stage`: the newest entry for that
 * audience at this stage or an earlier one; failing that, the newest
 * "default" entry; failing that, unlimited. `enforced` is 0 when the stage
 * does not enable the rate_limit protocol. A key's own rpm/tpm override these. */
typedef struct {
    long rpm, tpm; /* 0 = unlimited */
    int enforced;
} sg_policy_limits;
sg_policy_limits sg_policy_rate_limit(const sg_policy *p, int stage, const char *audience);

/* The level on the gradient of a component group at a stage. */
sg_access_level sg_policy_component_level(const sg_policy *p, int stage, sg_component c);

/* The policy as JSON, for `policy check --json`, status pages and system
 * cards: every setting plus the computed effective audiences and models.
 * Filter categories appear with their action and sizes, not their terms.
 * The caller owns *out (json_decref). */
typedef struct json_t json_t;
sg_error *sg_policy_to_json(const sg_policy *p, json_t **out) SG_MUST_CHECK;

/* Names for printing (and the YAML spellings). */
const char *sg_access_level_name(sg_access_level level);
const char *sg_component_name(sg_component c);
const char *sg_risk_status_name(sg_risk_status s);
const char *sg_deployment_strategy_name(sg_deployment_strategy s);
const char *sg_monitoring_frequency_name(sg_monitoring_frequency f);
/* Is `name` one of the safety protocols stagegate implements? */
int sg_policy_known_protocol(const char *name);

#endif
