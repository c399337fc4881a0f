/* dataset.c — corpus tokenization, train/val split, shards and batches. */
#include "train/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/init.h"
#include "base/log.h"

uint64_t sg_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sg_dataset_batch(const int *tokens, size_t n, int B, int T, uint64_t *rng, int *inputs, int *targets) {
    size_t starts = n - (size_t)T; /* windows of T+1 tokens start in [0, n-T-1] */
    for (int b = 0; b < B; b++) {
        size_t s = (size_t)(sg_rng_next(rng) % starts);
        memcpy(inputs + (size_t)b * T, tokens + s, (size_t)T * sizeof(int));
        memcpy(targets + (size_t)b * T, tokens + s + 1, (size_t)T * sizeof(int));
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void sg_dataset_free_paths(char **files, int n) {
    for (int i = 0; i < n; i++) free(files[i]);
    free(files);
}

static sg_error *push_path(char ***files, int *n, int *cap, const char *path) {
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 16;
        char **f = realloc(*files, sizeof *f * (size_t)c);
        if (!f) return sg_error_new("out of memory");
        *files = f, *cap = c;
    }
    if (!((*files)[*n] = strdup(path))) return sg_error_new("out of memory");
    (*n)++;
    return NULL;
}

sg_error *sg_dataset_expand(char **paths, int n, char ***files, int *n_files) {
    char **out = NULL;
    int count = 0, cap = 0;
    sg_error *err = NULL;
    for (int i = 0; i < n && !err; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            err = sg_error_new("%s: %s", paths[i], strerror(errno));
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            err = push_path(&out, &count, &cap, paths[i]);
            continue;
        }
        DIR *d = opendir(paths[i]);
        if (!d) {
            err = sg_error_new("%s: %s", paths[i], strerror(errno));
            break;
        }
        int first = count;
        struct dirent *e;
        while (!err && (e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".txt")) continue;
            char *p = sg_path_join(paths[i], e->d_name);
            err = p ? push_path(&out, &count, &cap, p) : sg_error_new("out of memory");
            free(p);
        }
        closedir(d);
        if (!err && count == first) err = sg_error_new("%s: no .txt files in this directory", paths[i]);
        if (!err) qsort(out + first, (size_t)(count - first), sizeof *out, cmp_str);
    }
    if (err) {
        sg_dataset_free_paths(out, count);
        return err;
    }
    *files = out;
    *n_files = count;
    return NULL;
}

static void hash_file(crypto_generichash_state *h, const char *path) {
    sg_file_map map;
    sg_error *err = sg_file_map_open(path, &map);
    if (err) {
        sg_error_free(err);
        return; /* a missing file changes the key through its absence */
    }
    uint64_t size = map.size;
    crypto_generichash_update(h, (const unsigned char *)&size, sizeof size);
    if (map.data) crypto_generichash_update(h, map.data, map.size);
    sg_file_unmap(&map);
}

/* The cache key: tokenizer files, the split rule and every document. */
static void dataset_key(const char *tok_dir, char **files, int n_files, char **val_files, int n_val,
                        double val_fraction, unsigned char key[32]) {
    crypto_generichash_state h;
    crypto_generichash_init(&h, (const unsigned char *)"sg-shard-1", 10, 32);
    const char *tf[2] = {"vocab.json", "merges.txt"};
    for (int i = 0; i < 2; i++) {
        char *p = sg_path_join(tok_dir, tf[i]);
        if (p) hash_file(&h, p);
        free(p);
    }
    crypto_generichash_update(&h, (const unsigned char *)&val_fraction, sizeof val_fraction);
    for (int set = 0; set < 2; set++) {
        char **f = set ? val_files : files;
        int n = set ? n_val : n_files;
        crypto_generichash_update(&h, (const unsigned char *)&n, sizeof n);
        for (int i = 0; i < n; i++) {
            crypto_generichash_update(&h, (const unsigned char *)f[i], strlen(f[i]) + 1);
            hash_file(&h, f[i]);
        }
    }
    crypto_generichash_final(&h, key, 32);
}

static int is_val_doc(const char *path, double val_fraction) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = base; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    uint64_t s = h;
    return (double)(sg_rng_next(&s) >> 11) * 0x1.0p-53 < val_fraction;
}

typedef struct {
    int *ids;
    int n;
    sg_error *err;
} doc_tokens;

