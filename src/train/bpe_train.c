/* bpe_train.c — byte-level BPE training (see bpe_train.h).
 *
 * Owns: counting distinct pre-tokens ("words"), the merge loop with
 * incremental pair counts (each pair keeps the list of words it occurs in, a
 * max-heap with lazy invalidation picks the next pair) and writing the
 * vocab.json/merges.txt pair. */
#include "train/bpe_train.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "engine/tokenizer.h"

/* ---- small helpers -------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const unsigned char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return mix64(h ^ n);
}

/* Grows *buf (of *cap elements of size `elem`) to hold at least `need`. */
static int grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *nb = realloc(*buf, c * elem);
    if (!nb) return -1;
    *buf = nb;
    *cap = c;
    return 0;
}

/* A string builder for the output files. */
typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} strbuf;

static void sb_add(strbuf *b, const void *data, size_t n) {
    if (b->oom) return;
    if (grow((void **)&b->s, &b->cap, b->n + n + 1, 1)) {
        b->oom = 1;
        return;
    }
    memcpy(b->s + b->n, data, n);
    b->n += n;
}

static void sb_str(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* A token's bytes as GPT-2's mapped characters (UTF-8), JSON-escaped if asked. */
static void sb_token(strbuf *b, const unsigned char *bytes, size_t n, int json) {
    for (size_t i = 0; i < n; i++) {
        unsigned cp = sg_bpe_byte_to_cp(bytes[i]);
        char u[3];
        if (cp < 0x80) {
            if (json && (cp == '"' || cp == '\\')) sb_add(b, "\\", 1);
            u[0] = (char)cp;
            sb_add(b, u, 1);
        } else {
            u[0] = (char)(0xC0 | cp >> 6);
            u[1] = (char)(0x80 | (cp & 0x3F));
            sb_add(b, u, 2);
        }
    }
}

/* ---- counting words ------------------------------------------------------- */

typedef struct {
    size_t off; /* into bytes (and, during training, into syms) */
    uint32_t len;
    int64_t count;
    uint64_t hash;
} word;

struct sg_bpe_trainer {
    sg_pretok *pretok;
    unsigned char *bytes; /* the distinct words, back to back */
    size_t n_bytes, cap_bytes;
    word *words;
    size_t n_words, cap_words;
    uint32_t *index; /* open addressing: word index + 1, 0 = empty */
    size_t index_cap;
    size_t total_bytes;
    int trained;
};

sg_error *sg_bpe_trainer_new(sg_bpe_trainer **out) {
    *out = NULL;
    sg_bpe_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return sg_error_new("out of memory");
    sg_error *err = sg_pretok_new(&tr->pretok);
    if (err) {
        free(tr);
        return err;
    }
    *out = tr;
    return NULL;
}

void sg_bpe_trainer_free(sg_bpe_trainer *tr) {
    if (!tr) return;
    sg_pretok_free(tr->pretok);
    free(tr->bytes);
    free(tr->words);
    free(tr->index);
    free(tr);
}

size_t sg_bpe_trainer_bytes(const sg_bpe_trainer *tr) { return tr->total_bytes; }
size_t sg_bpe_trainer_distinct_words(const sg_bpe_trainer *tr) { return tr->n_words; }

static int index_rehash(sg_bpe_trainer *tr) {
    size_t cap = tr->index_cap ? tr->index_cap * 2 : 1 << 12;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx) return -1;
    for (size_t w = 0; w < tr->n_words; w++) {
        size_t i = tr->words[w].hash & (cap - 1);
        while (idx[i]) i = (i + 1) & (cap - 1);
        idx[i] = (uint32_t)(w + 1);
    }
    free(tr->index);
    tr->index = idx;
    tr->index_cap = cap;
    return 0;
}

static sg_error *count_word(void *ctx, const unsigned char *piece, size_t len) {
    sg_bpe_trainer *tr = ctx;
    if (len > UINT32_MAX) return sg_error_new("a pre-token of %zu bytes is too long", len);
    if ((tr->n_words + 1) * 2 > tr->index_cap && index_rehash(tr)) return sg_error_new("out of memory");
    uint64_t h = hash_bytes(piece, len);
    size_t i = h & (tr->index_cap - 1);
    for (; tr->index[i]; i = (i + 1) & (tr->index_cap - 1)) {
        word *w = &tr->words[tr->index[i] - 1];
        if (w->hash == h && w->len == len && !memcmp(tr->bytes + w->off, piece, len)) {
            w->count++;
            return NULL;
        }
    }
    if (tr->n_words >= UINT32_MAX - 1 ||
        grow((void **)&tr->words, &tr->cap_words, tr->n_words + 1, sizeof(word)) ||
        grow((void **)&tr->bytes, &tr->cap_bytes, tr->n_bytes + len, 1))
        return sg_error_new("out of memory");
    memcpy(tr->bytes + tr->n_bytes, piece, len);
    tr->words[tr->n_words] = (word){.off = tr->n_bytes, .len = (uint32_t)len, .count = 1, .hash = h};
    tr->n_bytes += len;
    tr->index[i] = (uint32_t)++tr->n_words;
    return NULL;
}

