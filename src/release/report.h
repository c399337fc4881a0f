/* report.h — the monitoring report over a period: usage per audience and
 * model, refusals by cause (401/403/429/filter...), top keys, incidents and
 * stage changes, read from the audit log and the release tables; with the
 * policy's monitoring_frequency and incident_response_plan. Built as JSON
 * (jansson); rendered as Markdown text. A server writes one per period of
 * monitoring_frequency into a reports directory beside the database. */
#ifndef SG_REPORT_H
#define SG_REPORT_H

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"
#include "release/policy.h"
#include "store/store.h"

/* The report for [since_ms, now_ms]; *out is a new JSON object. */
sg_error *sg_report_build(sg_store *store, const sg_policy *policy, int64_t since_ms, int64_t now_ms,
                          json_t **out) SG_MUST_CHECK;

/* The report as Markdown: *out is malloc'd. */
sg_error *sg_report_text(const json_t *report, char **out) SG_MUST_CHECK;

/* The period of monitoring_frequency in milliseconds (hourly .. monthly = 30 days). */
int64_t sg_report_period_ms(sg_monitoring_frequency f);

/* "DB.reports" for database path `db` (malloc'd). */
char *sg_report_dir(const char *db);

/* Writes the report of the last period ending at now_ms as
 * DIR/report-YYYYMMDDTHHMMZ.json and .md (atomically, creating DIR). */
sg_error *sg_report_write(sg_store *store, const sg_policy *policy, const char *dir,
                          int64_t now_ms) SG_MUST_CHECK;

#endif
