/* journal.c — release events into the audit log (see journal.h). */
#include "release/journal.h"

#include "access/audit.h"

sg_error *sg_journal_event(sg_store *store, const char *decision, const char *stage, const char *audience,
                           const char *model, const char *reason) {
    sg_audit_entry e = {
        .decision = decision,
        .stage = stage,
        .audience = audience,
        .model = model,
        .reason = reason,
        .text_mode = SG_AUDIT_TEXT_NONE,
    };
    sg_error *err = sg_audit_append(store, &e, NULL);
    return err ? sg_error_wrap(err, "recording '%s' in the audit log", decision) : NULL;
}