static sg_error *tokenize_docs(const sg_tokenizer *tok, char **files, int n, doc_tokens *docs) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        char *text = NULL;
        size_t len = 0;
        docs[i].err = sg_file_read(files[i], &text, &len);
        if (!docs[i].err) docs[i].err = sg_tokenizer_encode(tok, text, len, 0, &docs[i].ids, &docs[i].n);
        if (docs[i].err) docs[i].err = sg_error_wrap(docs[i].err, "tokenizing %s", files[i]);
        free(text);
    }
    sg_error *err = NULL;
    for (int i = 0; i < n; i++)
        if (docs[i].err && !err)
            err = docs[i].err, docs[i].err = NULL;
        else if (docs[i].err)
            sg_error_free(docs[i].err);
    return err;
}

static sg_error *concat(doc_tokens *docs, int n, const char *pick, int want, int eot, int **out,
                        size_t *n_out, int *n_docs) {
    size_t total = 0;
    int nd = 0;
    for (int i = 0; i < n; i++)
        if (pick[i] == want && docs[i].n > 0) total += (size_t)docs[i].n + (eot >= 0), nd++;
    *out = malloc((total ? total : 1) * sizeof(int));
    if (!*out) return sg_error_new("out of memory for %zu tokens", total);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (pick[i] != want || docs[i].n == 0) continue;
        memcpy(*out + k, docs[i].ids, (size_t)docs[i].n * sizeof(int));
        k += (size_t)docs[i].n;
        if (eot >= 0) (*out)[k++] = eot;
    }
    *n_out = total;
    *n_docs = nd;
    return NULL;
}

sg_error *sg_dataset_build(const sg_tokenizer *tok, const char *tok_dir, char **files, int n_files,
                           char **val_files, int n_val, double val_fraction, const char *cache_path,
                           sg_dataset *out) {
    memset(out, 0, sizeof *out);
    if (n_files < 1) return sg_error_new("no corpus files");
    SG_ASSERT_INIT();
    unsigned char key[32];
    dataset_key(tok_dir, files, n_files, val_files, n_val, val_fraction, key);
    if (cache_path) {
        sg_dataset cached;
        sg_error *err = sg_dataset_load_shard(cache_path, &cached);
        if (!err && !sodium_memcmp(cached.key, key, 32) &&
            cached.vocab_size == sg_tokenizer_vocab_size(tok)) {
            sg_info("using cached shard %s (%zu train, %zu val tokens)", cache_path, cached.n_train,
                    cached.n_val);
            *out = cached;
            return NULL;
        }
        if (err)
            sg_error_free(err);
        else
            sg_dataset_free(&cached);
    }

    int n = n_files + n_val;
    char **all = malloc(sizeof *all * (size_t)n);
    char *pick = malloc((size_t)n);
    doc_tokens *docs = calloc((size_t)n, sizeof *docs);
    sg_error *err = NULL;
    if (!all || !pick || !docs) {
        err = sg_error_new("out of memory");
        goto done;
    }
    for (int i = 0; i < n_files; i++)
        all[i] = files[i], pick[i] = n_val > 0 ? 0 : is_val_doc(files[i], val_fraction);
    for (int i = 0; i < n_val; i++) all[n_files + i] = val_files[i], pick[n_files + i] = 1;
    double t0 = sg_monotonic_s();
    if ((err = tokenize_docs(tok, all, n, docs))) goto done;
    int eot = sg_tokenizer_eot(tok);
    out->vocab_size = sg_tokenizer_vocab_size(tok);
    if ((err = concat(docs, n, pick, 0, eot, &out->train, &out->n_train, &out->docs_train))) goto done;
    if ((err = concat(docs, n, pick, 1, eot, &out->val, &out->n_val, &out->docs_val))) goto done;
    memcpy(out->key, key, 32);
    if (out->n_train == 0) {
        err = sg_error_new("the corpus (%d file%s) holds no text to train on", n_files,
                           n_files == 1 ? "" : "s");
        goto done;
    }
    sg_info("tokenized %d documents in %.1f s: %zu train tokens (%d docs), %zu val tokens (%d docs)", n,
            sg_monotonic_s() - t0, out->n_train, out->docs_train, out->n_val, out->docs_val);
    if (cache_path) err = sg_dataset_save_shard(out, cache_path);
done:
    if (docs)
        for (int i = 0; i < n; i++) free(docs[i].ids);
    free(docs);
    free(pick);
    free(all);
    if (err) sg_dataset_free(out);
    return err;
}

