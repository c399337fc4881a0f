/* policy_bench.c — cost of loading and validating a release policy (what a
 * SIGHUP reload pays) and of the per-request access decision.
 * usage: policy_bench POLICY.yaml LOADS DECISIONS */
#include <stdio.h>
#include <stdlib.h>

#include "base/fileio.h"
#include "base/init.h"
#include "base/log.h"
#include "release/policy.h"

int main(int argc, char **argv) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    if (argc != 4) {
        fprintf(stderr, "usage: policy_bench POLICY.yaml LOADS DECISIONS\n");
        return 2;
    }
    int loads = atoi(argv[2]);
    long decisions = atol(argv[3]);
    char *text;
    size_t len;
    sg_error *err = sg_file_read(argv[1], &text, &len);
    if (err) {
        fprintf(stderr, "policy_bench: %s\n", sg_error_message(err));
        return 1;
    }
    double t0 = sg_monotonic_s();
    sg_policy *p = NULL;
    for (int i = 0; i < loads; i++) {
        sg_policy_free(p);
        err = sg_policy_load_string(argv[1], text, len, NULL, &p);
        if (err) {
            fprintf(stderr, "policy_bench: %s\n", sg_error_message(err));
            return 1;
        }
    }
    double load_us = (sg_monotonic_s() - t0) / loads * 1e6;

    /* A request mix: every audience of the last stage x every model, at every stage. */
    const sg_policy_stage *last = &p->stages[p->n_stages - 1];
    long allowed = 0, n = 0;
    char why[256];
    t0 = sg_monotonic_s();
    if (!p->n_models || !last->n_effective_audiences) decisions = 0; /* nothing to decide */
    while (n < decisions)
        for (int s = 0; s < p->n_stages && n < decisions; s++)
            for (int a = 0; a < last->n_effective_audiences && n < decisions; a++)
                for (int m = 0; m < p->n_models && n < decisions; m++, n++) {
                    allowed += sg_policy_decide(p, s, last->effective_audiences[a], p->models[m].name, why,
                                                sizeof why) == SG_POLICY_ALLOW;
                    sg_policy_limits l = sg_policy_rate_limit(p, s, last->effective_audiences[a]);
                    allowed += l.rpm < 0;
                }
    double dec_ns = n ? (sg_monotonic_s() - t0) / (double)n * 1e9 : 0;
    printf("policy_load_us %.1f\n", load_us);
    printf("decision_plus_rate_limit_ns %.1f (allowed %ld of %ld)\n", dec_ns, allowed, n);
    sg_policy_free(p);
    free(text);
    return 0;
}
