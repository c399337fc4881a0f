/* cmd_audit.c — `stagegate audit verify|tail|record|purge`: the audit log. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
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
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "store/store_audit.h"

typedef struct {
    const char *db, *decision, *reason, *older_than, *anchor;
    long count, threads, n;
    int json;
} options;

#define OPT_DB                                                                                               \
    {                                                                                                        \
        "db", 0, SG_CLI_STRING, offsetof(options, db), .arg = "PATH", .help = "the store",                   \
                                                       .def = "./stagegate.db"                               \
    }
static const sg_cli_opt verify_table[] = {
    OPT_DB,
    {"anchor", 0, SG_CLI_STRING, offsetof(options, anchor), .arg = "SEQ:HASH",
     .help = "an anchor a verify printed before: detects records cut off the end"},
    {0},
};
static const sg_cli_opt tail_table[] = {
    OPT_DB,
    {"lines", 'n', SG_CLI_LONG, offsetof(options, n), .arg = "N", .help = "how many records", .min = 1,
     .max = INFINITY},
    {"json", 0, SG_CLI_FLAG, offsetof(options, json), .arg = NULL, .help = "JSON lines instead of text"},
    {0},
};
static const sg_cli_opt record_table[] = {
    OPT_DB,
    {"decision", 0, SG_CLI_STRING, offsetof(options, decision), .arg = "D",
     .help = "the event, e.g. stage-change", .required = 1},
    {"reason", 0, SG_CLI_STRING, offsetof(options, reason), .arg = "TEXT", .help = "what happened"},
    {"count", 0, SG_CLI_LONG, offsetof(options, count), .arg = "N", .help = "records per thread", .min = 1,
     .max = INFINITY},
    {"threads", 0, SG_CLI_LONG, offsetof(options, threads), .arg = "T", .help = "threads appending at once",
     .min = 1, .max = 64},
    {0},
};
static const sg_cli_opt purge_table[] = {
    OPT_DB,
    {"older-than", 0, SG_CLI_STRING, offsetof(options, older_than), .arg = "DURATION",
     .help = "age of the texts to drop (30d...)", .required = 1},
    {0},
};
#undef OPT_DB
static const sg_cli_cmd verify_cmd = {
    .name = "audit verify",
    .summary = "check the hash chain from the first record (exit 1 names the first bad record)",
    .opts = verify_table,
    .description =
        "Exits 0 when the chain is intact and 1 naming the first changed, removed or reordered\n"
        "record. Prints an anchor SEQ:HASH for the last record: keep it elsewhere and pass it to a\n"
        "later verify with --anchor to detect records cut off the end.\n",
};
static const sg_cli_cmd tail_cmd = {
    .name = "audit tail",
    .summary = "print the last N records, as text or JSON lines",
    .opts = tail_table,
};
static const sg_cli_cmd record_cmd = {
    .name = "audit record",
    .summary = "append an operator event N times (in each of T threads)",
    .opts = record_table,
    .description = "Prints \"seq S\" once each record is durably committed.\n",
};
static const sg_cli_cmd purge_cmd = {
    .name = "audit purge",
    .summary = "drop stored prompt/completion texts older than DURATION (their digests stay)",
    .opts = purge_table,
    .description = "The digests stay, so the chain still verifies.\n",
};

static int usage_error(const char *fmt, const char *arg) { return sg_cli_usage("audit", fmt, arg); }

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
    int json = *(const int *)ctx;
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
    int64_t n = o->n;
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
    int64_t count = o->count, threads = o->threads;
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

#define RUN(verb)                                                                                            \
    static int run_##verb(int argc, char **argv) {                                                           \
        options o = {.db = "./stagegate.db", .n = 20, .count = 1, .threads = 1};                             \
        int rc = sg_cli_parse(&verb##_cmd, argc, argv, &o, NULL);                                            \
        return rc >= 0 ? rc : cmd_##verb(&o);                                                                \
    }
RUN(verify)
RUN(tail)
RUN(record)
RUN(purge)
#undef RUN

int sg_cmd_audit(int argc, char **argv) {
    static const sg_cli_sub subs[] = {
        {"verify", run_verify, &verify_cmd, NULL},
        {"tail", run_tail, &tail_cmd, NULL},
        {"record", run_record, &record_cmd, NULL},
        {"purge", run_purge, &purge_cmd, NULL},
        {0},
    };
    return sg_cli_dispatch("audit", "The hash-chained audit log: verify, read, append, purge texts.", subs,
                           argc, argv);
}
