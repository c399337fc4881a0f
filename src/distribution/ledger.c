/* ledger.c — see ledger.h. */
#include "distribution/ledger.h"

#include "access/audit.h"

sg_error *sg_ledger_append(sg_store *store, int64_t time_ms, const char *decision, const char *model,
                           const char *stage, const char *reason) {
    sg_audit_entry e = {.time_ms = time_ms,
                        .model = model,
                        .stage = stage,
                        .decision = decision,
                        .reason = reason,
                        .text_mode = SG_AUDIT_TEXT_NONE};
    return sg_audit_append(store, &e, NULL);
}
