/* manifest.h — the signed manifest of a bundle: an in-toto Statement v1.
 *
 *   {"_type": "https://in-toto.io/Statement/v1",
 *    "subject": [{"name": FILE, "digest": {"sha256": HEX}, "annotations": {"size": N}}...],
 *    "predicateType": "urn:stagegate:bundle:v1",
 *    "predicate": {"model", "stage", "issued" (RFC 3339 UTC), "licensee",
 *                  "recipient" (BLAKE2b-256 hex of the licensee's public key),
 *                  "license_sha256", "bundle": {"blake2b256": HEX of the
 *                  encrypted part}}}
 * Carried in a DSSE envelope (dsse.h). */
#ifndef SG_MANIFEST_H
#define SG_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SG_MANIFEST_MAX_FILES 16
#define SG_MANIFEST_NAME_MAX 64
#define SG_INTOTO_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define SG_BUNDLE_PREDICATE_TYPE "urn:stagegate:bundle:v1"

typedef struct {
    char name[SG_MANIFEST_NAME_MAX];
    uint64_t size;
    char sha256[65];
} sg_manifest_file;

typedef struct {
    char model[128], stage[128], licensee[128];
    char issued[32]; /* "2026-11-23T15:00:00Z" */
    char recipient[65];
    char license_sha256[65];
    char bundle_blake2b[65];
    int n_files;
    sg_manifest_file files[SG_MANIFEST_MAX_FILES];
} sg_manifest;

/* Is `name` acceptable as a bundle file name (a plain file name of
 * [A-Za-z0-9._-], not starting with '.', at most 63 bytes)? */
int sg_manifest_name_ok(const char *name);

/* The statement as compact JSON (malloc'd). */
sg_error *sg_manifest_to_json(const sg_manifest *m, char **json) SG_MUST_CHECK;
/* Parses and validates a statement. */
sg_error *sg_manifest_parse(const char *json, size_t len, sg_manifest *out) SG_MUST_CHECK;
/* The subject named `name`, or NULL. */
const sg_manifest_file *sg_manifest_find(const sg_manifest *m, const char *name);

#endif
