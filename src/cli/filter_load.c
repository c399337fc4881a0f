/* filter_load.c — a policy's content filter or the built-in one; see filter_load.h. */
#include "cli/filter_load.h"

#include <stdio.h>

#include "release/policy.h"
#include "safety/default_rules.h"

sg_error *sg_filter_load(const char *policy_path, sg_filter **out) {
    *out = NULL;
    if (!policy_path) return sg_filter_new(sg_default_filter_rules(), out);
    sg_policy *p;
    sg_error *err = sg_policy_load(policy_path, &p);
    if (err) return err;
    for (int i = 0; i < p->n_warnings; i++) fprintf(stderr, "%s\n", p->warnings[i]);
    if (p->filter.n_categories == 0)
        err = sg_error_new("%s: the policy has no content_filter categories", policy_path);
    else if ((err = sg_filter_new(&p->filter, out)))
        err = sg_error_wrap(err, "%s", policy_path);
    sg_policy_free(p);
    return err;
}
