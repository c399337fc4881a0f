/* policy_ref.c — the policy and release state requests run under (see policy_ref.h). */
#include "server/policy_ref.h"

#include <stdlib.h>

#include "base/log.h"

struct sg_policy_loaded {
    sg_policy *policy;
    sg_guard *guard; /* its safety controls (compiled content filter) */
    int refs;        /* refs made over it; under the slot's lock */
};

sg_error *sg_policy_ref_load(const char *path, sg_policy_loaded **out) {
    sg_policy *p;
    sg_error *err = sg_policy_load(path, &p);
    if (err) return err;
    for (int i = 0; i < p->n_warnings; i++) sg_warn("%s", p->warnings[i]);
    sg_policy_loaded *l = calloc(1, sizeof *l);
    if (!l) {
        sg_policy_free(p);
        return sg_error_new("out of memory");
    }
    l->policy = p;
    if ((err = sg_guard_new(p, &l->guard))) {
        sg_policy_ref_loaded_free(l);
        return err;
    }
    *out = l;
    return NULL;
}

void sg_policy_ref_loaded_free(sg_policy_loaded *l) {
    if (!l) return;
    sg_guard_free(l->guard);
    sg_policy_free(l->policy);
    free(l);
}

/* A new ref over `l`; on success `l` counts it. */
static sg_error *make_ref(sg_policy_slot *slot, sg_store *store, sg_policy_loaded *l, sg_policy_ref **out) {
    sg_policy_ref *r = calloc(1, sizeof *r);
    if (!r) return sg_error_new("out of memory");
    sg_error *err = sg_release_state_load(store, l->policy, &r->release);
    if (err) {
        free(r);
        return sg_error_wrap(err, "reading the release state");
    }
    r->policy = l->policy;
    r->guard = l->guard;
    r->loaded = l;
    r->slot = slot;
    r->stage = r->release.stage;
    r->refs = 1;
    pthread_mutex_lock(&slot->mu);
    l->refs++;
    pthread_mutex_unlock(&slot->mu);
    *out = r;
    return NULL;
}

sg_error *sg_policy_ref_first(sg_policy_slot *slot, sg_store *store, sg_policy_loaded *l,
                              sg_policy_ref **out) {
    sg_error *err = make_ref(slot, store, l, out);
    if (err) sg_policy_ref_loaded_free(l);
    return err;
}

sg_error *sg_policy_ref_refresh(sg_policy_slot *slot, sg_store *store, const sg_policy_ref *ref,
                                sg_policy_ref **out) {
    return make_ref(slot, store, ref->loaded, out);
}

void sg_policy_slot_init(sg_policy_slot *slot) {
    pthread_mutex_init(&slot->mu, NULL);
    slot->current = NULL;
}

void sg_policy_slot_destroy(sg_policy_slot *slot) {
    if (slot->current) sg_policy_ref_release(slot->current);
    slot->current = NULL;
    pthread_mutex_destroy(&slot->mu);
}

void sg_policy_slot_install(sg_policy_slot *slot, sg_policy_ref *r, const sg_policy_ref *expected) {
    pthread_mutex_lock(&slot->mu);
    sg_policy_ref *old = slot->current;
    int ok = !expected || old == expected;
    if (ok) slot->current = r;
    pthread_mutex_unlock(&slot->mu);
    if (!ok)
        sg_policy_ref_release(r);
    else if (old)
        sg_policy_ref_release(old);
}

sg_policy_ref *sg_policy_ref_acquire(sg_policy_slot *slot) {
    pthread_mutex_lock(&slot->mu);
    sg_policy_ref *r = slot->current;
    r->refs++;
    pthread_mutex_unlock(&slot->mu);
    return r;
}

sg_policy_ref *sg_policy_ref_retain(sg_policy_ref *r) {
    pthread_mutex_lock(&r->slot->mu);
    r->refs++;
    pthread_mutex_unlock(&r->slot->mu);
    return r;
}

void sg_policy_ref_release(sg_policy_ref *r) {
    sg_policy_slot *slot = r->slot;
    pthread_mutex_lock(&slot->mu);
    int left = --r->refs;
    int loaded_left = left ? 1 : --r->loaded->refs;
    pthread_mutex_unlock(&slot->mu);
    if (left) return;
    if (!loaded_left) sg_policy_ref_loaded_free(r->loaded);
    sg_release_state_free(&r->release);
    free(r);
}

const char *sg_policy_ref_stage_name(const sg_policy_ref *r) { return r->policy->stages[r->stage].name; }