#define SHARD_MAGIC "SGSHARD1"
#define SHARD_HEADER 72

sg_error *sg_dataset_save_shard(const sg_dataset *d, const char *path) {
    int width = d->vocab_size <= 65536 ? 2 : 4;
    size_t n = d->n_train + d->n_val;
    unsigned char *buf = malloc(SHARD_HEADER + n * (size_t)width);
    if (!buf) return sg_error_new("out of memory");
    unsigned char *p = buf;
    memcpy(p, SHARD_MAGIC, 8), p += 8;
    uint32_t u32[4] = {(uint32_t)d->vocab_size, (uint32_t)width, (uint32_t)d->docs_train,
                       (uint32_t)d->docs_val};
    memcpy(p, u32, 16), p += 16;
    uint64_t u64[2] = {d->n_train, d->n_val};
    memcpy(p, u64, 16), p += 16;
    memcpy(p, d->key, 32), p += 32;
    for (int set = 0; set < 2; set++) {
        const int *t = set ? d->val : d->train;
        size_t m = set ? d->n_val : d->n_train;
        for (size_t i = 0; i < m; i++) {
            if (width == 2) {
                uint16_t v = (uint16_t)t[i];
                memcpy(p, &v, 2);
            } else {
                uint32_t v = (uint32_t)t[i];
                memcpy(p, &v, 4);
            }
            p += width;
        }
    }
    sg_error *err = sg_file_write_atomic(path, buf, (size_t)(p - buf));
    free(buf);
    return err ? sg_error_wrap(err, "writing shard") : NULL;
}

sg_error *sg_dataset_load_shard(const char *path, sg_dataset *out) {
    memset(out, 0, sizeof *out);
    sg_file_map map;
    sg_error *err = sg_file_map_open(path, &map);
    if (err) return err;
    const unsigned char *p = map.data;
    uint32_t u32[4];
    uint64_t u64[2];
    if (map.size < SHARD_HEADER || memcmp(p, SHARD_MAGIC, 8)) {
        err = sg_error_new("%s: not a stagegate token shard (bad magic or truncated header)", path);
        goto done;
    }
    memcpy(u32, p + 8, 16);
    memcpy(u64, p + 24, 16);
    if ((u32[1] != 2 && u32[1] != 4) || u32[0] == 0 || u32[0] > (1u << 30)) {
        err = sg_error_new("%s: bad header (vocab %u, token width %u)", path, u32[0], u32[1]);
        goto done;
    }
    size_t width = u32[1];
    if (u64[0] > map.size || u64[1] > map.size || SHARD_HEADER + (u64[0] + u64[1]) * width != map.size) {
        err = sg_error_new("%s: size %zu does not match %llu + %llu tokens of %zu bytes", path, map.size,
                           (unsigned long long)u64[0], (unsigned long long)u64[1], width);
        goto done;
    }
    out->vocab_size = (int)u32[0];
    out->docs_train = (int)u32[2];
    out->docs_val = (int)u32[3];
    out->n_train = u64[0];
    out->n_val = u64[1];
    memcpy(out->key, p + 40, 32);
    out->train = malloc((out->n_train ? out->n_train : 1) * sizeof(int));
    out->val = malloc((out->n_val ? out->n_val : 1) * sizeof(int));
    if (!out->train || !out->val) {
        err = sg_error_new("out of memory");
        goto done;
    }
    p += SHARD_HEADER;
    for (size_t i = 0; i < out->n_train + out->n_val; i++, p += width) {
        uint32_t v = 0;
        if (width == 2) {
            uint16_t s;
            memcpy(&s, p, 2);
            v = s;
        } else {
            memcpy(&v, p, 4);
        }
        if (v >= u32[0]) {
            err = sg_error_new("%s: token %zu is %u, outside the vocabulary (%u)", path, i, v, u32[0]);
            goto done;
        }
        if (i < out->n_train)
            out->train[i] = (int)v;
        else
            out->val[i - out->n_train] = (int)v;
    }
done:
    sg_file_unmap(&map);
    if (err) sg_dataset_free(out);
    return err;
}

void sg_dataset_free(sg_dataset *d) {
    free(d->train);
    free(d->val);
    d->train = d->val = NULL;
    d->n_train = d->n_val = 0;
}
