/* check.h — executable preconditions: what a comment used to say ("with
 * job->mu held", "one thread drives a batch", "p must not be NULL") checked
 * unless NDEBUG is defined. None of this project's builds defines it (the
 * Release flags are "-O3 -march=native -g"), so Debug, ASan and Release all
 * check; the checks are cheap (a compare, or a trylock).
 *
 *     SG_ASSERT(p != NULL, "a loaded policy");
 *     SG_ASSERT_HELD(&job->mu);          // the mutex is locked
 *     SG_ASSERT_THREAD(b->owner);        // called on the thread bound to b->owner
 *
 * A failed check prints "FILE:LINE: FUNCTION: check failed: COND (WHAT)" to
 * stderr and aborts: a broken precondition is a bug in the caller, not an
 * error to return. With NDEBUG the checks compile to nothing (their
 * arguments are not evaluated), so a check must never have a side effect the
 * code relies on. */
#ifndef SG_CHECK_H
#define SG_CHECK_H

#include <errno.h>
#include <pthread.h>

/* Prints the failed check and aborts. */
_Noreturn void sg_check_failed(const char *file, int line, const char *func, const char *cond,
                               const char *what);

#ifdef NDEBUG
#define SG_ASSERT(cond, what) ((void)0)
#else
#define SG_ASSERT(cond, what) ((cond) ? (void)0 : sg_check_failed(__FILE__, __LINE__, __func__, #cond, what))
#endif

/* Is the (non-recursive) mutex locked? pthread does not say by whom, so a
 * mutex locked by another thread passes too; what this catches is a caller
 * that did not take the lock at all. */
static inline int sg_mutex_is_locked(pthread_mutex_t *mu) {
    int rc = pthread_mutex_trylock(mu);
    if (rc == 0) pthread_mutex_unlock(mu);
    return rc == EBUSY;
}
#define SG_ASSERT_HELD(mu) SG_ASSERT(sg_mutex_is_locked(mu), "the caller holds this lock")

/* One thread owns an object: `owner` is an sg_thread_owner that the first
 * call binds to the calling thread (sg_thread_bind), and every later call
 * must come from that thread. */
typedef struct {
    pthread_t thread;
    int bound;
} sg_thread_owner;

/* Binds `o` to the calling thread if it is unbound; returns whether the
 * calling thread is its owner. */
int sg_thread_bind(sg_thread_owner *o);
#define SG_ASSERT_THREAD(o) SG_ASSERT(sg_thread_bind(&(o)), "only the owning thread calls this")

#endif
