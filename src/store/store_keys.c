/* store_keys.c — API keys and per-key daily usage (store_keys.h). */
#include "store/store_keys.h"

#include <string.h>
#include <time.h>

#include "store/store_int.h"

#define KEY_COLUMNS "id, name, audience, hint, hash, rpm, tpm, created_ms, expires_ms, revoked_ms"

static const sgs_query KEY_INSERT = {"INSERT INTO keys (name, audience, hint, hash, rpm, tpm, created_ms, "
                                     "expires_ms, revoked_ms) VALUES (?,?,?,?,?,?,?,?,?)",
                                     "inserting key"};
static const sgs_query KEY_GET = {"SELECT " KEY_COLUMNS " FROM keys WHERE id = ?", "looking up key"};
static const sgs_query KEY_BY_HASH = {"SELECT " KEY_COLUMNS " FROM keys WHERE hash = ?", "looking up key"};
static const sgs_query KEY_LIST = {"SELECT " KEY_COLUMNS " FROM keys ORDER BY id", "listing keys"};
static const sgs_query KEY_REVOKE = {"UPDATE keys SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0",
                                     "revoking key"};
static const sgs_query USAGE_ADD = {"INSERT INTO usage (key_id, day, requests, prompt_tokens, "
                                    "completion_tokens) VALUES (?1, ?2, 1, ?3, ?4) "
                                    "ON CONFLICT (key_id, day) DO UPDATE SET requests = requests + 1, "
                                    "prompt_tokens = prompt_tokens + ?3, "
                                    "completion_tokens = completion_tokens + ?4",
                                    "recording usage"};
static const sgs_query USAGE_TOTAL = {"SELECT coalesce(sum(requests),0), coalesce(sum(prompt_tokens),0), "
                                      "coalesce(sum(completion_tokens),0) FROM usage WHERE key_id = ?",
                                      "reading usage"};
static const sgs_query USAGE_DAYS = {"SELECT day, requests, prompt_tokens, completion_tokens FROM usage "
                                     "WHERE key_id = ? ORDER BY day DESC",
                                     "reading usage"};

/* ---- keys -------------------------------------------------------------------------- */

static void read_key(const sgs_q *q, void *rec) {
    sg_key_record *k = rec;
    memset(k, 0, sizeof *k);
    k->id = sgs_col_int(q, 0);
    sgs_col_text(q, 1, k->name, sizeof k->name);
    sgs_col_text(q, 2, k->audience, sizeof k->audience);
    sgs_col_text(q, 3, k->hint, sizeof k->hint);
    sgs_col_blob(q, 4, k->hash, sizeof k->hash);
    k->rpm = sgs_col_int(q, 5);
    k->tpm = sgs_col_int(q, 6);
    k->created_ms = sgs_col_int(q, 7);
    k->expires_ms = sgs_col_int(q, 8);
    k->revoked_ms = sgs_col_int(q, 9);
}

sg_error *sg_store_key_insert(sg_store *s, const sg_key_record *k, int64_t *id) {
    sgs_q q;
    sg_error *err = sgs_open(&q, &s->writer, &KEY_INSERT);
    if (err) return err;
    sgs_text(&q, k->name);
    sgs_text(&q, k->audience);
    sgs_text(&q, k->hint);
    sgs_blob(&q, k->hash, SG_HASH_BYTES);
    sgs_int(&q, k->rpm);
    sgs_int(&q, k->tpm);
    sgs_int(&q, k->created_ms);
    sgs_int(&q, k->expires_ms);
    sgs_int(&q, k->revoked_ms);
    sgs_result res;
    if ((err = sgs_run(&q, &res))) return err;
    *id = res.id;
    return NULL;
}

sg_error *sg_store_key_get(sg_store *s, int64_t id, sg_key_record *out, bool *found) {
    sgs_q q;
    *found = false;
    sg_error *err = sgs_open(&q, s->reader, &KEY_GET);
    if (err) return err;
    sgs_int(&q, id);
    return sgs_one(&q, read_key, out, found);
}

