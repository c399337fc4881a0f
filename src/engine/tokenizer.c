/* tokenizer.c — GPT-2 byte-level BPE (see tokenizer.h).
 *
 * Owns: the byte<->unicode map, the PCRE2 pre-tokenizer, loading of
 * vocab.json/merges.txt, the merge loop (a min-heap over adjacent pairs, so
 * a long pre-token costs O(n log n), not O(n^2)) and the pre-token cache. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/tokenizer.h"

#include <jansson.h>
#include <limits.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"

/* ---- byte <-> unicode map ------------------------------------------------
 * Bytes 33-126, 161-172 and 174-255 stand for themselves; the other 68 bytes
 * (0-32, 127-160, 173), in increasing order, map to U+0100, U+0101, ... */

static int printable_byte(unsigned b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

unsigned sg_bpe_byte_to_cp(unsigned char b) {
    if (printable_byte(b)) return b;
    if (b <= 32) return 256u + b;
    if (b <= 160) return 256u + 33u + (b - 127u);
    return 256u + 67u; /* 173 */
}

int sg_bpe_cp_to_byte(unsigned cp) {
    if (cp < 256) return printable_byte(cp) ? (int)cp : -1;
    if (cp < 256 + 33) return (int)(cp - 256);
    if (cp < 256 + 67) return (int)(127 + cp - 256 - 33);
    if (cp == 256 + 67) return 173;
    return -1;
}

unsigned char sg_bpe_base_byte(int i) {
    if (i < 94) return (unsigned char)(33 + i);
    if (i < 106) return (unsigned char)(161 + i - 94);
    if (i < 188) return (unsigned char)(174 + i - 106);
    int k = i - 188;
    if (k < 33) return (unsigned char)k;
    if (k < 67) return (unsigned char)(127 + k - 33);
    return 173;
}

/* ---- pre-tokenizer -------------------------------------------------------- */

static const char PRETOK_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct sg_pretok {
    pcre2_code *code;
};

sg_error *sg_pretok_new(sg_pretok **out) {
    *out = NULL;
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)PRETOK_PATTERN, PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        return sg_error_new("pre-tokenizer regex: %s at offset %zu", (char *)msg, (size_t)erroff);
    }
    /* JIT is an optimisation: without it (e.g. no JIT support) matching still works. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    sg_pretok *p = calloc(1, sizeof *p);
    if (!p) {
        pcre2_code_free(code);
        return sg_error_new("out of memory");
    }
    p->code = code;
    *out = p;
    return NULL;
}

void sg_pretok_free(sg_pretok *p) {
    if (!p) return;
    pcre2_code_free(p->code);
    free(p);
}

sg_error *sg_pretok_split(const sg_pretok *p, const unsigned char *text, size_t len, sg_pretok_fn fn,
                          void *ctx) {
    if (len == 0) return NULL;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->code, NULL);
    if (!md) return sg_error_new("out of memory");
    sg_error *err = NULL;
    size_t off = 0;
    while (off < len && !err) {
        int rc = pcre2_match(p->code, text, len, off, 0, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* pathological input: retry with the interpreter */
            rc = pcre2_match(p->code, text, len, off, PCRE2_NO_JIT, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) { /* only invalid UTF-8 is left */
            err = fn(ctx, text + off, len - off);
            break;
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            err = sg_error_new("pre-tokenizer: %s at byte %zu", (char *)msg, off);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t start = ov[0], end = ov[1];
        if (end <= start || start < off) {
            err = sg_error_new("pre-tokenizer: empty match at byte %zu", start);
            break;
        }
        /* The regex matches every valid character, so a gap before the match
         * is a run of invalid UTF-8: it becomes one pre-token of its own. */
        if (start > off) err = fn(ctx, text + off, start - off);
        if (!err) err = fn(ctx, text + start, end - start);
        off = end;
    }
    pcre2_match_data_free(md);
    return err;
}

/* ---- the tokenizer -------------------------------------------------------- */

