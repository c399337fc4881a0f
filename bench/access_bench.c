/* access_bench.c — the gateway's own cost per request, without HTTP or the
 * model: authenticate a Bearer key, reserve and refund rate-limit tokens,
 * append a durable hash-chained audit record. Reports p50/p99 per stage with
 * one client and the throughput of concurrent clients (group commit), and,
 * as the peer, a bare SQLite INSERT with the same durability (one fsynced
 * transaction per row, no hashing) on the same disk.
 *
 * usage: access_bench DIR [REQUESTS] [THREADS] */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "access/keys.h"
#include "access/ratelimit.h"
#include "base/init.h"
#include "base/log.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static void die(sg_error *err) {
    if (!err) return;
    fprintf(stderr, "access_bench: %s\n", sg_error_message(err));
    exit(1);
}

typedef struct {
    sg_store *store;
    sg_keys *keys;
    sg_ratelimit *rl;
    const char *header;
    int n;
    double *auth, *limit, *audit, *total; /* milliseconds, n each */
} client;

static void *run_client(void *arg) {
    client *c = arg;
    for (int i = 0; i < c->n; i++) {
        double t0 = sg_monotonic_s();
        sg_principal who;
        sg_auth_result res;
        die(sg_keys_authenticate(c->keys, c->header, sg_now_ms(), &who, &res));
        if (res != SG_AUTH_OK) die(sg_error_new("authentication failed: %s", sg_auth_result_message(res)));
        double t1 = sg_monotonic_s();
        sg_ratelimit_status st;
        if (sg_ratelimit_reserve(c->rl, who.key_id, 0, 0, 17, &st) != SG_RL_ADMITTED)
            die(sg_error_new("rate limited"));
        sg_ratelimit_refund(c->rl, who.key_id, 16);
        double t2 = sg_monotonic_s();
        sg_audit_record e = {.key_id = who.key_id,
                             .audience = who.audience,
                             .model = "sotu-small",
                             .stage = "internal",
                             .decision = "allowed",
                             .prompt_tokens = 16,
                             .completion_tokens = 1,
                             .latency_us = 900,
                             .text_mode = SG_AUDIT_TEXT_HASHED,
                             .prompt_text = "Mr. Speaker, Mr. Vice President, members of Congress",
                             .completion_text = " and"};
        die(sg_audit_append(c->store, &e, NULL));
        double t3 = sg_monotonic_s();
        c->auth[i] = (t1 - t0) * 1e3;
        c->limit[i] = (t2 - t1) * 1e3;
        c->audit[i] = (t3 - t2) * 1e3;
        c->total[i] = (t3 - t0) * 1e3;
    }
    return NULL;
}

static double bare_sqlite(const char *dir, int n, double *lat) {
    char path[512];
    snprintf(path, sizeof path, "%s/peer.db", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) die(sg_error_new("peer: %s", sqlite3_errmsg(db)));
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c BLOB)",
                 NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO t (a, b, c) VALUES (?, ?, randomblob(32))", -1, &st, NULL);
    double start = sg_monotonic_s();
    for (int i = 0; i < n; i++) {
        double t0 = sg_monotonic_s();
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_text(st, 2, "allowed", -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) die(sg_error_new("peer insert: %s", sqlite3_errmsg(db)));
        sqlite3_reset(st);
        lat[i] = (sg_monotonic_s() - t0) * 1e3;
    }
    double elapsed = sg_monotonic_s() - start;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return elapsed;
}

static void run(const char *dir, int threads, int per_client) {
    char db[512], keyfile[520];
    snprintf(db, sizeof db, "%s/bench-%d.db", dir, threads);
    snprintf(keyfile, sizeof keyfile, "%s.key", db);
    sg_store *store;
    sg_keys *keys;
    sg_ratelimit *rl;
    die(sg_store_open(db, &store));
    die(sg_keys_open(store, keyfile, &keys));
    die(sg_ratelimit_new(NULL, NULL, &rl));
    char secret[SG_KEY_SECRET_LEN + 1], header[80];
    int64_t id;
    sg_key_spec spec = {.name = "bench", .audience = "internal_devs"};
    die(sg_keys_create(keys, &spec, secret, &id));
    snprintf(header, sizeof header, "Bearer %s", secret);
    int n = threads * per_client;
    double *buf = malloc(sizeof(double) * (size_t)n * 4);
    client *cl = calloc((size_t)threads, sizeof *cl);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    double start = sg_monotonic_s();
    for (int t = 0; t < threads; t++) {
        cl[t] = (client){store,
                         keys,
                         rl,
                         header,
                         per_client,
                         buf + t * per_client,
                         buf + n + t * per_client,
                         buf + 2 * n + t * per_client,
                         buf + 3 * n + t * per_client};
        pthread_create(&th[t], NULL, run_client, &cl[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    double elapsed = sg_monotonic_s() - start;
    printf("%2d client%s %6d requests %8.0f req/s | ms p50/p99: auth %.3f/%.3f  ratelimit %.4f/%.4f  "
           "audit %.3f/%.3f  total %.3f/%.3f\n",
           threads, threads == 1 ? " " : "s", n, n / elapsed, pct(buf, n, .5), pct(buf, n, .99),
           pct(buf + n, n, .5), pct(buf + n, n, .99), pct(buf + 2 * n, n, .5), pct(buf + 2 * n, n, .99),
           pct(buf + 3 * n, n, .5), pct(buf + 3 * n, n, .99));
    sg_audit_report rep;
    die(sg_audit_verify(store, &rep));
    if (!rep.intact || rep.records != n) die(sg_error_new("audit log broken after the benchmark"));
    free(buf);
    free(cl);
    free(th);
    sg_ratelimit_free(rl);
    sg_keys_close(keys);
    sg_store_close(store);
}

int main(int argc, char **argv) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    if (argc < 2) {
        fprintf(stderr, "usage: access_bench DIR [REQUESTS] [THREADS]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 2000;
    int threads = argc > 3 ? atoi(argv[3]) : 8;
    if (n < 10 || threads < 1) return 2;
    run(argv[1], 1, n);
    run(argv[1], threads, n / threads);
    double *lat = malloc(sizeof(double) * (size_t)n);
    double el = bare_sqlite(argv[1], n, lat);
    printf("peer: bare SQLite INSERT, synchronous=FULL, 1 client: %.0f rows/s | ms p50/p99 %.3f/%.3f\n",
           n / el, pct(lat, n, .5), pct(lat, n, .99));
    free(lat);
    return 0;
}
