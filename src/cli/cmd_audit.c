/* cmd_audit.c — `stagegate audit verify|tail|record|purge`: the audit log. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/audit.h"
#include "access/keys.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/opt_table.h"
#include "store/store_audit.h"

static const char usage_text[] =
    "usage: stagegate audit verify [--db PATH] [--anchor SEQ:HASH]\n"
    "       stagegate audit tail   [--db PATH] [-n N] [--json]\n"
    "       stagegate audit record [--db PATH] --decision D [--reason TEXT] [--count N] [--threads T]\n"
    "       stagegate audit purge  [--db PATH] --older-than DURATION\n"
    "\n"
    "verify  checks the hash chain from the first record; exits 0 when intact and\n"
    "        1 naming the first changed, removed or reordered record. Prints an\n"
    "        anchor SEQ:HASH for the last record: keep it elsewhere and pass it to\n"
    "        a later verify with --anchor to detect records cut off the end.\n"
    "tail    prints the last N records (default 20), as text or JSON lines.\n"
    "record  appends an operator event (e.g. --decision stage-change --reason ...),\n"
    "        N times (in each of T threads); prints \"seq S\" once each record is\n"
    "        durably committed.\n"
    "purge   drops stored prompt/completion texts older than DURATION (30d...);\n"
    "        their digests stay, so the chain still verifies.\n"
    "--db defaults to ./stagegate.db.\n";

typedef struct {
    const char *db, *decision, *reason, *count, *threads, *older_than, *n, *anchor;
    bool json;
} options;

static int usage_error(const char *fmt, const char *arg) {
    return sg_opt_usage_error("audit", usage_text, fmt, arg);
}

static int parse(int argc, char **argv, options *o) {
    static const sg_opt_spec opts[] = {
        {"--db", offsetof(options, db), false},
        {"--decision", offsetof(options, decision), false},
        {"--reason", offsetof(options, reason), false},
        {"--count", offsetof(options, count), false},
        {"--older-than", offsetof(options, older_than), false},
        {"-n", offsetof(options, n), false},
        {"--threads", offsetof(options, threads), false},
        {"--anchor", offsetof(options, anchor), false},
        {"--json", offsetof(options, json), true},
    };
    int rc = sg_opt_parse("audit", usage_text, argc, argv, 2, opts, sizeof opts / sizeof opts[0], o, NULL);
    if (!rc && !o->db) o->db = "./stagegate.db";
    return rc;
}

static int positive(const char *flag, const char *text, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v <= 0) {
        fprintf(stderr, "stagegate audit: %s '%s': expected a positive integer\n", flag, text);
        return 2;
    }
    *out = v;
    return 0;
}

static int cmd_verify(options *o) {
    int64_t anchor_seq = 0;
    const char *anchor_hash = NULL;
    if (o->anchor) {
        char *end;
        errno = 0;
        anchor_seq = strtoll(o->anchor, &end, 10);
        if (end == o->anchor || *end != ':' || errno || anchor_seq < 1)
            return usage_error("--anchor '%s': expected SEQ:HASH as printed by verify", o->anchor);
        anchor_hash = end + 1;
    }
    sg_store *store;
    sg_error *err = sg_store_open(o->db, &store);
    if (err) return sg_cli_fail("audit", err);
    sg_audit_report rep;
    err = sg_audit_verify_anchored(store, anchor_seq, anchor_hash, &rep);
    sg_store_close(store);
    if (err) return sg_cli_fail("audit", err);
    if (!rep.intact) {
        fprintf(stderr, "stagegate audit: audit log damaged at record %" PRId64 ": %s\n", rep.bad_seq,
                rep.problem);
        if (rep.head_seq)
            fprintf(stderr, "stagegate audit: records 1 to %" PRId64 " are intact\n", rep.head_seq);
        return 1;
    }
    if (rep.records == 0)
        printf("audit log intact: 0 records\n");
    else
        printf("audit log intact: %" PRId64 " records; anchor %" PRId64 ":%s\n", rep.records, rep.head_seq,
               rep.head_hash);
    return 0;
}

static void iso_time(int64_t ms, char *buf, size_t cap) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static int print_row(const sg_audit_record *r, void *ctx) {
    bool json = *(bool *)ctx;
    char when[40], hash[2 * SG_HASH_BYTES + 1];
    iso_time(r->time_ms, when, sizeof when);
    for (int i = 0; i < SG_HASH_BYTES; i++) snprintf(hash + 2 * i, 3, "%02x", r->hash[i]);
    if (json) {
        json_t *o = json_pack(
            "{s:I, s:s, s:I, s:s?, s:s?, s:s?, s:s, s:s?, s:I, s:I, s:I, s:s, s:s?, s:s?, s:s?, s:s?, s:s}",
            "seq", (json_int_t)r->seq, "time", when, "key_id", (json_int_t)r->key_id, "audience", r->audience,
            "model", r->model, "stage", r->stage, "decision", or_dash(r->decision), "reason", r->reason,
            "prompt_tokens", (json_int_t)r->prompt_tokens, "completion_tokens",
            (json_int_t)r->completion_tokens, "latency_us", (json_int_t)r->latency_us, "text_mode",
            or_dash(sg_audit_text_mode_name(r->text_mode)), "prompt_digest", r->prompt_digest,
            "completion_digest", r->completion_digest, "prompt", r->prompt_text, "completion",
            r->completion_text, "hash", hash);
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (line) puts(line);
        free(line);
        json_decref(o);
    } else {
        printf("%6" PRId64 " %s key=%" PRId64 " %s %s %s %-9s tokens=%" PRId64 "/%" PRId64
               " latency=%.3fms %s\n",
               r->seq, when, r->key_id, or_dash(r->audience), or_dash(r->model), or_dash(r->stage),
               or_dash(r->decision), r->prompt_tokens, r->completion_tokens, (double)r->latency_us / 1000.0,
               or_dash(r->reason));
    }
    return 0;
}

static int cmd_tail(options *o) {
    int64_t n = 20;
    int rc;
    if (o->n && (rc = positive("-n", o->n, &n))) return rc;
    sg_store *store;
    sg_error *err = sg_store_open(o->db, &store);
    if (err) return sg_cli_fail("audit", err);
    err = sg_audit_tail(store, n, print_row, &o->json);
    sg_store_close(store);
    if (err) return sg_cli_fail("audit", err);
    return 0;
}

typedef struct {
    sg_store *store;
    const options *o;
    int64_t count;
    pthread_mutex_t *out_lock;
    sg_error *err;
} recorder;

static void *record_loop(void *arg) {
    recorder *r = arg;
    for (int64_t i = 0; i < r->count && !r->err; i++) {
        sg_audit_record e = {.decision = r->o->decision, .reason = r->o->reason, .stage = "operator"};
        int64_t seq;
        r->err = sg_audit_append(r->store, &e, &seq);
        if (r->err) break;
        /* Acknowledged only after the durable commit. */
        pthread_mutex_lock(r->out_lock);
        printf("seq %" PRId64 "\n", seq);
        fflush(stdout);
        pthread_mutex_unlock(r->out_lock);
    }
    return NULL;
}

