/* filter_rules.h — the content-filter rules a policy declares, as plain data.
 * The policy module fills these from YAML; the filter module compiles them.
 * Patterns are compiled once: the policy loader compiles each with
 * sg_filter_pattern_compile (filter.h) to report errors at their line and
 * column, keeps the results in `compiled`, and sg_filter_new reuses them. */
#ifndef SG_FILTER_RULES_H
#define SG_FILTER_RULES_H

typedef struct sg_filter_pattern sg_filter_pattern; /* one compiled pattern (filter.h) */

typedef enum {
    SG_FILTER_BLOCK,     /* refuse (input) or end the completion with finish_reason content_filter */
    SG_FILTER_REDACT,    /* replace the matched span */
    SG_FILTER_HARDCODED, /* answer with `response` instead of running the model */
    SG_FILTER_FLAG,      /* allow, but record a flag */
} sg_filter_action;

typedef struct {
    char *name;   /* category, e.g. "violence", "pii/email" */
    char **terms; /* words and phrases, matched after evasion normalisation */
    int n_terms;
    char **patterns; /* PCRE2 regular expressions, matched on the original text */
    int n_patterns;
    char **allow; /* allow-listed words/phrases that contain a term but are fine ("Scunthorpe") */
    int n_allow;
    sg_filter_action action;
    char *response;               /* the text for SG_FILTER_HARDCODED */
    int on_input;                 /* applies to prompts */
    int on_output;                /* applies to completions */
    sg_filter_pattern **compiled; /* NULL, or patterns[i] compiled (owned by whoever filled the rules) */
} sg_filter_category;

typedef struct {
    sg_filter_category *categories;
    int n_categories;
    char **leet_from; /* extra leetspeak mappings: leet_from[i] reads as leet_to[i] */
    char **leet_to;
    int n_leet;
} sg_filter_rules;

#endif
