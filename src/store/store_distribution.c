/* store_distribution.c — licensees, the release signing key and issued
 * bundles (store_distribution.h). */
#include "store/store_distribution.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define LICENSEE_COLUMNS "id, name, public_key, created_ms, revoked_ms"

static const sgs_query LICENSEE_INSERT = {
    "INSERT INTO licensees (name, public_key, created_ms) VALUES (?,?,?)", "inserting licensee"};
static const sgs_query LICENSEE_BY_ID = {"SELECT " LICENSEE_COLUMNS " FROM licensees WHERE id = ?",
                                         "looking up licensee"};
static const sgs_query LICENSEE_BY_NAME = {"SELECT " LICENSEE_COLUMNS " FROM licensees WHERE name = ?",
                                           "looking up licensee"};
static const sgs_query LICENSEE_LIST = {"SELECT " LICENSEE_COLUMNS " FROM licensees ORDER BY id",
                                        "listing licensees"};
static const sgs_query LICENSEE_REVOKE = {
    "UPDATE licensees SET revoked_ms = ? WHERE name = ? AND revoked_ms = 0", "revoking licensee"};
/* id fixed to 1: a second key is refused by the primary key */
static const sgs_query RELEASE_KEY_INSERT = {"INSERT INTO release_keys (id, public_key, sealed_secret, "
                                             "created_ms) VALUES (1,?,?,?)",
                                             "storing release key"};
static const sgs_query RELEASE_KEY_GET = {"SELECT public_key, sealed_secret FROM release_keys WHERE id = 1",
                                          "reading release key"};
static const sgs_query ISSUE_INSERT = {"INSERT INTO issues (licensee_id, model, stage, original_path, "
                                       "original_blake2b, nonce, epsilon, license_sha256, bundle_sha256, "
                                       "issued_ms) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                       "recording issued bundle"};
static const sgs_query ISSUE_LIST = {"SELECT i.id, i.licensee_id, l.name, i.model, i.stage, i.original_path, "
                                     "i.original_blake2b, i.nonce, i.epsilon, i.license_sha256, "
                                     "i.bundle_sha256, i.issued_ms FROM issues i "
                                     "JOIN licensees l ON l.id = i.licensee_id ORDER BY i.id",
                                     "listing issued bundles"};

/* ---- licensees ------------------------------------------------------------------------ */

sg_error *sg_store_licensee_insert(sg_store *s, const char *name,
                                   const unsigned char public_key[crypto_box_PUBLICKEYBYTES],
                                   int64_t created_ms, int64_t *id) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &LICENSEE_INSERT);
    if (err) return err;
    sgs_text(&q, name);
    sgs_blob(&q, public_key, crypto_box_PUBLICKEYBYTES);
    sgs_int(&q, created_ms);
    sgs_result res;
    err = sgs_run(&q, &res);
    if (err && res.step == SGS_UNIQUE) {
        sg_error_free(err);
        return sg_error_new("a licensee named '%s' exists already", name);
    }
    if (!err) *id = res.id;
    return err;
}

static void read_licensee(const sgs_q *q, void *rec) {
    sg_licensee_record *r = rec;
    memset(r, 0, sizeof *r);
    r->id = sgs_col_int(q, 0);
    sgs_col_text(q, 1, r->name, sizeof r->name);
    sgs_col_blob(q, 2, r->public_key, sizeof r->public_key);
    r->created_ms = sgs_col_int(q, 3);
    r->revoked_ms = sgs_col_int(q, 4);
}

sg_error *sg_store_licensee_get(sg_store *s, const char *name, int64_t id, sg_licensee_record *out,
                                bool *found) {
    sgs_q q;
    *found = false;
    sg_error *err = sgs_open(&q, s->reader, id ? &LICENSEE_BY_ID : &LICENSEE_BY_NAME);
    if (err) return err;
    if (id)
        sgs_int(&q, id);
    else
        sgs_text(&q, name);
    return sgs_one(&q, read_licensee, out, found);
}

sg_error *sg_store_licensee_list(sg_store *s, sg_licensee_record **out, size_t *n) {
    sgs_q q;
    *out = NULL;
    *n = 0;
    sg_error *err = sgs_open(&q, s->reader, &LICENSEE_LIST);
    return err ? err : sgs_list(&q, read_licensee, sizeof **out, (void **)out, n);
}