typedef struct {
    uint64_t key; /* left << 32 | right */
    int rank;     /* -1: empty slot */
    int merged;
} pair_slot;

typedef struct cache_entry {
    uint32_t len, n_ids;
    /* followed by int ids[n_ids] then the key bytes */
} cache_entry;

typedef struct {
    uint64_t hash;  /* compared before following e */
    cache_entry *e; /* NULL: empty */
} cache_slot;

/* The cache: open addressing, at most half full; when full it is emptied.
 * Pieces longer than CACHE_MAX_PIECE bytes are not cached. */
#define CACHE_SLOTS (1u << 17)
#define CACHE_MAX_ENTRIES (CACHE_SLOTS / 2)
#define CACHE_MAX_PIECE 256

struct sg_tokenizer {
    int n_vocab;
    int eot;
    char *blob;       /* all token bytes */
    size_t *offsets;  /* token i is blob[offsets[i] .. offsets[i+1]) */
    int byte_id[256]; /* the single-byte token of each byte */
    pair_slot *pairs; /* open addressing, power-of-two size */
    uint64_t pair_mask;
    sg_pretok *pretok;
    pthread_rwlock_t cache_lock;
    cache_slot *cache; /* CACHE_SLOTS slots */
    unsigned cache_count;
};

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline const pair_slot *pair_find(const sg_tokenizer *t, int a, int b) {
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    for (uint64_t i = mix64(key) & t->pair_mask;; i = (i + 1) & t->pair_mask) {
        const pair_slot *s = &t->pairs[i];
        if (s->rank < 0) return NULL;
        if (s->key == key) return s;
    }
}

/* Appends the UTF-8 encoding of cp to buf (room for 4 bytes). */
static size_t utf8_put(char *buf, unsigned cp) {
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (char)(0xC0 | cp >> 6);
        buf[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    buf[0] = (char)(0xE0 | cp >> 12);
    buf[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    buf[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* Decodes one UTF-8 code point (input is valid: jansson checked it). */
static unsigned utf8_get(const unsigned char *s, size_t *i) {
    unsigned c = s[*i];
    if (c < 0x80) {
        *i += 1;
        return c;
    }
    if (c < 0xE0) {
        unsigned cp = (c & 0x1Fu) << 6 | (s[*i + 1] & 0x3Fu);
        *i += 2;
        return cp;
    }
    if (c < 0xF0) {
        unsigned cp = (c & 0x0Fu) << 12 | (s[*i + 1] & 0x3Fu) << 6 | (s[*i + 2] & 0x3Fu);
        *i += 3;
        return cp;
    }
    unsigned cp =
        (c & 0x07u) << 18 | (s[*i + 1] & 0x3Fu) << 12 | (s[*i + 2] & 0x3Fu) << 6 | (s[*i + 3] & 0x3Fu);
    *i += 4;
    return cp;
}

/* The bytes a vocab.json key stands for: byte-mapped characters turn back into
 * their bytes; a key with any other character (an added token) is taken as
 * its own UTF-8. Writes at most strlen(key) bytes to out. */
static size_t key_to_bytes(const char *key, char *out) {
    const unsigned char *s = (const unsigned char *)key;
    size_t n = strlen(key), i = 0, o = 0;
    while (i < n) {
        int b = sg_bpe_cp_to_byte(utf8_get(s, &i));
        if (b < 0) {
            memcpy(out, key, n);
            return n;
        }
        out[o++] = (char)b;
    }
    return o;
}

static sg_error *load_vocab(sg_tokenizer *t, const char *path, json_t **vocab_out) {
    json_error_t jerr;
    json_t *vocab = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!vocab) return sg_error_new("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    sg_error *err = NULL;
    if (!json_is_object(vocab)) {
        err = sg_error_new("%s: expected a JSON object mapping tokens to ids", path);
        goto fail;
    }
    size_t n = json_object_size(vocab);
    if (n == 0 || n > INT_MAX / 2) {
        err = sg_error_new("%s: %zu tokens (expected between 1 and %d)", path, n, INT_MAX / 2);
        goto fail;
    }
    t->n_vocab = (int)n;
    size_t total = 0;
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) total += strlen(key);
    t->blob = malloc(total + 1);
    t->offsets = calloc(n + 1, sizeof *t->offsets);
    const char **keys = calloc(n, sizeof *keys);
    if (!t->blob || !t->offsets || !keys) {
        free(keys);
        err = sg_error_new("out of memory");
        goto fail;
    }
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val)) {
            err = sg_error_new("%s: token \"%s\": id is not an integer", path, key);
            break;
        }
        json_int_t id = json_integer_value(val);
        if (id < 0 || (size_t)id >= n) {
            err = sg_error_new("%s: token \"%s\": id %lld out of range [0, %zu) (ids must be dense)", path,
                               key, (long long)id, n);
            break;
        }
        if (keys[id]) {
            err = sg_error_new("%s: tokens \"%s\" and \"%s\" share id %lld", path, keys[id], key,
                               (long long)id);
            break;
        }
        keys[id] = key;
        if (!strcmp(key, SG_TOKENIZER_EOT_TEXT)) t->eot = (int)id;
    }
    if (!err) {
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            t->offsets[i] = off;
            off += key_to_bytes(keys[i], t->blob + off);
        }
        t->offsets[n] = off;
        for (int b = 0; b < 256; b++) {
            char u[4];
            size_t ul = utf8_put(u, sg_bpe_byte_to_cp((unsigned char)b));
            u[ul] = 0;
            json_t *v = json_object_get(vocab, u);
            if (!v) {
                err = sg_error_new(
                    "%s: no token for byte 0x%02x (\"%s\"); a byte-level vocabulary needs all 256", path, b,
                    u);
                break;
            }
            t->byte_id[b] = (int)json_integer_value(v);
        }
    }
    free(keys);
    if (err) goto fail;
    *vocab_out = vocab;
    return NULL;
