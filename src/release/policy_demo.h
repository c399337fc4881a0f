/* policy_demo.h — the `demo:` section of the release policy: the hosted web
 * demo (src/server/demo.h) that the public meets at stages whose model access
 * is `hosted` or above. Who the demo's visitors are (one audience, as the
 * stages name it), which models it offers, the sampling bounds and the
 * operator's defaults (the page may not override them), the token budgets
 * (per session, per network prefix, for the whole demo), the reasons a
 * visitor may flag an output for, and the texts the page shows.
 *
 * The policy loader (policy_load.c) hands the section's YAML node to
 * sg_policy_demo_parse, which reads it through base/yaml_doc.h like every
 * other section, so every problem reads FILE:LINE:COL. docs/POLICY.md
 * documents the keys. */
#ifndef SG_POLICY_DEMO_H
#define SG_POLICY_DEMO_H

#include "base/yaml_doc.h"

#include "release/policy.h"

/* A sampling setting: what the page may ask for and what it starts with. */
typedef struct {
    double min, max, def;
} sg_demo_bound;

typedef struct sg_policy_demo {
    int line, column; /* where `demo:` is */
    char *audience;   /* the audience every demo request is decided and audited as */
    char **models;    /* offered on the page, first = preselected */
    int n_models;
    sg_demo_bound max_tokens, temperature, top_p;
    int form_max_tokens; /* the no-JavaScript form's tighter cap */
    long session_tpm;    /* generated-token budgets per minute (buckets refill continuously) */
    long network_tpm;    /* per /24 (IPv4) or /64 (IPv6) */
    long global_tpm;     /* the whole demo */
    int max_sessions;    /* bound of the session and network tables (LRU) */
    char **flag_reasons; /* what a visitor may flag an output for */
    int n_flag_reasons;
    char *disclaimer;    /* shown on the page */
    char *intended_use;  /* what the model is for */
    char *not_for;       /* what it is not for */
    char *paused_notice; /* the public text while paused */
    int paused;          /* the operator paused the demo */
} sg_policy_demo;

/* Parses `demo:` into *out (allocated; NULL on out of memory) and checks it
 * against the rest of the policy (stages and models already parsed): the
 * models exist, the audience is served with model access `hosted` or above
 * at some stage, bounds are ordered and defaults inside them. */
void sg_policy_demo_parse(sg_yaml_doc *y, const yaml_node_t *n, const sg_policy *p, sg_policy_demo **out);
void sg_policy_demo_free(sg_policy_demo *d);

/* Is the demo open at `stage`: a demo section, model access `hosted` or
 * above, and the demo's audience served there? (Incidents and pauses are
 * the server's business.) */
int sg_policy_demo_at(const sg_policy *p, int stage);

#endif
