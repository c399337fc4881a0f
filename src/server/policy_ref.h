/* policy_ref.h — what a request runs under, and how the server swaps it.
 *
 * A policy file is loaded once into an sg_policy_loaded (the policy and its
 * compiled safety controls, server/guard.h). A ref pairs a loaded policy with
 * the release state (current stage, open incidents, release/stages.h) read
 * from the store when the ref was made. The slot holds the ref new requests
 * get: a stage move or an incident installs a new ref over the same loaded
 * policy (the watcher), a reload one over a new policy (sg_server_reload).
 * Requests in flight keep the ref they acquired; the last release of the last
 * ref over a loaded policy frees it (sg_policy_ref_loaded_free, the one
 * teardown). Thread-safe: every count is taken under the slot's lock. */
#ifndef SG_POLICY_REF_H
#define SG_POLICY_REF_H

#include <pthread.h>

#include "base/error.h"
#include "release/policy.h"
#include "release/stages.h"
#include "server/guard.h"
#include "store/store.h"

typedef struct sg_policy_loaded sg_policy_loaded;
typedef struct sg_policy_slot sg_policy_slot;

typedef struct {
    const sg_policy *policy;
    const sg_guard *guard; /* the policy's safety controls */
    sg_release_state release;
    int stage; /* release.stage: the stage requests are decided at */
    /* private */
    sg_policy_loaded *loaded;
    sg_policy_slot *slot;
    int refs;
} sg_policy_ref;

struct sg_policy_slot {
    pthread_mutex_t mu;
    sg_policy_ref *current; /* what new requests get; NULL before the first install */
};

/* Loads and checks a policy file (its warnings are logged) and compiles its
 * content filter. */
sg_error *sg_policy_ref_load(const char *path, sg_policy_loaded **out) SG_MUST_CHECK;
/* Frees a loaded policy that no ref uses (one that never got a ref). */
void sg_policy_ref_loaded_free(sg_policy_loaded *loaded);

/* The first ref over `loaded`, with the release state read from `store` now;
 * takes `loaded` (freed here when this fails). */
sg_error *sg_policy_ref_first(sg_policy_slot *slot, sg_store *store, sg_policy_loaded *loaded,
                              sg_policy_ref **out) SG_MUST_CHECK;
/* A new ref over the same loaded policy as `ref`, with the release state read now. */
sg_error *sg_policy_ref_refresh(sg_policy_slot *slot, sg_store *store, const sg_policy_ref *ref,
                                sg_policy_ref **out) SG_MUST_CHECK;

void sg_policy_slot_init(sg_policy_slot *slot);
/* Releases the installed ref and destroys the lock. */
void sg_policy_slot_destroy(sg_policy_slot *slot);
/* Makes `ref` (taken) the one new requests get. With `expected`, only if that
 * is still the installed one (a reload in between wins): otherwise `ref` is
 * dropped. */
void sg_policy_slot_install(sg_policy_slot *slot, sg_policy_ref *ref, const sg_policy_ref *expected);

/* The installed ref, with a count for the caller; give it back with release. */
sg_policy_ref *sg_policy_ref_acquire(sg_policy_slot *slot);
/* One more count on a ref the caller holds (a stream that outlives its handler). */
sg_policy_ref *sg_policy_ref_retain(sg_policy_ref *ref);
void sg_policy_ref_release(sg_policy_ref *ref);

/* The name of the stage requests are decided at. */
const char *sg_policy_ref_stage_name(const sg_policy_ref *ref);

#endif
