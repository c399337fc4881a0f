/* normalize.c — the evasion-resistant text form; see normalize.h. */
#include "safety/normalize.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { CLS_LETTER, CLS_DIGIT, CLS_SPACE, CLS_PUNCT };

typedef struct {
    uint32_t cp;
    size_t start, end; /* original bytes */
    int cls;
} unit;

typedef struct {
    uint32_t from, to;
} cp_pair;

struct sg_normalizer {
    cp_pair *leet;
    int n_leet;
};

/* Look-alikes to their Latin skeleton (sorted by code point). Compatibility
 * decomposition already handles fullwidth forms and mathematical letters;
 * this table covers what it leaves: other scripts' letters that look Latin. */
static const cp_pair confusables[] = {
    {'l', 'i'},    {0x0131, 'i'}, {0x0138, 'k'}, {0x0180, 'b'}, {0x01C0, 'i'}, {0x0251, 'a'}, {0x0261, 'g'},
    {0x0262, 'g'}, {0x026A, 'i'}, {0x0274, 'n'}, {0x0280, 'r'}, {0x028F, 'y'}, {0x0299, 'b'}, {0x029C, 'h'},
    {0x0391, 'a'}, {0x0392, 'b'}, {0x0395, 'e'}, {0x0396, 'z'}, {0x0397, 'h'}, {0x0399, 'i'}, {0x039A, 'k'},
    {0x039C, 'm'}, {0x039D, 'n'}, {0x039F, 'o'}, {0x03A1, 'p'}, {0x03A4, 't'}, {0x03A5, 'y'}, {0x03A7, 'x'},
    {0x03B1, 'a'}, {0x03B2, 'b'}, {0x03B3, 'y'}, {0x03B5, 'e'}, {0x03B7, 'n'}, {0x03B9, 'i'}, {0x03BA, 'k'},
    {0x03BD, 'v'}, {0x03BF, 'o'}, {0x03C1, 'p'}, {0x03C2, 's'}, {0x03C4, 't'}, {0x03C5, 'u'}, {0x03C7, 'x'},
    {0x03C9, 'w'}, {0x03F2, 'c'}, {0x03F3, 'j'}, {0x03F9, 'c'}, {0x0405, 's'}, {0x0406, 'i'}, {0x0408, 'j'},
    {0x0410, 'a'}, {0x0412, 'b'}, {0x0415, 'e'}, {0x041A, 'k'}, {0x041C, 'm'}, {0x041D, 'h'}, {0x041E, 'o'},
    {0x0420, 'p'}, {0x0421, 'c'}, {0x0422, 't'}, {0x0423, 'y'}, {0x0425, 'x'}, {0x0430, 'a'}, {0x0432, 'b'},
    {0x0433, 'r'}, {0x0435, 'e'}, {0x043A, 'k'}, {0x043C, 'm'}, {0x043D, 'h'}, {0x043E, 'o'}, {0x043F, 'n'},
    {0x0440, 'p'}, {0x0441, 'c'}, {0x0442, 't'}, {0x0443, 'y'}, {0x0445, 'x'}, {0x044C, 'b'}, {0x0455, 's'},
    {0x0456, 'i'}, {0x0458, 'j'}, {0x04AE, 'y'}, {0x04AF, 'y'}, {0x04BB, 'h'}, {0x04C0, 'i'}, {0x04CF, 'i'},
    {0x0501, 'd'}, {0x051B, 'q'}, {0x051D, 'w'}, {0x0578, 'n'}, {0x057D, 'u'}, {0x0585, 'o'}, {0x13A0, 'd'},
    {0x13A1, 'r'}, {0x13A2, 't'}, {0x13AC, 'e'}, {0x13B3, 'w'}, {0x13BB, 'h'}, {0x13C2, 'h'}, {0x13DA, 's'},
    {0x13E2, 'r'}, {0x1D00, 'a'}, {0x1D04, 'c'}, {0x1D05, 'd'}, {0x1D07, 'e'}, {0x1D0A, 'j'}, {0x1D0B, 'k'},
    {0x1D0D, 'm'}, {0x1D0F, 'o'}, {0x1D18, 'p'}, {0x1D1B, 't'}, {0x1D1C, 'u'}, {0x1D20, 'v'}, {0x1D21, 'w'},
    {0x1D22, 'z'}, {0x2C9F, 'o'}, {0xA731, 's'}, {0xA76E, 'e'},
};

