/* policy_int.h — private to the policy module's files (policy.h is the public
 * side): the load context, the YAML spellings of the enums, and the parts of
 * the schema walk that one file hands to another.
 *
 *   policy.c          names of the enums, and the questions (decide, rate limit, ...)
 *   policy_load.c     loading: the top-level walk, the small sections, freeing
 *   policy_stages.c   release_stages: audiences and models per stage, gates, limits
 *   policy_filter.c   content_filter: categories, patterns (compiled once), leetspeak
 *   policy_json.c     the policy as JSON
 *
 * The walk reads YAML through base/yaml_doc.h, which reports every problem at
 * FILE:LINE:COL and lets loading go on, so that one run reports all errors. */
#ifndef SG_POLICY_INT_H
#define SG_POLICY_INT_H

#include "base/yaml_doc.h"
#include "release/policy.h"

#define SG_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* One load in progress: the document being read and the policy being filled. */
typedef struct {
    sg_yaml_doc *y;
    sg_policy *p;
    const char *base_dir; /* relative paths resolve against this (NULL = as written) */
} sg_policy_ctx;

/* The YAML spellings, in enum order. */
extern const char *const sg_policy_access_names[SG_ACCESS_COUNT];
extern const char *const sg_policy_component_names[SG_COMPONENT_COUNT];
extern const char *const sg_policy_strategy_names[3];
extern const char *const sg_policy_risk_names[5];
extern const char *const sg_policy_monitor_names[4];
extern const char *const sg_policy_audit_names[3];  /* sg_audit_text_mode order */
extern const char *const sg_policy_action_names[4]; /* sg_filter_action order */
extern const char *const sg_policy_protocols[7];    /* the safety protocols stagegate enforces */

/* -------------------------------------- shared by the walk (policy_load.c, policy.c) */

/* Names of models and audiences (they appear in API keys, URLs and logs):
 * 1-64 letters, digits, '_', '-', '.' (and '/' if allowed). */
int sg_policy_valid_name(const char *s, int allow_slash);
/* A string value that must be such a name. */
int sg_policy_get_name(sg_policy_ctx *c, const yaml_node_t *n, const char *key, char **out);
/* Reads key `k` of a NAME: VALUE mapping as a name (`label`); reports
 * `twice` (a format taking the name) when items[0..n), elements of `size`
 * bytes whose first member is their name, already has it. */
int sg_policy_entry_name(sg_policy_ctx *c, const yaml_node_t *k, const char *label, const void *items, int n,
                         size_t size, const char *twice, char **out);
int sg_policy_has_string(char *const *a, int n, const char *s);
void sg_policy_free_strings(char **a, int n);

/* ------------------------------------------------------------ the sections */

/* release_stages (policy_stages.c); models must be parsed first. */
void sg_policy_parse_stages(sg_policy_ctx *c, const yaml_node_t *n);
void sg_policy_free_stage(sg_policy_stage *s);
/* content_filter (policy_filter.c). */
void sg_policy_parse_content_filter(sg_policy_ctx *c, const yaml_node_t *n);
void sg_policy_free_filter(sg_filter_rules *r);

#endif
