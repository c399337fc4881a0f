/* fuzz_policy.c — libFuzzer target: any bytes as a release policy. Loading
 * must either succeed or fail with an error; never crash, leak or hang.
 * A loaded policy is queried the way the gateway queries it, and dumped as JSON. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/init.h"
#include "release/policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (sg_init()) abort(); /* the library start-up call (base/init.h) */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sg_policy *p = NULL;
    sg_error *err = sg_policy_load_string("fuzz.yaml", (const char *)data, size, "base", &p);
    if (err) {
        (void)strlen(sg_error_message(err));
        sg_error_free(err);
        return 0;
    }
    char why[256];
    for (int s = -1; s <= p->n_stages; s++) {
        for (int m = 0; m < p->n_models && m < 4; m++) {
            const char *aud = p->n_stages && p->stages[0].n_audiences ? p->stages[0].audiences[0] : "public";
            (void)sg_policy_decide(p, s, aud, p->models[m].name, why, sizeof why);
        }
        (void)sg_policy_decide(p, s, "public", "nope", why, sizeof why);
        (void)sg_policy_rate_limit(p, s, "public");
        (void)sg_policy_protocol_enabled(p, s, "rate_limit");
        (void)sg_policy_component_level(p, s, SG_COMPONENT_REPLICATION);
    }
    json_t *j;
    err = sg_policy_to_json(p, &j);
    if (err)
        sg_error_free(err);
    else
        json_decref(j);
    sg_policy_free(p);
    return 0;
}