sg_error *sg_bpe_trainer_add_text(sg_bpe_trainer *tr, const char *text, size_t len) {
    if (tr->trained) return sg_error_new("this BPE trainer has already trained");
    const unsigned char *s = (const unsigned char *)text, *end = s + len;
    const size_t eot_len = sizeof SG_TOKENIZER_EOT_TEXT - 1;
    while (s < end) {
        const unsigned char *mark = memmem(s, (size_t)(end - s), SG_TOKENIZER_EOT_TEXT, eot_len);
        const unsigned char *doc_end = mark ? mark : end;
        sg_error *err = sg_pretok_split(tr->pretok, s, (size_t)(doc_end - s), count_word, tr);
        if (err) return err;
        tr->total_bytes += (size_t)(doc_end - s);
        s = mark ? mark + eot_len : end;
    }
    return NULL;
}

sg_error *sg_bpe_trainer_add_file(sg_bpe_trainer *tr, const char *path) {
    sg_file_map map;
    sg_error *err = sg_file_map_open(path, &map);
    if (err) return err;
    err = sg_bpe_trainer_add_text(tr, (const char *)map.data, map.size);
    sg_file_unmap(&map);
    return err ? sg_error_wrap(err, "%s", path) : NULL;
}

/* ---- training -------------------------------------------------------------- */

typedef struct {
    uint64_t key; /* left << 32 | right */
    int64_t count;
    int *wl; /* words the pair has occurred in (may be stale or repeated) */
    size_t wn, wcap;
    unsigned stamp; /* the merge that last touched it */
} pair;

typedef struct {
    int64_t count;
    uint64_t key;
} heap_item;

typedef struct {
    sg_bpe_trainer *tr;
    int *syms;        /* each word's current symbols, at the word's byte offset */
    uint32_t *slen;   /* each word's current symbol count */
    unsigned *wstamp; /* the merge that last visited each word */
    pair *pairs;
    size_t n_pairs, cap_pairs;
    uint32_t *pindex; /* open addressing: pair index + 1 */
    size_t pindex_cap;
    heap_item *heap;
    size_t n_heap, cap_heap;
    size_t *touched;
    size_t n_touched, cap_touched;
    unsigned merge_no;
    /* tokens */
    unsigned char *tbytes;
    size_t n_tbytes, cap_tbytes;
    size_t *toff; /* token i: tbytes[toff[i] .. toff[i+1]) */
    size_t cap_toff;
    int n_tokens;
    uint32_t *tindex; /* open addressing over token bytes: id + 1 */
    size_t tindex_cap;
    int oom;
} trainer_state;

static inline uint64_t pair_key(int a, int b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static int pindex_rehash(trainer_state *st) {
    size_t cap = st->pindex_cap ? st->pindex_cap * 2 : 1 << 14;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx) return -1;
    for (size_t p = 0; p < st->n_pairs; p++) {
        size_t i = mix64(st->pairs[p].key) & (cap - 1);
        while (idx[i]) i = (i + 1) & (cap - 1);
        idx[i] = (uint32_t)(p + 1);
    }
    free(st->pindex);
    st->pindex = idx;
    st->pindex_cap = cap;
    return 0;
}

/* The pair (a, b), created with count 0 if new; SIZE_MAX when out of memory. */
static size_t pair_get(trainer_state *st, int a, int b) {
    if ((st->n_pairs + 1) * 2 > st->pindex_cap && pindex_rehash(st)) return SIZE_MAX;
    uint64_t key = pair_key(a, b);
    size_t i = mix64(key) & (st->pindex_cap - 1);
    for (; st->pindex[i]; i = (i + 1) & (st->pindex_cap - 1))
        if (st->pairs[st->pindex[i] - 1].key == key) return st->pindex[i] - 1;
    if (st->n_pairs >= UINT32_MAX - 1 ||
        grow((void **)&st->pairs, &st->cap_pairs, st->n_pairs + 1, sizeof(pair)))
        return SIZE_MAX;
    st->pairs[st->n_pairs] = (pair){.key = key, .stamp = (unsigned)-1};
    st->pindex[i] = (uint32_t)++st->n_pairs;
    return st->n_pairs - 1;
}

