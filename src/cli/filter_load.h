/* filter_load.h — the content filter a command uses: the content_filter
 * section of a policy file, or the built-in rules (safety/default_rules.h)
 * when no policy is given. For `moderate` and `filter-eval`. */
#ifndef SG_FILTER_LOAD_H
#define SG_FILTER_LOAD_H

#include "base/error.h"
#include "safety/filter.h"

/* The filter of the policy file at `policy_path` (its content_filter
 * section; an error if it has none), or the built-in rules when the path is
 * NULL. Policy warnings are printed to stderr. */
sg_error *sg_filter_load(const char *policy_path, sg_filter **out) SG_MUST_CHECK;

#endif