fail:
    json_decref(vocab);
    return err;
}

static sg_error *load_merges(sg_tokenizer *t, const char *path, json_t *vocab) {
    char *data;
    size_t size;
    sg_error *err = sg_file_read(path, &data, &size);
    if (err) return err;
    /* Count lines for the table size. */
    size_t n_lines = 1;
    for (size_t i = 0; i < size; i++) n_lines += data[i] == '\n';
    uint64_t cap = 16;
    while (cap < 2 * n_lines) cap <<= 1;
    t->pairs = malloc(cap * sizeof *t->pairs);
    char *merged = malloc(size + 1);
    if (!t->pairs || !merged) {
        free(data);
        free(merged);
        return sg_error_new("out of memory");
    }
    for (uint64_t i = 0; i < cap; i++) t->pairs[i].rank = -1;
    t->pair_mask = cap - 1;
    int rank = 0, line_no = 0;
    char *line = data, *end = data + size;
    while (line < end && !err) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *line_end = nl ? nl : end;
        line_no++;
        if (line_end > line && line_end[-1] == '\r') line_end--;
        *line_end = 0;
        char *next = nl ? nl + 1 : end;
        if (line_no == 1 && !strncmp(line, "#version", 8)) {
            line = next;
            continue;
        }
        if (line_end == line) { /* blank lines (e.g. the last one) */
            line = next;
            continue;
        }
        char *sp = strchr(line, ' ');
        if (!sp || sp == line || sp[1] == 0 || strchr(sp + 1, ' ')) {
            err = sg_error_new("%s:%d: expected two tokens separated by one space, got \"%s\"", path, line_no,
                               line);
            break;
        }
        *sp = 0;
        const char *a = line, *b = sp + 1;
        json_t *ja = json_object_get(vocab, a), *jb = json_object_get(vocab, b);
        if (!ja || !jb) {
            err = sg_error_new("%s:%d: token \"%s\" is not in vocab.json", path, line_no, ja ? b : a);
            break;
        }
        size_t la = strlen(a), lb = strlen(b);
        memcpy(merged, a, la);
        memcpy(merged + la, b, lb + 1);
        json_t *jm = json_object_get(vocab, merged);
        if (!jm) {
            err = sg_error_new("%s:%d: merged token \"%s\" is not in vocab.json", path, line_no, merged);
            break;
        }
        int ia = (int)json_integer_value(ja), ib = (int)json_integer_value(jb);
        uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
        uint64_t i = mix64(key) & t->pair_mask;
        while (t->pairs[i].rank >= 0 && t->pairs[i].key != key) i = (i + 1) & t->pair_mask;
        if (t->pairs[i].rank < 0) { /* a repeated merge keeps its first (best) rank */
            t->pairs[i].key = key;
            t->pairs[i].rank = rank;
            t->pairs[i].merged = (int)json_integer_value(jm);
        }
        rank++;
        line = next;
    }
    free(merged);
    free(data);
    return err;
}