/* Default leetspeak: digits and symbols that read as letters inside words. */
static const cp_pair default_leet[] = {
    {'0', 'o'}, {'1', 'i'}, {'2', 'z'},    {'3', 'e'},    {'4', 'a'},    {'5', 's'},    {'6', 'g'},
    {'7', 't'}, {'8', 'b'}, {'9', 'g'},    {'@', 'a'},    {'$', 's'},    {'!', 'i'},    {'|', 'i'},
    {'+', 't'}, {'(', 'c'}, {0x20AC, 'e'}, {0x00A3, 'i'}, {0x00A5, 'y'}, {0x00A2, 'c'},
};

static uint32_t table_lookup(const cp_pair *t, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t[mid].from == cp) return t[mid].to;
        if (t[mid].from < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return cp;
}

uint32_t sg_skeleton_char(uint32_t cp) {
    const size_t n = sizeof confusables / sizeof confusables[0];
    cp = table_lookup(confusables, n, cp); /* upper-case look-alikes first */
    if (cp < 128) {
        if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
    } else {
        cp = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
    }
    return table_lookup(confusables, n, cp);
}

static int cmp_pair(const void *a, const void *b) {
    const cp_pair *x = a, *y = b;
    return (x->from > y->from) - (x->from < y->from);
}

/* Decodes one UTF-8 character of a policy leet entry; it must be exactly one. */
static sg_error *one_char(const char *s, const char *what, uint32_t *cp) {
    utf8proc_int32_t c;
    size_t n = strlen(s);
    utf8proc_ssize_t k = n ? utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &c) : -1;
    if (k <= 0 || (size_t)k != n)
        return sg_error_new("leetspeak %s '%s' must be exactly one character", what, s);
    *cp = (uint32_t)c;
    return NULL;
}

sg_error *sg_normalizer_new(char *const *leet_from, char *const *leet_to, int n_leet, sg_normalizer **out) {
    *out = NULL;
    size_t nd = sizeof default_leet / sizeof default_leet[0];
    sg_normalizer *nz = calloc(1, sizeof *nz);
    if (!nz || !(nz->leet = malloc((nd + (size_t)(n_leet > 0 ? n_leet : 0)) * sizeof(cp_pair)))) {
        free(nz);
        return sg_error_new("out of memory");
    }
    memcpy(nz->leet, default_leet, sizeof default_leet);
    nz->n_leet = (int)nd;
    for (int i = 0; i < n_leet; i++) {
        uint32_t from = 0, to = 0;
        sg_error *err = one_char(leet_from[i], "key", &from);
        if (!err) err = one_char(leet_to[i], "value", &to);
        if (err) {
            sg_normalizer_free(nz);
            return err;
        }
        int j = 0;
        while (j < nz->n_leet && nz->leet[j].from != from) j++;
        nz->leet[j] = (cp_pair){from, sg_skeleton_char(to)};
        if (j == nz->n_leet) nz->n_leet++;
    }
    qsort(nz->leet, (size_t)nz->n_leet, sizeof(cp_pair), cmp_pair);
    *out = nz;
    return NULL;
}

void sg_normalizer_free(sg_normalizer *nz) {
    if (!nz) return;
    free(nz->leet);
    free(nz);
}

static int classify(uint32_t cp) {
    if (cp < 128) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return CLS_LETTER;
        if (cp >= '0' && cp <= '9') return CLS_DIGIT;
        if (cp == ' ' || (cp >= '\t' && cp <= '\r')) return CLS_SPACE;
        return CLS_PUNCT;
    }
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return CLS_LETTER;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return CLS_DIGIT;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
        return CLS_SPACE;
    default:
        return CLS_PUNCT;
    }
}