static int pair_find(const trainer_state *st, uint64_t key, size_t *out) {
    size_t i = mix64(key) & (st->pindex_cap - 1);
    for (; st->pindex[i]; i = (i + 1) & (st->pindex_cap - 1))
        if (st->pairs[st->pindex[i] - 1].key == key) {
            *out = st->pindex[i] - 1;
            return 1;
        }
    return 0;
}

/* Adds delta to the count of (a, b), remembers it as touched by this merge
 * and, when `w` >= 0, records that word w contains it. */
static void pair_add(trainer_state *st, int a, int b, int64_t delta, int w) {
    size_t p = pair_get(st, a, b);
    if (p == SIZE_MAX) {
        st->oom = 1;
        return;
    }
    pair *pr = &st->pairs[p];
    pr->count += delta;
    if (pr->stamp != st->merge_no) {
        pr->stamp = st->merge_no;
        if (grow((void **)&st->touched, &st->cap_touched, st->n_touched + 1, sizeof(size_t))) {
            st->oom = 1;
            return;
        }
        st->touched[st->n_touched++] = p;
    }
    if (w >= 0 && (pr->wn == 0 || pr->wl[pr->wn - 1] != w)) {
        if (grow((void **)&pr->wl, &pr->wcap, pr->wn + 1, sizeof(int))) {
            st->oom = 1;
            return;
        }
        pr->wl[pr->wn++] = w;
    }
}

/* Max-heap: higher count first, then the lower key (left id, then right id). */
static inline int heap_before(heap_item x, heap_item y) {
    return x.count != y.count ? x.count > y.count : x.key < y.key;
}

static void heap_push(trainer_state *st, heap_item it) {
    if (grow((void **)&st->heap, &st->cap_heap, st->n_heap + 1, sizeof(heap_item))) {
        st->oom = 1;
        return;
    }
    size_t i = st->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_before(it, st->heap[p])) break;
        st->heap[i] = st->heap[p];
        i = p;
    }
    st->heap[i] = it;
}

static void heap_pop(trainer_state *st) {
    heap_item last = st->heap[--st->n_heap];
    size_t i = 0, n = st->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(st->heap[c + 1], st->heap[c])) c++;
        if (!heap_before(st->heap[c], last)) break;
        st->heap[i] = st->heap[c];
        i = c;
    }
    if (n > 0) st->heap[i] = last;
}

static void flush_touched(trainer_state *st) {
    for (size_t i = 0; i < st->n_touched; i++) {
        const pair *p = &st->pairs[st->touched[i]];
        if (p->count > 0) heap_push(st, (heap_item){p->count, p->key});
    }
    st->n_touched = 0;
}

static int tindex_rehash(trainer_state *st) {
    size_t cap = st->tindex_cap ? st->tindex_cap * 2 : 1 << 10;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx) return -1;
    for (int t = 0; t < st->n_tokens; t++) {
        size_t i = hash_bytes(st->tbytes + st->toff[t], st->toff[t + 1] - st->toff[t]) & (cap - 1);
        while (idx[i]) i = (i + 1) & (cap - 1);
        idx[i] = (uint32_t)(t + 1);
    }
    free(st->tindex);
    st->tindex = idx;
    st->tindex_cap = cap;
    return 0;
}

/* The id of the token with bytes a ++ b, adding it if new (-1: out of memory). */
static int token_concat(trainer_state *st, int a, int b) {
    size_t la = st->toff[a + 1] - st->toff[a], lb = st->toff[b + 1] - st->toff[b];
    if ((size_t)(st->n_tokens + 1) * 2 > st->tindex_cap && tindex_rehash(st)) return -1;
    if (grow((void **)&st->tbytes, &st->cap_tbytes, st->n_tbytes + la + lb, 1) ||
        grow((void **)&st->toff, &st->cap_toff, (size_t)st->n_tokens + 2, sizeof(size_t)))
        return -1;
    /* Build the candidate in place at the end of tbytes (a and b are earlier). */
    unsigned char *cand = st->tbytes + st->n_tbytes;
    memmove(cand, st->tbytes + st->toff[a], la);
    memmove(cand + la, st->tbytes + st->toff[b], lb);
    size_t len = la + lb;
    uint64_t h = hash_bytes(cand, len);
    size_t i = h & (st->tindex_cap - 1);
    for (; st->tindex[i]; i = (i + 1) & (st->tindex_cap - 1)) {
        int t = (int)st->tindex[i] - 1;
        if (st->toff[t + 1] - st->toff[t] == len && !memcmp(st->tbytes + st->toff[t], cand, len)) return t;
    }
    int id = st->n_tokens++;
    st->n_tbytes += len;
    st->toff[id + 1] = st->n_tbytes;
    st->tindex[i] = (uint32_t)(id + 1);
    return id;
}

