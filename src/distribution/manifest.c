/* manifest.c — the in-toto statement of a bundle; see manifest.h. */
#include "distribution/manifest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sg_manifest_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n >= SG_MANIFEST_NAME_MAX || name[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

sg_error *sg_manifest_to_json(const sg_manifest *m, char **json) {
    *json = NULL;
    json_t *subjects = json_array();
    for (int i = 0; subjects && i < m->n_files; i++) {
        const sg_manifest_file *f = &m->files[i];
        json_array_append_new(subjects,
                              json_pack("{s:s, s:{s:s}, s:{s:I}}", "name", f->name, "digest", "sha256",
                                        f->sha256, "annotations", "size", (json_int_t)f->size));
    }
    json_t *st = json_pack("{s:s, s:o, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}}}", "_type",
                           SG_INTOTO_STATEMENT_TYPE, "subject", subjects, "predicateType",
                           SG_BUNDLE_PREDICATE_TYPE, "predicate", "model", m->model, "stage", m->stage,
                           "issued", m->issued, "licensee", m->licensee, "recipient", m->recipient,
                           "license_sha256", m->license_sha256, "bundle", "blake2b256", m->bundle_blake2b);
    if (!st) return sg_error_new("out of memory building the manifest");
    *json = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(st);
    return *json ? NULL : sg_error_new("out of memory");
}

static int is_hex64(const char *s) {
    if (!s || strlen(s) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* Copies predicate field `key` into dst; error when missing or too long. */
static sg_error *get_str(json_t *obj, const char *key, char *dst, size_t cap, int hex) {
    const char *v = json_string_value(json_object_get(obj, key));
    if (!v) return sg_error_new("manifest: predicate.%s missing or not a string", key);
    if (strlen(v) >= cap) return sg_error_new("manifest: predicate.%s too long", key);
    if (hex && !is_hex64(v))
        return sg_error_new("manifest: predicate.%s is not 64 lowercase hex digits", key);
    snprintf(dst, cap, "%s", v);
    return NULL;
}

sg_error *sg_manifest_parse(const char *json, size_t len, sg_manifest *m) {
    memset(m, 0, sizeof *m);
    json_error_t jerr;
    json_t *st = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!st) return sg_error_new("manifest: %d:%d: %s", jerr.line, jerr.column, jerr.text);
    sg_error *err = NULL;
    const char *type = json_string_value(json_object_get(st, "_type"));
    const char *ptype = json_string_value(json_object_get(st, "predicateType"));
    json_t *subjects = json_object_get(st, "subject");
    json_t *pred = json_object_get(st, "predicate");
    if (!type || strcmp(type, SG_INTOTO_STATEMENT_TYPE) != 0)
        err = sg_error_new("manifest: _type is not %s", SG_INTOTO_STATEMENT_TYPE);
    else if (!ptype || strcmp(ptype, SG_BUNDLE_PREDICATE_TYPE) != 0)
        err = sg_error_new("manifest: predicateType is not %s", SG_BUNDLE_PREDICATE_TYPE);
    else if (!json_is_array(subjects) || json_array_size(subjects) == 0 ||
             json_array_size(subjects) > SG_MANIFEST_MAX_FILES)
        err = sg_error_new("manifest: subject must be an array of 1-%d files", SG_MANIFEST_MAX_FILES);
    else if (!json_is_object(pred))
        err = sg_error_new("manifest: predicate missing");
    if (!err) err = get_str(pred, "model", m->model, sizeof m->model, 0);
    if (!err) err = get_str(pred, "stage", m->stage, sizeof m->stage, 0);
    if (!err) err = get_str(pred, "issued", m->issued, sizeof m->issued, 0);
    if (!err) err = get_str(pred, "licensee", m->licensee, sizeof m->licensee, 0);
    if (!err) err = get_str(pred, "recipient", m->recipient, sizeof m->recipient, 1);
    if (!err) err = get_str(pred, "license_sha256", m->license_sha256, sizeof m->license_sha256, 1);
    if (!err) err = get_str(json_object_get(pred, "bundle"), "blake2b256", m->bundle_blake2b, 65, 1);
    size_t i;
    json_t *s;
    if (!err) json_array_foreach(subjects, i, s) {
            const char *name = json_string_value(json_object_get(s, "name"));
            const char *sha = json_string_value(json_object_get(json_object_get(s, "digest"), "sha256"));
            json_t *size = json_object_get(json_object_get(s, "annotations"), "size");
            if (!name || !sg_manifest_name_ok(name)) {
                err = sg_error_new("manifest: subject %zu has no valid file name", i);
                break;
            }
            if (!is_hex64(sha)) {
                err = sg_error_new("manifest: subject %s has no sha256 digest", name);
                break;
            }
            if (!json_is_integer(size) || json_integer_value(size) < 0) {
                err = sg_error_new("manifest: subject %s has no size annotation", name);
                break;
            }
            if (sg_manifest_find(m, name)) {
                err = sg_error_new("manifest: subject %s listed twice", name);
                break;
            }
            sg_manifest_file *f = &m->files[m->n_files++];
            snprintf(f->name, sizeof f->name, "%s", name);
            snprintf(f->sha256, sizeof f->sha256, "%s", sha);
            f->size = (uint64_t)json_integer_value(size);
        }
    json_decref(st);
    return err;
}

const sg_manifest_file *sg_manifest_find(const sg_manifest *m, const char *name) {
    for (int i = 0; i < m->n_files; i++)
        if (!strcmp(m->files[i].name, name)) return &m->files[i];
    return NULL;
}
