/* ledger.h — the distribution events in the audit log: licensees added and
 * revoked, the release key created, and each issued bundle (the licensee's
 * acceptance of the license: who, when, the license text's SHA-256).
 * (A thin layer over access/audit.h, so that callers that also read the
 * policy need not include both headers.) */
#ifndef SG_LEDGER_H
#define SG_LEDGER_H

#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* Appends a record: decision is e.g. "license-accepted"; strings may be NULL. */
sg_error *sg_ledger_append(sg_store *store, int64_t time_ms, const char *decision, const char *model,
                           const char *stage, const char *reason) SG_MUST_CHECK;

#endif