sg_error *sg_tokenizer_load(const char *dir, sg_tokenizer **out) {
    *out = NULL;
    sg_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return sg_error_new("out of memory");
    t->eot = -1;
    pthread_rwlock_init(&t->cache_lock, NULL);
    char *vpath = sg_path_join(dir, "vocab.json"), *mpath = sg_path_join(dir, "merges.txt");
    json_t *vocab = NULL;
    sg_error *err = NULL;
    if (!vpath || !mpath) err = sg_error_new("out of memory");
    if (!err) err = load_vocab(t, vpath, &vocab);
    if (!err) err = load_merges(t, mpath, vocab);
    if (!err) err = sg_pretok_new(&t->pretok);
    if (!err) {
        t->cache = calloc(CACHE_SLOTS, sizeof *t->cache);
        if (!t->cache) err = sg_error_new("out of memory");
    }
    json_decref(vocab);
    free(vpath);
    free(mpath);
    if (err) {
        sg_tokenizer_free(t);
        return sg_error_wrap(err, "loading tokenizer from %s", dir);
    }
    *out = t;
    return NULL;
}

void sg_tokenizer_free(sg_tokenizer *t) {
    if (!t) return;
    if (t->cache) {
        for (unsigned i = 0; i < CACHE_SLOTS; i++) free(t->cache[i].e);
        free(t->cache);
    }
    pthread_rwlock_destroy(&t->cache_lock);
    sg_pretok_free(t->pretok);
    free(t->pairs);
    free(t->offsets);
    free(t->blob);
    free(t);
}

int sg_tokenizer_vocab_size(const sg_tokenizer *t) { return t->n_vocab; }
int sg_tokenizer_eot(const sg_tokenizer *t) { return t->eot; }

const char *sg_tokenizer_token_bytes(const sg_tokenizer *t, int id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->offsets[id + 1] - t->offsets[id];
    return t->blob + t->offsets[id];
}

/* ---- the merge loop ----------------------------------------------------------
 * Symbols form a linked list over positions 0..n-1. A min-heap holds candidate
 * pairs keyed (rank, position of the left symbol); stale entries are skipped
 * when popped. Taking the lowest rank, leftmost first, merges exactly what
 * GPT-2's loop does (all occurrences of the best pair, left to right). */

typedef struct {
    int rank, left, right;
} heap_item;

static inline int heap_less(heap_item a, heap_item b) {
    return a.rank != b.rank ? a.rank < b.rank : a.left < b.left;
}