typedef struct {
    unit *u;
    size_t n, cap;
} unit_vec;

static int push_unit(unit_vec *v, unit x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        unit *u = realloc(v->u, cap * sizeof *u);
        if (!u) return -1;
        v->u = u;
        v->cap = cap;
    }
    v->u[v->n++] = x;
    return 0;
}

/* Steps 1-3: decode, decompose, skeleton, classify. */
static sg_error *to_units(const char *text, size_t len, unit_vec *v) {
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) { /* invalid byte: a separator of its own */
            if (push_unit(v, (unit){0xFFFD, i, i + 1, CLS_PUNCT})) return sg_error_new("out of memory");
            i++;
            continue;
        }
        utf8proc_int32_t buf[32];
        int last_bound = 0;
        utf8proc_ssize_t m = utf8proc_decompose_char(cp, buf, 32,
                                                     UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_IGNORE |
                                                         UTF8PROC_STRIPMARK | UTF8PROC_LUMP,
                                                     &last_bound);
        if (m < 0 || m > 32) { /* unassigned or absurdly long: keep as is */
            buf[0] = cp;
            m = 1;
        }
        if (m == 0 && v->n && v->u[v->n - 1].end == i) /* a stripped mark joins its base */
            v->u[v->n - 1].end = i + (size_t)k;
        for (utf8proc_ssize_t j = 0; j < m; j++) {
            uint32_t c = sg_skeleton_char((uint32_t)buf[j]);
            if (push_unit(v, (unit){c, i, i + (size_t)k, classify(c)})) return sg_error_new("out of memory");
        }
        i += (size_t)k;
    }
    return NULL;
}

static int leet_map(const sg_normalizer *nz, unit *x) {
    uint32_t to = table_lookup(nz->leet, (size_t)nz->n_leet, x->cp);
    if (to == x->cp) return 0;
    x->cp = sg_skeleton_char(to);
    x->cls = CLS_LETTER;
    return 1;
}

/* Leetspeak in one token (its units are u[idx[0..m)]), if it has a letter.
 * Digits read as letters; a symbol does when a letter or digit follows it
 * ("$pam", "sh!t"), or when it ends a word and is not '!' ("nude$"), or is
 * '!' in a word already written in leet ("h3nta!"); "spam!" stays. */
static void leet_token(const sg_normalizer *nz, unit *u, const size_t *idx, size_t m) {
    int has_letter = 0, leet_seen = 0, alnum_after = 0;
    for (size_t k = 0; k < m; k++) has_letter |= u[idx[k]].cls == CLS_LETTER;
    if (!has_letter) return;
    for (size_t k = m; k-- > 0;) {
        unit *x = &u[idx[k]];
        if (x->cls == CLS_DIGIT || (x->cls == CLS_PUNCT && alnum_after)) leet_seen |= leet_map(nz, x);
        if (x->cls == CLS_LETTER || x->cls == CLS_DIGIT) alnum_after = 1;
    }
    int after_letter = 0; /* the last letter or digit before, separators skipped, is a letter */
    for (size_t k = 0; k < m; k++) {
        unit *x = &u[idx[k]];
        if (x->cls == CLS_PUNCT && after_letter && (x->cp != '!' || leet_seen)) leet_seen |= leet_map(nz, x);
        if (x->cls != CLS_PUNCT) after_letter = x->cls == CLS_LETTER;
    }
}

/* Step 4: leetspeak per whitespace-delimited token; three or more
 * one-character tokens in a row ("8 0 m b") count as one token. */
static int apply_leet(const sg_normalizer *nz, unit *u, size_t n) {
    size_t *idx = malloc((n + 1) * sizeof *idx);
    if (!idx) return -1;
    size_t i = 0;
    while (i < n) {
        if (u[i].cls == CLS_SPACE) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && u[j].cls != CLS_SPACE) j++;
        size_t end = j, count = 1;
        if (j - i == 1) { /* a run of one-character tokens? */
            for (size_t k = j;;) {
                while (k < n && u[k].cls == CLS_SPACE) k++;
                if (k < n && (k + 1 == n || u[k + 1].cls == CLS_SPACE)) {
                    count++;
                    end = k + 1;
                    k = end;
                } else {
                    break;
                }
            }
        }
        if (count < 3) end = j;
        size_t m = 0;
        for (size_t k = i; k < end; k++)
            if (u[k].cls != CLS_SPACE) idx[m++] = k;
        leet_token(nz, u, idx, m);
        i = end;
    }
    free(idx);
    return 0;
}

