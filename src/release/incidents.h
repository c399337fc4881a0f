/* incidents.h — opening and closing incidents. An incident can suspend an
 * audience and/or a model (the server refuses them with 403 naming the
 * incident id, never its internal reason) and can roll the release back one
 * stage. Both take effect on a running server at its next poll of the
 * release version (stages.h). Every action is written to the audit log. */
#ifndef SG_INCIDENTS_H
#define SG_INCIDENTS_H

#include <stdint.h>

#include "base/error.h"
#include "release/policy.h"
#include "store/store_release.h"

/* Severity levels, lowest first. */
int sg_incident_severity_valid(const char *severity);
extern const char *const sg_incident_severities[]; /* NULL-terminated */

/* Opens an incident described by `in` (severity, reason, suspend_audience,
 * suspend_model, rollback, opened_by; the rest is ignored). Audience and
 * model names are checked against the policy. With rollback, the release
 * moves back one stage (an error if it is at the first stage). */
sg_error *sg_incident_open(sg_store *store, const sg_policy *policy, const sg_incident_record *in,
                           int64_t now_ms, int64_t *id) SG_MUST_CHECK;

/* Closes open incident `id`; an error when it is unknown or already closed. */
sg_error *sg_incident_close(sg_store *store, const sg_policy *policy, int64_t id, const char *by,
                            const char *note, int64_t now_ms) SG_MUST_CHECK;

#endif
