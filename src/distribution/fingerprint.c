/* fingerprint.c — keyed weight perturbations and their detection; see
 * fingerprint.h. */
#include "distribution/fingerprint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "access/keys.h"
#include "base/fileio.h"
#include "distribution/keyfiles.h"
#include "store/store_distribution.h"

#define BLOCK 65536 /* elements per keystream block; a multiple of 64 */

sg_error *sg_fp_key(const char *db_path, sg_store *store, unsigned char key[SG_FP_KEY_BYTES]) {
    return sg_keys_derive_for_db(store, db_path, "stagegate weight fingerprint key v1", key, SG_FP_KEY_BYTES);
}

void sg_fp_seed(const unsigned char fp_key[SG_FP_KEY_BYTES], int64_t licensee_id,
                const unsigned char nonce[SG_ISSUE_NONCE_BYTES], unsigned char seed[SG_FP_SEED_BYTES]) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, fp_key, SG_FP_KEY_BYTES, SG_FP_SEED_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)"sg-fingerprint-v1", 17);
    unsigned char id[8];
    for (int i = 0; i < 8; i++) id[i] = (unsigned char)((uint64_t)licensee_id >> (8 * i));
    crypto_generichash_update(&st, id, 8);
    crypto_generichash_update(&st, nonce, SG_ISSUE_NONCE_BYTES);
    crypto_generichash_final(&st, seed, SG_FP_SEED_BYTES);
}

int sg_fp_tensor_marked(const sg_st_tensor *t) { return t->supported && t->ndim == 2 && t->numel >= 64; }

static const char *canonical(const char *name) {
    return strncmp(name, "transformer.", 12) ? name : name + 12;
}

static void tensor_key(const unsigned char seed[SG_FP_SEED_BYTES], const char *name,
                       unsigned char key[crypto_stream_chacha20_KEYBYTES]) {
    const char *c = canonical(name);
    crypto_generichash(key, crypto_stream_chacha20_KEYBYTES, (const unsigned char *)c, strlen(c), seed,
                       SG_FP_SEED_BYTES);
}

/* Keystream bytes [start, start+n) of `key`; start is a multiple of 64. */
static void keystream(const unsigned char key[32], size_t start, unsigned char *out, size_t n) {
    static const unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
    memset(out, 0, n);
    crypto_stream_chacha20_xor_ic(out, out, n, nonce, start / 64, key);
}

static float get_f32(sg_dtype d, const unsigned char *p) {
    float v;
    sg_convert_to_f32(d, p, &v, 1);
    return v;
}

static void put_f32(sg_dtype d, unsigned char *p, float v) {
    if (d == SG_DTYPE_F32) {
        memcpy(p, &v, 4);
    } else {
        uint16_t h = d == SG_DTYPE_F16 ? sg_f32_to_f16(v) : sg_f32_to_bf16(v);
        p[0] = (unsigned char)h; /* little-endian, as safetensors stores */
        p[1] = (unsigned char)(h >> 8);
    }
}

static void drop_pages(const unsigned char *base, size_t from, size_t to);

/* RMS of a tensor; `drop` releases the pages read as it goes. */
static double tensor_rms(const sg_st_tensor *t, int drop) {
    size_t es = sg_dtype_size(t->dtype);
    float buf[1024];
    double ss = 0;
    for (size_t i = 0; i < t->numel; i += 1024) {
        size_t n = t->numel - i < 1024 ? t->numel - i : 1024;
        sg_convert_to_f32(t->dtype, t->data + i * es, buf, n);
        for (size_t j = 0; j < n; j++) ss += (double)buf[j] * buf[j];
        if (drop && (i / 1024) % 256 == 255) drop_pages(t->data, i * es - 255 * 1024 * es, (i + n) * es);
    }
    double rms = sqrt(ss / (double)t->numel);
    return rms > 0 ? rms : 1e-3; /* an all-zero matrix still carries a mark */
}

/* ---- the streaming reader ---------------------------------------------------- */

/* Drops the whole pages of [from, to) of a read-only file mapping from this
 * process's memory once read: they stay in the page cache, but the process
 * never holds more than a chunk of the model. */
static void drop_pages(const unsigned char *base, size_t from, size_t to) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)base + from + page - 1) / page * page, b = ((uintptr_t)base + to) / page * page;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

typedef struct {
    const sg_st_tensor *t;
    size_t begin; /* absolute file offset */
    int marked;
    double rms;
    unsigned char key[32];
} span;

struct sg_fp_reader {
    sg_safetensors *st;
    span *spans; /* tensors by file offset */
    int n_spans;
    double epsilon;
    size_t pos, size;
    unsigned char *ks; /* keystream buffer, BLOCK bytes */
};