sg_error *sg_store_key_by_hash(sg_store *s, const unsigned char hash[SG_HASH_BYTES], sg_key_record *out,
                               bool *found) {
    sgs_q q;
    *found = false;
    sg_error *err = sgs_open(&q, s->reader, &KEY_BY_HASH);
    if (err) return err;
    sgs_blob(&q, hash, SG_HASH_BYTES);
    return sgs_one(&q, read_key, out, found);
}

sg_error *sg_store_key_list(sg_store *s, sg_key_record **out, size_t *n) {
    sgs_q q;
    *out = NULL;
    *n = 0;
    sg_error *err = sgs_open(&q, s->reader, &KEY_LIST);
    return err ? err : sgs_list(&q, read_key, sizeof **out, (void **)out, n);
}

sg_error *sg_store_key_revoke(sg_store *s, int64_t id, int64_t now_ms, bool *changed) {
    sgs_q q;
    *changed = false;
    sg_error *err = sgs_open(&q, &s->writer, &KEY_REVOKE);
    if (err) return err;
    sgs_int(&q, now_ms > 0 ? now_ms : 1);
    sgs_int(&q, id);
    sgs_result res;
    if ((err = sgs_run(&q, &res))) return err;
    *changed = res.changes > 0;
    return NULL;
}

/* ---- usage ------------------------------------------------------------------------- */

static void utc_day(int64_t time_ms, char day[11]) {
    time_t t = (time_t)(time_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, 11, "%Y-%m-%d", &tm);
}

sg_error *sgs_usage_add_in(sgs_conn *c, int64_t key_id, int64_t time_ms, int64_t prompt, int64_t completion) {
    char day[11];
    utc_day(time_ms, day);
    sgs_q q;
    sg_error *err = sgs_open_in(&q, c, &USAGE_ADD);
    if (err) return err;
    sgs_int(&q, key_id);
    sgs_text(&q, day);
    sgs_int(&q, prompt);
    sgs_int(&q, completion);
    return sgs_run(&q, NULL);
}

sg_error *sg_store_usage_add(sg_store *s, int64_t key_id, int64_t time_ms, int64_t prompt,
                             int64_t completion) {
    sgs_conn_lock(&s->writer);
    sg_error *err = sgs_usage_add_in(&s->writer, key_id, time_ms, prompt, completion);
    sgs_conn_unlock(&s->writer);
    return err;
}

static void read_total(const sgs_q *q, void *rec) {
    sg_usage *u = rec;
    u->requests = sgs_col_int(q, 0);
    u->prompt_tokens = sgs_col_int(q, 1);
    u->completion_tokens = sgs_col_int(q, 2);
}

static void read_day(const sgs_q *q, void *rec) {
    sg_usage *u = rec;
    sgs_col_text(q, 0, u->day, sizeof u->day);
    u->requests = sgs_col_int(q, 1);
    u->prompt_tokens = sgs_col_int(q, 2);
    u->completion_tokens = sgs_col_int(q, 3);
}

sg_error *sg_store_usage_get(sg_store *s, int64_t key_id, sg_usage *total, sg_usage **days, size_t *n_days) {
    memset(total, 0, sizeof *total);
    if (days) *days = NULL;
    if (n_days) *n_days = 0;
    sgs_q q;
    sg_error *err = sgs_open(&q, s->reader, &USAGE_TOTAL);
    if (err) return err;
    sgs_int(&q, key_id);
    if ((err = sgs_one(&q, read_total, total, NULL))) return err;
    if (!days) return NULL;
    if ((err = sgs_open(&q, s->reader, &USAGE_DAYS))) return err;
    sgs_int(&q, key_id);
    return sgs_list(&q, read_day, sizeof **days, (void **)days, n_days);
}