/* Replaces every (a, b) by c in the words that contain it, updating counts. */
static void apply_merge(trainer_state *st, size_t p, int a, int b, int c) {
    const word *words = st->tr->words;
    /* Take the word list: only pairs with c get new occurrences from here on. */
    int *wl = st->pairs[p].wl;
    size_t wn = st->pairs[p].wn;
    st->pairs[p].wl = NULL;
    st->pairs[p].wn = st->pairs[p].wcap = 0;
    for (size_t k = 0; k < wn && !st->oom; k++) {
        int w = wl[k];
        if (st->wstamp[w] == st->merge_no) continue;
        st->wstamp[w] = st->merge_no;
        int *s = st->syms + words[w].off;
        uint32_t n = st->slen[w];
        int found = 0;
        for (uint32_t i = 0; i + 1 < n && !found; i++) found = s[i] == a && s[i + 1] == b;
        if (!found) continue; /* stale entry */
        int64_t f = words[w].count;
        /* Net changes only touch pairs with a, b or c in them (c too: it may
         * be an existing token, already in the word). */
        for (uint32_t i = 0; i + 1 < n; i++) {
            int x = s[i], y = s[i + 1];
            if (x == a || x == b || x == c || y == a || y == b || y == c) pair_add(st, x, y, -f, -1);
        }
        uint32_t j = 0;
        for (uint32_t i = 0; i < n;) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                s[j++] = c;
                i += 2;
            } else {
                s[j++] = s[i++];
            }
        }
        st->slen[w] = n = j;
        for (uint32_t i = 0; i + 1 < n; i++) {
            int x = s[i], y = s[i + 1];
            if (x == c || y == c)
                pair_add(st, x, y, f, w);
            else if (x == a || x == b || y == a || y == b)
                pair_add(st, x, y, f, -1);
        }
    }
    free(wl);
}

static void state_free(trainer_state *st) {
    free(st->syms);
    free(st->slen);
    free(st->wstamp);
    for (size_t i = 0; i < st->n_pairs; i++) free(st->pairs[i].wl);
    free(st->pairs);
    free(st->pindex);
    free(st->heap);
    free(st->touched);
    free(st->tbytes);
    free(st->toff);
    free(st->tindex);
}

static sg_error *write_files(const trainer_state *st, const int *merges, int n_merges, const char *out_dir) {
    strbuf v = {0}, m = {0};
    sb_str(&v, "{");
    char num[32];
    for (int t = 0; t < st->n_tokens; t++) {
        sb_str(&v, t ? ",\n\"" : "\n\"");
        sb_token(&v, st->tbytes + st->toff[t], st->toff[t + 1] - st->toff[t], 1);
        snprintf(num, sizeof num, "\": %d", t);
        sb_str(&v, num);
    }
    snprintf(num, sizeof num, "\": %d\n}\n", st->n_tokens);
    sb_str(&v, ",\n\"" SG_TOKENIZER_EOT_TEXT);
    sb_str(&v, num);
    sb_str(&m, "#version: 0.2\n");
    for (int i = 0; i < n_merges; i++) {
        int a = merges[2 * i], b = merges[2 * i + 1];
        sb_token(&m, st->tbytes + st->toff[a], st->toff[a + 1] - st->toff[a], 0);
        sb_str(&m, " ");
        sb_token(&m, st->tbytes + st->toff[b], st->toff[b + 1] - st->toff[b], 0);
        sb_str(&m, "\n");
    }
    sg_error *err = NULL;
    if (v.oom || m.oom) err = sg_error_new("out of memory");
    char *vpath = sg_path_join(out_dir, "vocab.json"), *mpath = sg_path_join(out_dir, "merges.txt");
    if (!err && (!vpath || !mpath)) err = sg_error_new("out of memory");
    if (!err) err = sg_file_write_atomic_mode(mpath, SG_FILE_PUBLIC, m.s, m.n);
    if (!err) err = sg_file_write_atomic_mode(vpath, SG_FILE_PUBLIC, v.s, v.n);
    free(vpath);
    free(mpath);
    free(v.s);
    free(m.s);
    return err;
}

