/* default_rules.h — the project's own content-filter categories and terms,
 * built into the program: what `stagegate moderate` and `stagegate
 * filter-eval` use when no policy is given (a policy's content_filter section
 * replaces them). Category names follow the OpenAI moderation names where one
 * fits (violence, hate, harassment, self-harm, sexual, illicit) plus
 * spam/phishing and pii. */
#ifndef SG_DEFAULT_RULES_H
#define SG_DEFAULT_RULES_H

#include "base/error.h"
#include "safety/filter_rules.h"

/* Static rules; never freed. */
const sg_filter_rules *sg_default_filter_rules(void);

typedef struct sg_filter sg_filter;

/* The filter of the policy file at `policy_path` (its content_filter
 * section; an error if it has none), or the built-in rules when the path is
 * NULL. Policy warnings are printed to stderr. For the command line. */
sg_error *sg_filter_load(const char *policy_path, sg_filter **out) SG_MUST_CHECK;

#endif