static void heap_push(heap_item *h, int *n, heap_item it) {
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!heap_less(it, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}

static heap_item heap_pop(heap_item *h, int *n) {
    heap_item top = h[0], last = h[--(*n)];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(h[c + 1], h[c])) c++;
        if (!heap_less(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

/* BPE of one pre-token; writes at most len ids to out, returns how many. */
static int bpe_piece(const sg_tokenizer *t, const unsigned char *piece, int len, int *out) {
    if (len == 1) {
        out[0] = t->byte_id[piece[0]];
        return 1;
    }
    enum { STACK = 64 };
    int tok_s[STACK], next_s[STACK], prev_s[STACK];
    heap_item heap_s[3 * STACK];
    int *tok = tok_s, *next = next_s, *prev = prev_s;
    heap_item *heap = heap_s;
    void *mem = NULL;
    if (len > STACK) {
        mem = malloc((size_t)len * (3 * sizeof(int) + 3 * sizeof(heap_item)));
        if (!mem) return -1;
        tok = mem;
        next = tok + len;
        prev = next + len;
        heap = (heap_item *)(prev + len);
    }
    int nh = 0;
    for (int i = 0; i < len; i++) {
        tok[i] = t->byte_id[piece[i]];
        next[i] = i + 1 < len ? i + 1 : -1;
        prev[i] = i - 1;
    }
    for (int i = 0; i + 1 < len; i++) {
        const pair_slot *s = pair_find(t, tok[i], tok[i + 1]);
        if (s) heap_push(heap, &nh, (heap_item){s->rank, i, i + 1});
    }
    while (nh > 0) {
        heap_item it = heap_pop(heap, &nh);
        /* Stale unless both symbols are still there, adjacent, and still form this pair. */
        if (tok[it.left] < 0 || next[it.left] != it.right || tok[it.right] < 0) continue;
        const pair_slot *s = pair_find(t, tok[it.left], tok[it.right]);
        if (!s || s->rank != it.rank) continue;
        int l = it.left, r = it.right;
        tok[l] = s->merged;
        tok[r] = -1;
        next[l] = next[r];
        if (next[r] >= 0) prev[next[r]] = l;
        if (prev[l] >= 0) {
            const pair_slot *p = pair_find(t, tok[prev[l]], tok[l]);
            if (p) heap_push(heap, &nh, (heap_item){p->rank, prev[l], l});
        }
        if (next[l] >= 0) {
            const pair_slot *p = pair_find(t, tok[l], tok[next[l]]);
            if (p) heap_push(heap, &nh, (heap_item){p->rank, l, next[l]});
        }
    }
    int n = 0;
    for (int i = 0; i >= 0; i = next[i]) out[n++] = tok[i];
    free(mem);
    return n;
}

/* ---- the cache ---------------------------------------------------------- */

static uint64_t hash_bytes(const unsigned char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return mix64(h ^ n);
}

static inline const unsigned char *entry_key(const cache_entry *e) {
    return (const unsigned char *)((const int *)(e + 1) + e->n_ids);
}

/* Copies the cached ids of piece into out; returns their count or -1. */
static int cache_get(sg_tokenizer *t, uint64_t h, const unsigned char *piece, size_t len, int *out) {
    int found = -1;
    pthread_rwlock_rdlock(&t->cache_lock);
    for (uint64_t i = h & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        const cache_slot *s = &t->cache[i];
        if (!s->e) break;
        if (s->hash == h && s->e->len == len && !memcmp(entry_key(s->e), piece, len)) {
            memcpy(out, s->e + 1, s->e->n_ids * sizeof(int));
            found = (int)s->e->n_ids;
            break;
        }
    }
    pthread_rwlock_unlock(&t->cache_lock);
    return found;
}

static void cache_put(sg_tokenizer *t, uint64_t h, const unsigned char *piece, size_t len, const int *ids,
                      int n) {
    cache_entry *e = malloc(sizeof *e + (size_t)n * sizeof(int) + len);
    if (!e) return; /* the cache is an optimisation only */
    e->len = (uint32_t)len;
    e->n_ids = (uint32_t)n;
    memcpy(e + 1, ids, (size_t)n * sizeof(int));
    memcpy((unsigned char *)((int *)(e + 1) + n), piece, len);
    pthread_rwlock_wrlock(&t->cache_lock);
    if (t->cache_count >= CACHE_MAX_ENTRIES) { /* full: start afresh, so it follows the current text */
        for (unsigned i = 0; i < CACHE_SLOTS; i++) free(t->cache[i].e);
        memset(t->cache, 0, CACHE_SLOTS * sizeof *t->cache);
        t->cache_count = 0;
    }
    uint64_t i = h & (CACHE_SLOTS - 1);
    for (; t->cache[i].e; i = (i + 1) & (CACHE_SLOTS - 1)) {
        const cache_slot *s = &t->cache[i];
        if (s->hash == h && s->e->len == len && !memcmp(entry_key(s->e), piece, len)) break; /* raced */
    }
    if (!t->cache[i].e) {
        t->cache[i] = (cache_slot){h, e};
        t->cache_count++;
        e = NULL;
    }
    pthread_rwlock_unlock(&t->cache_lock);
    free(e);
}

/* ---- encode / decode ---------------------------------------------------- */

typedef struct {
    sg_tokenizer *t;
    int *ids;
    size_t n, cap;
} encode_ctx;

static sg_error *reserve(encode_ctx *c, size_t extra) {
    if (c->n + extra <= c->cap) return NULL;
    size_t cap = c->cap ? c->cap : 256;
    while (cap < c->n + extra) cap *= 2;
    int *ids = realloc(c->ids, cap * sizeof *ids);
    if (!ids) return sg_error_new("out of memory");
    c->ids = ids;
    c->cap = cap;
    return NULL;
}

static sg_error *encode_piece(void *ctx, const unsigned char *piece, size_t len) {
    encode_ctx *c = ctx;
    sg_error *err = reserve(c, len);
    if (err) return err;
    int *out = c->ids + c->n;
    if (len <= CACHE_MAX_PIECE) {
        uint64_t h = hash_bytes(piece, len);
        int n = cache_get(c->t, h, piece, len, out);
        if (n < 0) {
            n = bpe_piece(c->t, piece, (int)len, out);
            if (n < 0) return sg_error_new("out of memory");
            cache_put(c->t, h, piece, len, out, n);
        }
        c->n += (size_t)n;
        return NULL;
    }
    int n = bpe_piece(c->t, piece, (int)len, out);
    if (n < 0) return sg_error_new("out of memory");
    c->n += (size_t)n;
    return NULL;
}

sg_error *sg_tokenizer_encode(const sg_tokenizer *t, const char *text, size_t len, int allow_special,
                              int **ids, int *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    if (len > (size_t)INT_MAX) return sg_error_new("text of %zu bytes is too long to encode at once", len);
    /* The cache is the only mutable part and it has its own lock. */
    encode_ctx c = {.t = (sg_tokenizer *)t};
    const unsigned char *s = (const unsigned char *)text, *end = s + len;
    const size_t eot_len = sizeof SG_TOKENIZER_EOT_TEXT - 1;
    sg_error *err = NULL;
    while (s < end && !err) {
        const unsigned char *special = NULL;
        if (allow_special && t->eot >= 0)
            special = memmem(s, (size_t)(end - s), SG_TOKENIZER_EOT_TEXT, eot_len);
        const unsigned char *seg_end = special ? special : end;
        err = sg_pretok_split(t->pretok, s, (size_t)(seg_end - s), encode_piece, &c);
        if (!err && special) {
            err = reserve(&c, 1);
            if (!err) c.ids[c.n++] = t->eot;
            seg_end += eot_len;
        }
        s = seg_end;
    }
    if (err) {
        free(c.ids);
        return sg_error_wrap(err, "encoding");
    }
    *ids = c.ids;
    *n_ids = (int)c.n;
    return NULL;
}

sg_error *sg_tokenizer_decode(const sg_tokenizer *t, const int *ids, int n, char **bytes, size_t *len) {
    *bytes = NULL;
    *len = 0;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return sg_error_new("decoding: id %d at position %d is outside the vocabulary [0, %d)", ids[i], i,
                                t->n_vocab);
        total += t->offsets[ids[i] + 1] - t->offsets[ids[i]];
    }
    char *out = malloc(total + 1);
    if (!out) return sg_error_new("out of memory");
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        size_t l = t->offsets[ids[i] + 1] - t->offsets[ids[i]];
        memcpy(out + o, t->blob + t->offsets[ids[i]], l);
        o += l;
    }
    out[o] = 0;
    *bytes = out;
    *len = o;
    return NULL;
}
