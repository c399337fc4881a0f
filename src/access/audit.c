/* audit.c — hash-chained audit records: sealing, verification, tail (audit.h). */
#include "access/audit.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/init.h"
#include "base/log.h"

bool sg_audit_decision_metered(const char *d) {
    if (!d || !*d) return false;
    return strspn(d, "0123456789") != strlen(d);
}

void sg_audit_text_digest(const char *text, char hex[2 * SG_HASH_BYTES + 1]) {
    unsigned char h[SG_HASH_BYTES];
    crypto_generichash(h, sizeof h, (const unsigned char *)text, strlen(text), NULL, 0);
    sodium_bin2hex(hex, 2 * SG_HASH_BYTES + 1, h, sizeof h);
}

/* ---- canonical form and hashing ------------------------------------------------ */

static void put(crypto_generichash_state *st, const char *s, size_t n) {
    crypto_generichash_update(st, (const unsigned char *)s, n);
}

static void put_str(crypto_generichash_state *st, const char *name, const char *value) {
    char head[64];
    int n = value ? snprintf(head, sizeof head, "%s=%zu:", name, strlen(value))
                  : snprintf(head, sizeof head, "%s=-", name);
    put(st, head, (size_t)n);
    if (value) put(st, value, strlen(value));
    put(st, "\n", 1);
}

static void put_int(crypto_generichash_state *st, const char *name, int64_t v) {
    char num[32], head[64];
    int len = snprintf(num, sizeof num, "%" PRId64, v);
    int n = snprintf(head, sizeof head, "%s=%d:%s\n", name, len, num);
    put(st, head, (size_t)n);
}

static void record_hash(const sg_audit_record *r, const unsigned char prev[SG_HASH_BYTES],
                        unsigned char out[SG_HASH_BYTES]) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, SG_HASH_BYTES);
    crypto_generichash_update(&st, prev, SG_HASH_BYTES);
    put(&st, "sg-audit-v1\n", 12);
    put_int(&st, "time_ms", r->time_ms);
    put_int(&st, "key_id", r->key_id);
    put_str(&st, "audience", r->audience);
    put_str(&st, "model", r->model);
    put_str(&st, "stage", r->stage);
    put_str(&st, "decision", r->decision);
    put_str(&st, "reason", r->reason);
    put_int(&st, "prompt_tokens", r->prompt_tokens);
    put_int(&st, "completion_tokens", r->completion_tokens);
    put_int(&st, "latency_us", r->latency_us);
    put_str(&st, "text_mode", sg_audit_text_mode_name(r->text_mode));
    put_str(&st, "prompt_digest", r->prompt_digest);
    put_str(&st, "completion_digest", r->completion_digest);
    crypto_generichash_final(&st, out, SG_HASH_BYTES);
}

static void seal(sg_audit_record *row, const unsigned char last[SG_HASH_BYTES], void *ctx) {
    (void)ctx;
    memcpy(row->prev_hash, last, SG_HASH_BYTES);
    record_hash(row, last, row->hash);
}

/* ---- append ---------------------------------------------------------------------- */

sg_error *sg_audit_append(sg_store *store, const sg_audit_record *e, int64_t *seq) {
    if (!e->decision || !*e->decision) return sg_error_new("audit record without a decision");
    SG_ASSERT_INIT();
    char pd[2 * SG_HASH_BYTES + 1], cd[2 * SG_HASH_BYTES + 1];
    /* The copy borrows the caller's strings; the store copies what it keeps. */
    sg_audit_record row = *e;
    row.seq = 0;
    row.time_ms = e->time_ms ? e->time_ms : sg_now_ms();
    if (!sg_audit_text_mode_name(row.text_mode)) row.text_mode = SG_AUDIT_TEXT_NONE;
    row.prompt_digest = row.completion_digest = NULL;
    if (row.text_mode != SG_AUDIT_TEXT_NONE) {
        if (e->prompt_text) {
            sg_audit_text_digest(e->prompt_text, pd);
            row.prompt_digest = pd;
        }
        if (e->completion_text) {
            sg_audit_text_digest(e->completion_text, cd);
            row.completion_digest = cd;
        }
    }
    if (row.text_mode != SG_AUDIT_TEXT_FULL) row.prompt_text = row.completion_text = NULL;
    bool metered = e->key_id > 0 && sg_audit_decision_metered(e->decision);
    sg_error *err = sg_store_audit_append(store, &row, metered, seal, NULL);
    if (err) return sg_error_wrap(err, "writing audit record");
    if (seq) *seq = row.seq;
    return NULL;
}

/* ---- verify ---------------------------------------------------------------------- */

typedef struct {
    sg_audit_report *rep;
    int64_t expected_seq;
    unsigned char expected_prev[SG_HASH_BYTES];
    int64_t anchor_seq; /* 0 = no anchor */
    unsigned char anchor_hash[SG_HASH_BYTES];
} verifier;

static int fail(verifier *v, int64_t seq, const char *fmt, ...) SG_PRINTF(3, 4);
static int fail(verifier *v, int64_t seq, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->rep->problem, sizeof v->rep->problem, fmt, ap);
    va_end(ap);
    v->rep->intact = false;
    v->rep->bad_seq = seq;
    return 1;
}

