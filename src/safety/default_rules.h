/* default_rules.h — the project's own content-filter categories and terms,
 * built into the program: what `stagegate moderate` and `stagegate
 * filter-eval` use when no policy is given (a policy's content_filter section
 * replaces them). Category names follow the OpenAI moderation names where one
 * fits (violence, hate, harassment, self-harm, sexual, illicit) plus
 * spam/phishing and pii. */
#ifndef SG_DEFAULT_RULES_H
#define SG_DEFAULT_RULES_H

#include "safety/filter_rules.h"

/* Static rules; never freed. */
const sg_filter_rules *sg_default_filter_rules(void);

#endif