static int by_begin(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

sg_error *sg_fp_reader_open(const char *path, const unsigned char seed[SG_FP_SEED_BYTES], double epsilon,
                            sg_fp_reader **out) {
    *out = NULL;
    sg_fp_reader *r = calloc(1, sizeof *r);
    if (!r) return sg_error_new("out of memory");
    sg_error *err = sg_safetensors_open(path, &r->st);
    if (err) {
        free(r);
        return err;
    }
    r->epsilon = epsilon;
    r->size = r->st->map.size;
    r->spans = calloc((size_t)r->st->n_tensors + 1, sizeof *r->spans);
    r->ks = malloc(BLOCK);
    if (!r->spans || !r->ks) {
        sg_fp_reader_close(r);
        return sg_error_new("out of memory");
    }
    size_t data_start = (size_t)(r->st->data_region - r->st->map.data);
    for (int i = 0; i < r->st->n_tensors; i++) {
        const sg_st_tensor *t = &r->st->tensors[i];
        span *s = &r->spans[r->n_spans++];
        s->t = t;
        s->begin = data_start + t->begin;
        s->marked = sg_fp_tensor_marked(t);
        if (s->marked) {
            s->rms = tensor_rms(t, 1);
            drop_pages(r->st->map.data, s->begin, s->begin + t->nbytes);
            tensor_key(seed, t->name, s->key);
        }
    }
    qsort(r->spans, (size_t)r->n_spans, sizeof *r->spans, by_begin);
    *out = r;
    return NULL;
}

uint64_t sg_fp_reader_size(const sg_fp_reader *r) { return r->size; }

sg_error *sg_fp_reader_read(sg_fp_reader *r, unsigned char *buf, size_t cap, size_t *got) {
    *got = 0;
    if (cap < 4096) return sg_error_new("fingerprint reader: buffer too small");
    if (r->pos >= r->size) return NULL;
    const unsigned char *base = r->st->map.data;
    /* Which span holds pos? (spans are few: a linear scan is fine) */
    const span *in = NULL;
    size_t next = r->size;
    for (int i = 0; i < r->n_spans; i++) {
        const span *s = &r->spans[i];
        size_t end = s->begin + s->t->nbytes;
        if (r->pos >= s->begin && r->pos < end) {
            in = s;
            break;
        }
        if (s->begin > r->pos && s->begin < next) next = s->begin;
    }
    if (!in || !in->marked) { /* header, gaps and unmarked tensors: raw bytes */
        size_t end = in ? in->begin + in->t->nbytes : next;
        size_t n = end - r->pos < cap ? end - r->pos : cap;
        memcpy(buf, base + r->pos, n);
        drop_pages(base, r->pos, r->pos + n);
        r->pos += n;
        *got = n;
        return NULL;
    }
    const sg_st_tensor *t = in->t;
    size_t es = sg_dtype_size(t->dtype);
    size_t first = (r->pos - in->begin) / es; /* a multiple of BLOCK (or 0) */
    size_t n = t->numel - first;
    size_t max = cap / es / BLOCK * BLOCK;
    if (max == 0) max = BLOCK < cap / es ? BLOCK : cap / es / 64 * 64;
    if (n > max) n = max;
    if (n > BLOCK && first % BLOCK == 0) { /* keep chunks BLOCK-aligned */
        n = n / BLOCK * BLOCK;
    }
    memcpy(buf, t->data + first * es, n * es);
    float step = (float)(r->epsilon * in->rms);
    for (size_t b = 0; b < n; b += BLOCK) {
        size_t m = n - b < BLOCK ? n - b : BLOCK;
        keystream(in->key, first + b, r->ks, m);
        for (size_t j = 0; j < m; j++) {
            unsigned char k = r->ks[j];
            if (k & 3) continue;
            unsigned char *p = buf + (b + j) * es;
            float v = get_f32(t->dtype, p);
            put_f32(t->dtype, p, (k & 4) ? v + step : v - step);
        }
    }
    drop_pages(base, r->pos, r->pos + n * es);
    r->pos += n * es;
    *got = n * es;
    return NULL;
}

void sg_fp_reader_close(sg_fp_reader *r) {
    if (!r) return;
    if (r->spans)
        for (int i = 0; i < r->n_spans; i++) sodium_memzero(r->spans[i].key, 32);
    sg_safetensors_close(r->st);
    free(r->spans);
    free(r->ks);
    free(r);
}

/* ---- scoring ------------------------------------------------------------------- */

static const sg_st_tensor *find_canonical(const sg_safetensors *st, const char *name) {
    const char *c = canonical(name);
    for (int i = 0; i < st->n_tensors; i++)
        if (!strcmp(canonical(st->tensors[i].name), c)) return &st->tensors[i];
    return NULL;
}

sg_error *sg_fp_score(const sg_safetensors *orig, const sg_safetensors *sus,
                      const unsigned char (*seeds)[SG_FP_SEED_BYTES], int n, double *z, int *comparable,
                      char *why, size_t why_cap) {
    *comparable = 0;
    for (int i = 0; i < n; i++) z[i] = 0;
    /* Same matrices, same shapes? */
    for (int k = 0; k < orig->n_tensors; k++) {
        const sg_st_tensor *t = &orig->tensors[k];
        if (!sg_fp_tensor_marked(t)) continue;
        const sg_st_tensor *s = find_canonical(sus, t->name);
        if (!s || !s->supported || s->ndim != t->ndim || memcmp(s->shape, t->shape, sizeof t->shape[0] * 2)) {
            snprintf(why, why_cap, "the suspect's tensor %s %s the original's", canonical(t->name),
                     s ? "has another shape than" : "is missing from");
            return NULL;
        }
    }
    double *num = calloc((size_t)n, sizeof *num), *den = calloc((size_t)n, sizeof *den);
    float *a = malloc(BLOCK * sizeof *a), *b = malloc(BLOCK * sizeof *b);
    unsigned char(*keys)[32] = malloc((size_t)(n ? n : 1) * 32);
    if (!num || !den || !a || !b || !keys) {
        free(num), free(den), free(a), free(b), free(keys);
        return sg_error_new("out of memory");
    }
    for (int k = 0; k < orig->n_tensors; k++) {
        const sg_st_tensor *t = &orig->tensors[k];
        if (!sg_fp_tensor_marked(t)) continue;
        const sg_st_tensor *s = find_canonical(sus, t->name);
        double inv = 1.0 / tensor_rms(t, 0);
        for (int i = 0; i < n; i++) tensor_key(seeds[i], t->name, keys[i]);
        size_t eo = sg_dtype_size(t->dtype), es = sg_dtype_size(s->dtype);
        for (size_t first = 0; first < t->numel; first += BLOCK) {
            size_t m = t->numel - first < BLOCK ? t->numel - first : BLOCK;
            sg_convert_to_f32(t->dtype, t->data + first * eo, a, m);
            sg_convert_to_f32(s->dtype, s->data + first * es, b, m);
            for (size_t j = 0; j < m; j++) b[j] = (float)((b[j] - a[j]) * inv);
#pragma omp parallel
            {
                unsigned char *ks = malloc(BLOCK);
#pragma omp for schedule(static)
                for (int i = 0; i < n; i++) {
                    if (!ks) continue;
                    keystream(keys[i], first, ks, m);
                    double nu = 0, de = 0;
                    for (size_t j = 0; j < m; j++) {
                        if (ks[j] & 3) continue;
                        double d = b[j];
                        nu += (ks[j] & 4) ? d : -d;
                        de += d * d;
                    }
                    num[i] += nu;
                    den[i] += de;
                }
                free(ks);
            }
        }
    }
    for (int i = 0; i < n; i++) z[i] = den[i] > 0 ? num[i] / sqrt(den[i]) : 0;
    sodium_memzero(keys, (size_t)(n ? n : 1) * 32);
    free(num), free(den), free(a), free(b), free(keys);
    *comparable = 1;
    return NULL;
}

double sg_fp_confidence(double z, int n_issues) {
    if (!(z >= SG_FP_THRESHOLD)) return 0;
    double p = 0.5 * erfc(z / sqrt(2.0)) * (n_issues > 0 ? n_issues : 1);
    double c = 1 - p;
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

/* Streams a file through one of the two hashes. */
static sg_error *digest_file(const char *path, int blake2b, char hex[65]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sg_error_new("%s: %s", path, strerror(errno));
    crypto_hash_sha256_state sha;
    crypto_generichash_state b2;
    if (blake2b)
        crypto_generichash_init(&b2, NULL, 0, 32);
    else
        crypto_hash_sha256_init(&sha);
    unsigned char *buf = malloc(1 << 20);
    sg_error *err = buf ? NULL : sg_error_new("out of memory");
    ssize_t n;
    while (!err && (n = read(fd, buf, 1 << 20)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            err = sg_error_new("reading %s: %s", path, strerror(errno));
            break;
        }
        if (blake2b)
            crypto_generichash_update(&b2, buf, (unsigned long long)n);
        else
            crypto_hash_sha256_update(&sha, buf, (unsigned long long)n);
    }
    close(fd);
    free(buf);
    unsigned char d[32];
    if (blake2b)
        crypto_generichash_final(&b2, d, 32);
    else
        crypto_hash_sha256_final(&sha, d);
    if (!err) sodium_bin2hex(hex, 65, d, 32);
    return err;
}

sg_error *sg_sha256_file(const char *path, char hex[65]) { return digest_file(path, 0, hex); }
sg_error *sg_blake2b_file(const char *path, char hex[65]) { return digest_file(path, 1, hex); }

static int by_z(const void *a, const void *b) {
    const sg_trace_score *x = a, *y = b;
    return x->z < y->z ? 1 : x->z > y->z ? -1 : (x->issue_id > y->issue_id) - (x->issue_id < y->issue_id);
}

sg_error *sg_fp_trace(sg_store *store, const char *db_path, const char *suspect_dir, sg_trace_result *out) {
    memset(out, 0, sizeof *out);
    out->threshold = SG_FP_THRESHOLD;
    sg_issue_record *issues = NULL;
    size_t n = 0;
    sg_error *err = sg_store_issue_list(store, &issues, &n);
    if (err) return err;
    unsigned char key[32];
    unsigned char(*seeds)[SG_FP_SEED_BYTES] = NULL;
    double *z = NULL;
    char *sus_path = sg_path_join(suspect_dir, "model.safetensors");
    sg_safetensors *sus = NULL;
    out->rows = calloc(n ? n : 1, sizeof *out->rows);
    int *done = calloc(n ? n : 1, sizeof *done);
    seeds = malloc((n ? n : 1) * sizeof *seeds);
    z = calloc(n ? n : 1, sizeof *z);
    if (!sus_path || !out->rows || !done || !seeds || !z) err = sg_error_new("out of memory");
    if (!err) err = sg_safetensors_open(sus_path, &sus);
    if (!err) err = sg_fp_key(db_path, store, key);
    if (!err) snprintf(out->note, sizeof out->note, "%s", n ? "" : "no bundle has been issued");
    /* One pass per distinct original. */
    for (size_t g = 0; !err && g < n; g++) {
        if (done[g]) continue;
        int m = 0;
        size_t idx[n];
        for (size_t i = g; i < n; i++)
            if (!done[i] && !strcmp(issues[i].original_path, issues[g].original_path) &&
                !strcmp(issues[i].original_blake2b, issues[g].original_blake2b)) {
                idx[m] = i;
                sg_fp_seed(key, issues[i].licensee_id, issues[i].nonce, seeds[m]);
                m++;
                done[i] = 1;
            }
        char hex[65];
        err = sg_blake2b_file(issues[g].original_path, hex);
        if (err) {
            err = sg_error_wrap(err, "the original of issue %lld", (long long)issues[g].id);
            break;
        }
        if (strcmp(hex, issues[g].original_blake2b) != 0) {
            err = sg_error_new(
                "original %s changed since it was issued (BLAKE2b-256 %s, recorded %s): restore it to trace",
                issues[g].original_path, hex, issues[g].original_blake2b);
            break;
        }
        sg_safetensors *orig = NULL;
        if ((err = sg_safetensors_open(issues[g].original_path, &orig))) break;
        int comparable = 0;
        char why[200] = "";
        err = sg_fp_score(orig, sus, (const unsigned char(*)[SG_FP_SEED_BYTES])seeds, m, z, &comparable, why,
                          sizeof why);
        sg_safetensors_close(orig);
        if (comparable)
            out->n_comparable += m;
        else if (!out->note[0])
            snprintf(out->note, sizeof out->note, "%s", why);
        for (int k = 0; !err && k < m; k++) {
            sg_trace_score *row = &out->rows[out->n_issues++];
            const sg_issue_record *is = &issues[idx[k]];
            row->issue_id = is->id;
            snprintf(row->licensee, sizeof row->licensee, "%s", is->licensee);
            snprintf(row->model, sizeof row->model, "%s", is->model);
            row->z = z[k];
        }
    }
    sodium_memzero(key, sizeof key);
    if (seeds) sodium_memzero(seeds, (n ? n : 1) * sizeof *seeds);
    if (!err) qsort(out->rows, (size_t)out->n_issues, sizeof *out->rows, by_z);
    sg_safetensors_close(sus);
    free(sus_path);
    free(issues);
    free(done);
    free(seeds);
    free(z);
    if (err) {
        free(out->rows);
        out->rows = NULL;
    }
    return err;
}