static bool text_matches(const char *text, const char *digest) {
    if (!text) return true;
    if (!digest) return false;
    char hex[2 * SG_HASH_BYTES + 1];
    sg_audit_text_digest(text, hex);
    return strcmp(hex, digest) == 0;
}

static int verify_row(const sg_audit_record *r, void *ctx) {
    verifier *v = ctx;
    v->rep->records++;
    if (r->seq != v->expected_seq) {
        if (r->seq == v->expected_seq + 1)
            return fail(v, v->expected_seq,
                        "record %" PRId64 " has been removed (the log jumps from %" PRId64 " to %" PRId64 ")",
                        v->expected_seq, v->expected_seq - 1, r->seq);
        return fail(v, v->expected_seq, "records %" PRId64 " to %" PRId64 " have been removed",
                    v->expected_seq, r->seq - 1);
    }
    unsigned char h[SG_HASH_BYTES];
    record_hash(r, r->prev_hash, h);
    if (sodium_memcmp(h, r->hash, SG_HASH_BYTES) != 0)
        return fail(v, r->seq, "record %" PRId64 " has been changed (its contents do not match its hash)",
                    r->seq);
    if (!text_matches(r->prompt_text, r->prompt_digest) ||
        !text_matches(r->completion_text, r->completion_digest))
        return fail(v, r->seq,
                    "record %" PRId64 " has been changed (a stored text does not match its digest)", r->seq);
    if (sodium_memcmp(r->prev_hash, v->expected_prev, SG_HASH_BYTES) != 0) {
        if (r->seq == 1)
            return fail(
                v, 1,
                "record 1 does not start the chain (records before it were removed and the rest renumbered)");
        return fail(v, r->seq,
                    "record %" PRId64 " does not follow record %" PRId64
                    " (records reordered, or removed and renumbered, or record %" PRId64 " rewritten)",
                    r->seq, r->seq - 1, r->seq - 1);
    }
    if (r->seq == v->anchor_seq && sodium_memcmp(r->hash, v->anchor_hash, SG_HASH_BYTES) != 0)
        return fail(v, r->seq,
                    "record %" PRId64 " is not the anchored record (the chain was rewritten at or before it)",
                    r->seq);
    memcpy(v->expected_prev, r->hash, SG_HASH_BYTES);
    v->expected_seq++;
    v->rep->head_seq = r->seq;
    sodium_bin2hex(v->rep->head_hash, sizeof v->rep->head_hash, r->hash, SG_HASH_BYTES);
    return 0;
}

sg_error *sg_audit_verify_anchored(sg_store *store, int64_t anchor_seq, const char *anchor_hash,
                                   sg_audit_report *rep) {
    SG_ASSERT_INIT();
    memset(rep, 0, sizeof *rep);
    rep->intact = true;
    verifier v = {.rep = rep, .expected_seq = 1, .anchor_seq = anchor_hash ? anchor_seq : 0};
    if (anchor_hash) {
        size_t len = 0;
        if (anchor_seq < 1 || strlen(anchor_hash) != 2 * SG_HASH_BYTES ||
            sodium_hex2bin(v.anchor_hash, SG_HASH_BYTES, anchor_hash, strlen(anchor_hash), NULL, &len,
                           NULL) != 0 ||
            len != SG_HASH_BYTES)
            return sg_error_new("anchor: expected a record number and a 64-digit hex hash");
    }
    sg_error *err = sg_store_audit_each(store, 1, verify_row, &v);
    if (err) return sg_error_wrap(err, "verifying the audit log");
    if (rep->intact && v.anchor_seq && rep->head_seq < v.anchor_seq) {
        rep->intact = false;
        rep->bad_seq = rep->head_seq + 1;
        if (rep->head_seq + 1 == v.anchor_seq)
            snprintf(rep->problem, sizeof rep->problem,
                     "record %" PRId64 " has been removed: the log ends before the anchor", v.anchor_seq);
        else
            snprintf(rep->problem, sizeof rep->problem,
                     "records %" PRId64 " to %" PRId64 " have been removed: the log ends before the anchor",
                     rep->head_seq + 1, v.anchor_seq);
    }
    return NULL;
}

sg_error *sg_audit_verify(sg_store *store, sg_audit_report *rep) {
    return sg_audit_verify_anchored(store, 0, NULL, rep);
}

sg_error *sg_audit_tail(sg_store *store, int64_t n, sg_audit_record_fn fn, void *ctx) {
    int64_t count, last;
    sg_error *err = sg_store_audit_count(store, &count, &last);
    if (err) return err;
    int64_t from = last - n + 1;
    return sg_store_audit_each(store, from < 1 ? 1 : from, fn, ctx);
}

sg_error *sg_audit_purge_text(sg_store *store, int64_t before_ms, int64_t *purged) {
    return sg_store_audit_purge_text(store, before_ms, purged);
}

sg_error *sg_audit_note(sg_store *store, int64_t time_ms, const char *decision, const char *stage,
                        const char *audience, const char *model, const char *reason) {
    sg_audit_record e = {.time_ms = time_ms,
                         .decision = decision,
                         .stage = stage,
                         .audience = audience,
                         .model = model,
                         .reason = reason,
                         .text_mode = SG_AUDIT_TEXT_NONE};
    sg_error *err = sg_audit_append(store, &e, NULL);
    return err ? sg_error_wrap(err, "recording '%s' in the audit log", decision) : NULL;
}