static int is_word(const unit *x) { return x->cls == CLS_LETTER || x->cls == CLS_DIGIT; }

typedef struct {
    sg_norm_text *t;
    size_t cap;
} emitter;

static void emit_byte(emitter *e, char b, size_t start, size_t end) {
    sg_norm_text *t = e->t;
    t->text[t->len] = b;
    t->orig_start[t->len] = start;
    t->orig_end[t->len] = end;
    t->len++;
}

sg_error *sg_normalize(const sg_normalizer *nz, const char *text, size_t len, sg_norm_view view,
                       sg_norm_text *out) {
    memset(out, 0, sizeof *out);
    unit_vec v = {0};
    sg_error *err = to_units(text, len, &v);
    if (err) {
        free(v.u);
        return err;
    }
    if (apply_leet(nz, v.u, v.n)) {
        free(v.u);
        return sg_error_new("out of memory");
    }
    unit *u = v.u;
    size_t n = v.n;

    /* Length of the whitespace-delimited token of each unit, for the single-letter join rule. */
    size_t *wlen = calloc(n + 1, sizeof *wlen);
    size_t cap = 4 * n + 3;
    out->text = malloc(cap + 1);
    out->orig_start = malloc(cap * sizeof(size_t));
    out->orig_end = malloc(cap * sizeof(size_t));
    if (!wlen || !out->text || !out->orig_start || !out->orig_end) {
        free(wlen);
        free(v.u);
        sg_norm_text_free(out);
        return sg_error_new("out of memory");
    }
    for (size_t i = 0; i < n;) { /* tokens: runs of non-space units */
        if (u[i].cls == CLS_SPACE) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && u[j].cls != CLS_SPACE) j++;
        for (size_t k = i; k < j; k++) wlen[k] = j - i;
        i = j;
    }

    emitter e = {out, cap};
    emit_byte(&e, ' ', 0, 0);
    uint32_t last = ' ';
    size_t last_word = SIZE_MAX; /* index of the previous word unit */
    for (size_t i = 0; i < n;) {
        if (!is_word(&u[i])) { /* a run of separators */
            size_t j = i;
            int has_space = 0;
            while (j < n && !is_word(&u[j])) has_space |= u[j++].cls == CLS_SPACE;
            int join = 0;
            if (view == SG_NORM_JOINED && last_word != SIZE_MAX && j < n)
                join = !has_space || (wlen[last_word] == 1 && wlen[j] == 1);
            if (!join && last != ' ') {
                emit_byte(&e, ' ', u[i].start, u[j - 1].end);
                last = ' ';
            }
            i = j;
            continue;
        }
        if (u[i].cp == last) { /* collapse a repeat into the previous character */
            for (size_t b = out->len; b-- > 0 && out->orig_start[b] == out->orig_start[out->len - 1];)
                out->orig_end[b] = u[i].end;
        } else {
            char buf[4];
            utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)u[i].cp, (utf8proc_uint8_t *)buf);
            for (utf8proc_ssize_t b = 0; b < k; b++) emit_byte(&e, buf[b], u[i].start, u[i].end);
            last = u[i].cp;
        }
        last_word = i;
        i++;
    }
    if (last != ' ') emit_byte(&e, ' ', len, len);
    out->text[out->len] = '\0';
    free(wlen);
    free(v.u);
    return NULL;
}

void sg_norm_text_free(sg_norm_text *t) {
    if (!t) return;
    free(t->text);
    free(t->orig_start);
    free(t->orig_end);
    memset(t, 0, sizeof *t);
}