static int cmd_record(options *o) {
    if (!o->decision) return usage_error("%s", "record needs --decision");
    int64_t count = 1, threads = 1;
    int rc;
    if (o->count && (rc = positive("--count", o->count, &count))) return rc;
    if (o->threads && (rc = positive("--threads", o->threads, &threads))) return rc;
    if (threads > 64) return usage_error("%s", "--threads: at most 64");
    sg_store *store;
    sg_error *err = sg_store_open(o->db, &store);
    if (err) return sg_cli_fail("audit", err);
    pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
    recorder rec[64];
    pthread_t th[64];
    int64_t started = 0;
    for (; started < threads; started++) {
        rec[started] = (recorder){.store = store, .o = o, .count = count, .out_lock = &out_lock};
        if (pthread_create(&th[started], NULL, record_loop, &rec[started]) != 0) {
            err = sg_error_new("cannot start a thread");
            break;
        }
    }
    for (int64_t t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        if (rec[t].err && !err)
            err = rec[t].err;
        else
            sg_error_free(rec[t].err);
    }
    sg_store_close(store);
    if (err) return sg_cli_fail("audit", err);
    return 0;
}

static int cmd_purge(options *o) {
    if (!o->older_than) return usage_error("%s", "purge needs --older-than");
    int64_t ms;
    sg_error *err = sg_parse_duration_ms(o->older_than, &ms);
    if (err) {
        fprintf(stderr, "stagegate audit: --older-than: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 2;
    }
    sg_store *store;
    if ((err = sg_store_open(o->db, &store))) return sg_cli_fail("audit", err);
    int64_t purged = 0;
    err = sg_audit_purge_text(store, sg_now_ms() - ms, &purged);
    sg_store_close(store);
    if (err) return sg_cli_fail("audit", err);
    printf("dropped the texts of %" PRId64 " records\n", purged);
    return 0;
}

int sg_cmd_audit(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        }
    options o = {0};
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    const char *verb = argv[1];
    if (!strcmp(verb, "verify")) return cmd_verify(&o);
    if (!strcmp(verb, "tail")) return cmd_tail(&o);
    if (!strcmp(verb, "record")) return cmd_record(&o);
    if (!strcmp(verb, "purge")) return cmd_purge(&o);
    return usage_error("unknown verb '%s'", verb);
}