sg_error *sg_bpe_trainer_train(sg_bpe_trainer *tr, int vocab_size, const char *out_dir) {
    if (vocab_size < SG_BPE_MIN_VOCAB || vocab_size > SG_BPE_MAX_VOCAB)
        return sg_error_new(
            "vocabulary size %d is outside [%d, %d] (256 byte tokens + merges + <|endoftext|>)", vocab_size,
            SG_BPE_MIN_VOCAB, SG_BPE_MAX_VOCAB);
    if (tr->trained) return sg_error_new("this BPE trainer has already trained");
    if (tr->n_words == 0) return sg_error_new("the corpus is empty");
    tr->trained = 1;
    double t0 = sg_monotonic_s();
    trainer_state st = {.tr = tr};
    sg_error *err = NULL;
    int *merges = NULL;
    st.syms = malloc(tr->n_bytes * sizeof(int));
    st.slen = malloc(tr->n_words * sizeof(uint32_t));
    st.wstamp = calloc(tr->n_words, sizeof(unsigned));
    size_t merges_cap = 0;
    if (!st.syms || !st.slen || !st.wstamp || grow((void **)&st.tbytes, &st.cap_tbytes, 256, 1) ||
        grow((void **)&st.toff, &st.cap_toff, 257, sizeof(size_t))) {
        err = sg_error_new("out of memory");
        goto done;
    }
    /* Base vocabulary: the 256 bytes in GPT-2's order. */
    int byte_id[256];
    for (int i = 0; i < 256; i++) {
        unsigned char b = sg_bpe_base_byte(i);
        byte_id[b] = i;
        st.tbytes[i] = b;
        st.toff[i] = (size_t)i;
    }
    st.toff[256] = 256;
    st.n_tbytes = 256;
    st.n_tokens = 256;
    if (tindex_rehash(&st)) {
        err = sg_error_new("out of memory");
        goto done;
    }
    /* Initial pair counts. */
    st.merge_no = 0;
    for (size_t w = 0; w < tr->n_words && !st.oom; w++) {
        const word *wd = &tr->words[w];
        int *s = st.syms + wd->off;
        for (uint32_t i = 0; i < wd->len; i++) s[i] = byte_id[tr->bytes[wd->off + i]];
        st.slen[w] = wd->len;
        for (uint32_t i = 0; i + 1 < wd->len; i++) pair_add(&st, s[i], s[i + 1], wd->count, (int)w);
    }
    flush_touched(&st);
    int n_merges = 0;
    while (st.n_tokens < vocab_size - 1 && !st.oom) {
        /* The best pair whose heap entry is current. */
        size_t p = SIZE_MAX;
        while (st.n_heap > 0) {
            heap_item top = st.heap[0];
            heap_pop(&st);
            size_t q;
            if (pair_find(&st, top.key, &q) && st.pairs[q].count == top.count) {
                p = q;
                break;
            }
        }
        if (p == SIZE_MAX) {
            err = sg_error_new(
                "the corpus has too little text for %d tokens: no pair of tokens is left to merge "
                "after %d merges (vocabulary %d with <|endoftext|>)",
                vocab_size, n_merges, st.n_tokens + 1);
            goto done;
        }
        int a = (int)(st.pairs[p].key >> 32), b = (int)(uint32_t)st.pairs[p].key;
        int c = token_concat(&st, a, b);
        if (c < 0) {
            st.oom = 1;
            break;
        }
        if (grow((void **)&merges, &merges_cap, 2 * (size_t)n_merges + 2, sizeof(int))) {
            st.oom = 1;
            break;
        }
        merges[2 * n_merges] = a;
        merges[2 * n_merges + 1] = b;
        n_merges++;
        st.merge_no = (unsigned)n_merges;
        apply_merge(&st, p, a, b, c);
        flush_touched(&st);
    }
    if (st.oom) {
        err = sg_error_new("out of memory");
        goto done;
    }
    err = write_files(&st, merges, n_merges, out_dir);
    if (!err)
        sg_info("bpe: %zu bytes, %zu distinct pre-tokens, %d merges, vocabulary %d, %.2f s", tr->total_bytes,
                tr->n_words, n_merges, st.n_tokens + 1, sg_monotonic_s() - t0);
done:
    free(merges);
    state_free(&st);
    return err;
}
