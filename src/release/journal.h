/* journal.h — release events (stage moves, evidence, incidents) written to
 * the hash-chained audit log as operator records. Kept in its own file so
 * that access/audit.h and release/policy.h (which both name an
 * SG_AUDIT_TEXT_* enum) never meet in one translation unit. */
#ifndef SG_JOURNAL_H
#define SG_JOURNAL_H

#include "base/error.h"
#include "store/store.h"

/* Appends one operator record: decision is the event ("stage-advance",
 * "stage-override", "stage-rollback", "incident-open", ...), stage the stage
 * in force after it, model/audience what it concerns (may be NULL). */
sg_error *sg_journal_event(sg_store *store, const char *decision, const char *stage, const char *audience,
                           const char *model, const char *reason) SG_MUST_CHECK;

#endif