sg_error *sg_store_licensee_revoke(sg_store *s, const char *name, int64_t now_ms, bool *changed) {
    sgs_q q;
    *changed = false;
    sg_error *err = sgs_open(&q, &s->writer, &LICENSEE_REVOKE);
    if (err) return err;
    sgs_int(&q, now_ms > 0 ? now_ms : 1);
    sgs_text(&q, name);
    sgs_result res;
    if ((err = sgs_run(&q, &res))) return err;
    *changed = res.changes > 0;
    return NULL;
}

/* ---- the release signing key ------------------------------------------------------------ */

sg_error *sg_store_release_key_insert(sg_store *s, const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                                      const unsigned char *sealed, size_t sealed_len, int64_t created_ms) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &RELEASE_KEY_INSERT);
    if (err) return err;
    sgs_blob(&q, public_key, 32);
    sgs_blob(&q, sealed, sealed_len);
    sgs_int(&q, created_ms);
    sgs_result res;
    err = sgs_run(&q, &res);
    if (err && (res.step == SGS_UNIQUE || res.step == SGS_CONSTRAINT)) {
        sg_error_free(err);
        return sg_error_new("this database has a release key already");
    }
    return err;
}

typedef struct {
    unsigned char *public_key;
    unsigned char *sealed; /* malloc'd */
    size_t sealed_len;
    bool oom;
} release_key;

static void read_release_key(const sgs_q *q, void *rec) {
    release_key *k = rec;
    sgs_col_blob(q, 0, k->public_key, 32);
    size_t n = 0;
    const void *b = sgs_col_bytes(q, 1, &n);
    k->sealed = malloc(n ? n : 1);
    if (!k->sealed) {
        k->oom = true;
        return;
    }
    if (n) memcpy(k->sealed, b, n);
    k->sealed_len = n;
}

sg_error *sg_store_release_key_get(sg_store *s, unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                                   unsigned char **sealed, size_t *sealed_len, bool *found) {
    *found = false;
    *sealed = NULL;
    *sealed_len = 0;
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &RELEASE_KEY_GET);
    if (err) return err;
    release_key k = {.public_key = public_key};
    bool row = false;
    if ((err = sgs_one(&q, read_release_key, &k, &row))) return err;
    if (!row) return NULL;
    if (k.oom) return sg_error_new("out of memory");
    *sealed = k.sealed;
    *sealed_len = k.sealed_len;
    *found = true;
    return NULL;
}

/* ---- issued bundles ------------------------------------------------------------------------ */

sg_error *sg_store_issue_insert(sg_store *s, const sg_issue_record *r, int64_t *id) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &ISSUE_INSERT);
    if (err) return err;
    sgs_int(&q, r->licensee_id);
    sgs_text(&q, r->model);
    sgs_text(&q, r->stage);
    sgs_text(&q, r->original_path);
    sgs_text(&q, r->original_blake2b);
    sgs_blob(&q, r->nonce, sizeof r->nonce);
    sgs_real(&q, r->epsilon);
    sgs_text(&q, r->license_sha256);
    sgs_text(&q, r->bundle_sha256);
    sgs_int(&q, r->issued_ms);
    sgs_result res;
    if ((err = sgs_run(&q, &res))) return err;
    if (id) *id = res.id;
    return NULL;
}

static void read_issue(const sgs_q *q, void *rec) {
    sg_issue_record *r = rec;
    r->id = sgs_col_int(q, 0);
    r->licensee_id = sgs_col_int(q, 1);
    sgs_col_text(q, 2, r->licensee, sizeof r->licensee);
    sgs_col_text(q, 3, r->model, sizeof r->model);
    sgs_col_text(q, 4, r->stage, sizeof r->stage);
    sgs_col_text(q, 5, r->original_path, sizeof r->original_path);
    sgs_col_text(q, 6, r->original_blake2b, sizeof r->original_blake2b);
    sgs_col_blob(q, 7, r->nonce, sizeof r->nonce);
    r->epsilon = sgs_col_real(q, 8);
    sgs_col_text(q, 9, r->license_sha256, sizeof r->license_sha256);
    sgs_col_text(q, 10, r->bundle_sha256, sizeof r->bundle_sha256);
    r->issued_ms = sgs_col_int(q, 11);
}

sg_error *sg_store_issue_list(sg_store *s, sg_issue_record **out, size_t *n) {
    sgs_q q;
    *out = NULL;
    *n = 0;
    sg_error *err = sgs_open(&q, s->reader, &ISSUE_LIST);
    return err ? err : sgs_list(&q, read_issue, sizeof **out, (void **)out, n);
}
