/* filter.c — content filter: compile, scan, redact, decide, stream; see filter.h. */
#include "safety/filter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/check.h"
#include "base/utf8.h"
#include "safety/matcher.h"
#include "safety/normalize.h"

typedef struct {
    char *name;
    char *response;
    sg_filter_action action;
    int on_input, on_output;
} category;

struct sg_filter_pattern {
    pcre2_code *code;
    const char *kind; /* "pattern", or the built-in detector's name */
    int luhn;         /* card numbers: digits must pass the Luhn check */
    int min_digits;   /* phone numbers: at least this many digits */
};

typedef struct {
    sg_filter_pattern pat;
    int category;
} regex;

struct sg_filter {
    category *cats;
    int n_cats;
    sg_normalizer *nz;
    sg_matcher *terms;
    int *term_cat; /* matcher id -> category */
    int n_terms;
    regex *rx;
    int n_rx;
    size_t hold;
};

static const char EMAIL_RX[] = "(?<![\\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                               "(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\\.[A-Za-z]{2,24}(?![\\w@])";
static const char PHONE_RX[] =
    "(?<![\\w+])(?:(?:\\+\\d{1,3}[ .-]?)?(?:\\(\\d{3}\\)[ .-]?|\\d{3}[ .-]?)\\d{3}[ .-]?\\d{4}"
    "|\\+\\d{1,3}(?:[ .-]?\\d{2,4}){2,5})(?![\\w-])";
static const char CARD_RX[] = "(?<![\\w.-])\\d(?:[ -]?\\d){12,18}(?![\\w-])";

static char *dup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int sg_filter_n_categories(const sg_filter *f) { return f->n_cats; }
const char *sg_filter_category_name(const sg_filter *f, int c) { return f->cats[c].name; }
sg_filter_action sg_filter_category_action(const sg_filter *f, int c) { return f->cats[c].action; }

static int applies(const sg_filter *f, int c, int side) {
    return ((side & SG_FILTER_INPUT) && f->cats[c].on_input) ||
           ((side & SG_FILTER_OUTPUT) && f->cats[c].on_output);
}

void sg_filter_free(sg_filter *f) {
    if (!f) return;
    for (int i = 0; i < f->n_cats; i++) {
        free(f->cats[i].name);
        free(f->cats[i].response);
    }
    free(f->cats);
    sg_normalizer_free(f->nz);
    sg_matcher_free(f->terms);
    free(f->term_cat);
    for (int i = 0; i < f->n_rx; i++) pcre2_code_free(f->rx[i].pat.code);
    free(f->rx);
    free(f);
}

/* Adds one term or allow entry: "*" at either end drops that word boundary. */
static sg_error *add_term(sg_filter *f, const char *term, int cat, int allow) {
    size_t n = strlen(term);
    int left = 1, right = 1;
    if (n && term[0] == '*') {
        left = 0;
        term++;
        n--;
    }
    if (n && term[n - 1] == '*') {
        right = 0;
        n--;
    }
    sg_norm_text t;
    sg_error *err = sg_normalize(f->nz, term, n, SG_NORM_WORDS, &t);
    if (err) return err;
    if (t.len <= 2) {
        sg_norm_text_free(&t);
        return sg_error_new("%s '%s' has no letters or digits", allow ? "allow entry" : "term", term);
    }
    /* t.text is " core ": keep the boundary spaces the term asks for. */
    const char *p = t.text + (left ? 0 : 1);
    size_t len = t.len - (left ? 0 : 1) - (right ? 0 : 1);
    err = sg_matcher_add(f->terms, p, len, f->n_terms, cat, allow);
    sg_norm_text_free(&t);
    if (err) return err;
    f->term_cat[f->n_terms++] = cat;
    return NULL;
}

static sg_error *compile_rx(const char *src, pcre2_code **out, size_t *offset) {
    int code;
    PCRE2_SIZE off;
    *out = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code,
                         &off, NULL);
    if (*out) return NULL;
    if (code == PCRE2_ERROR_HEAP_FAILED) {
        *offset = SIZE_MAX;
        return sg_error_new("out of memory");
    }
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(code, msg, sizeof msg) < 0) strcpy((char *)msg, "invalid pattern");
    *offset = (size_t)off;
    return sg_error_new("%s", (char *)msg);
}

sg_error *sg_filter_pattern_compile(const char *src, sg_filter_pattern **out, size_t *offset) {
    SG_ASSERT(src && out && offset, "a pattern and where to put it");
    *out = NULL;
    *offset = SIZE_MAX;
    sg_filter_pattern p = {NULL, "pattern", 0, 0};
    const char *rx = src;
    if (!strcmp(src, "builtin:email"))
        rx = EMAIL_RX, p.kind = "email";
    else if (!strcmp(src, "builtin:phone"))
        rx = PHONE_RX, p.kind = "phone", p.min_digits = 8;
    else if (!strcmp(src, "builtin:card_number"))
        rx = CARD_RX, p.kind = "card_number", p.luhn = 1, p.min_digits = 13;
    else if (!strncmp(src, "builtin:", 8)) {
        *offset = 0;
        return sg_error_new("unknown built-in detector '%s'", src);
    }
    sg_filter_pattern *r = malloc(sizeof *r);
    if (!r) return sg_error_new("out of memory");
    size_t off;
    sg_error *err = compile_rx(rx, &p.code, &off);
    if (err) {
        free(r);
        /* A built-in expression always compiles: its failure is never the pattern's. */
        *offset = rx == src ? off : SIZE_MAX;
        return err;
    }
    *r = p;
    *out = r;
    return NULL;
}

void sg_filter_pattern_free(sg_filter_pattern *p) {
    if (!p) return;
    pcre2_code_free(p->code);
    free(p);
}

/* Adds pattern `src` of category `cat`: a copy of `compiled` if the rules
 * carry it, else compiled here. */
static sg_error *add_pattern(sg_filter *f, const char *src, const sg_filter_pattern *compiled, int cat) {
    regex r = {{0}, cat};
    if (compiled) {
        r.pat = *compiled;
        r.pat.code = pcre2_code_copy(compiled->code);
        if (!r.pat.code) return sg_error_new("out of memory");
    } else {
        sg_filter_pattern *p;
        size_t off;
        sg_error *err = sg_filter_pattern_compile(src, &p, &off);
        if (err && off != SIZE_MAX && strncmp(src, "builtin:", 8)) {
            sg_error *e = sg_error_new("pattern '%s': %s at offset %zu", src, sg_error_message(err), off);
            sg_error_free(err);
            return e;
        }
        if (err) return err;
        r.pat = *p;
        free(p); /* its code now belongs to r */
    }
    f->rx[f->n_rx++] = r;
    return NULL;
}

sg_error *sg_filter_new(const sg_filter_rules *rules, sg_filter **out) {
    SG_ASSERT(rules && out, "rules and where to put the filter");
    *out = NULL;
    sg_filter *f = calloc(1, sizeof *f);
    if (!f) return sg_error_new("out of memory");
    sg_error *err = sg_normalizer_new(rules->leet_from, rules->leet_to, rules->n_leet, &f->nz);
    if (err) {
        sg_filter_free(f);
        return sg_error_wrap(err, "content filter");
    }
    int n_terms = 0, n_rx = 0;
    for (int c = 0; c < rules->n_categories; c++) {
        n_terms += rules->categories[c].n_terms + rules->categories[c].n_allow;
        n_rx += rules->categories[c].n_patterns;
    }
    f->cats = calloc((size_t)rules->n_categories + 1, sizeof *f->cats);
    f->term_cat = malloc(((size_t)n_terms + 1) * sizeof *f->term_cat);
    f->rx = calloc((size_t)n_rx + 1, sizeof *f->rx);
    f->terms = sg_matcher_new();
    if (!f->cats || !f->term_cat || !f->rx || !f->terms) {
        sg_filter_free(f);
        return sg_error_new("out of memory");
    }
    for (int c = 0; c < rules->n_categories && !err; c++) {
        const sg_filter_category *rc = &rules->categories[c];
        category *fc = &f->cats[f->n_cats++];
        fc->name = dup(rc->name ? rc->name : "");
        fc->response = dup(rc->response);
        fc->action = rc->action;
        fc->on_input = rc->on_input;
        fc->on_output = rc->on_output;
        if (!fc->name || (rc->response && !fc->response)) err = sg_error_new("out of memory");
        if (!err && rc->action == SG_FILTER_HARDCODED && !rc->response)
            err = sg_error_new("category '%s': action hardcoded needs a response", fc->name);
        for (int i = 0; i < rc->n_terms && !err; i++) err = add_term(f, rc->terms[i], c, 0);
        for (int i = 0; i < rc->n_allow && !err; i++) err = add_term(f, rc->allow[i], c, 1);
        for (int i = 0; i < rc->n_patterns && !err; i++)
            err = add_pattern(f, rc->patterns[i], rc->compiled ? rc->compiled[i] : NULL, c);
        if (err) err = sg_error_wrap(err, "content filter category '%s'", fc->name);
    }
    if (!err) err = sg_matcher_build(f->terms);
    if (err) {
        sg_filter_free(f);
        return err;
    }
    /* Hold back room for the longest term spelled out with separators and
     * repeats ("k . i . l . l"), and at least a long e-mail address. */
    f->hold = 4 * sg_matcher_max_len(f->terms) + 32;
    if (n_rx && f->hold < 96) f->hold = 96;
    *out = f;
    return NULL;
}

static sg_error *push_match(sg_filter_matches *m, sg_filter_match x) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        sg_filter_match *p = realloc(m->items, cap * sizeof *p);
        if (!p) return sg_error_new("out of memory");
        m->items = p;
        m->cap = cap;
    }
    m->items[m->n++] = x;
    return NULL;
}

void sg_filter_matches_free(sg_filter_matches *m) {
    if (!m) return;
    free(m->items);
    memset(m, 0, sizeof *m);
}

/* Term spans cover whole words of the normalised text, without the spaces. */
static void widen_to_words(void *ctx, const char *text, size_t len, sg_match *x) {
    (void)ctx;
    size_t s = x->start, e = x->end;
    if (e - s > 1 && text[s] == ' ') s++;
    if (e - s > 1 && text[e - 1] == ' ') e--;
    while (s > 0 && text[s - 1] != ' ') s--;
    while (e < len && text[e] != ' ') e++;
    x->start = s;
    x->end = e;
}

static sg_error *scan_terms(const sg_filter *f, const sg_norm_text *t, int side, sg_filter_matches *out) {
    sg_match_list hits = {0};
    sg_error *err = sg_matcher_scan(f->terms, t->text, t->len, widen_to_words, NULL, &hits);
    for (size_t i = 0; i < hits.n && !err; i++) {
        const sg_match *h = &hits.items[i];
        int c = f->term_cat[h->id];
        if (!applies(f, c, side) || h->end <= h->start) continue;
        sg_filter_match x = {c, f->cats[c].action, t->orig_start[h->start], t->orig_end[h->end - 1], "term"};
        if (x.end > x.start) err = push_match(out, x);
    }
    sg_match_list_free(&hits);
    return err;
}

static int luhn_ok(const char *s, size_t n) {
    int sum = 0, dbl = 0, digits = 0;
    for (size_t i = n; i-- > 0;) {
        if (s[i] < '0' || s[i] > '9') continue;
        int d = s[i] - '0';
        if (dbl && (d *= 2) > 9) d -= 9;
        sum += d;
        dbl = !dbl;
        digits++;
    }
    return digits >= 13 && sum % 10 == 0;
}

static int count_digits(const char *s, size_t n) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] >= '0' && s[i] <= '9';
    return k;
}

static sg_error *scan_regex(const sg_filter *f, const regex *r, const char *text, size_t len,
                            sg_filter_matches *out) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->pat.code, NULL);
    if (!md) return sg_error_new("out of memory");
    sg_error *err = NULL;
    PCRE2_SIZE at = 0;
    while (at <= len && !err) {
        int rc = pcre2_match(r->pat.code, (PCRE2_SPTR)text, len, at, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            err = sg_error_new("matching category '%s': %s", f->cats[r->category].name, (char *)msg);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        int ok = e > s;
        if (ok && r->pat.luhn) ok = luhn_ok(text + s, e - s);
        if (ok && r->pat.min_digits) ok = count_digits(text + s, e - s) >= r->pat.min_digits;
        if (ok)
            err = push_match(out,
                             (sg_filter_match){r->category, f->cats[r->category].action, s, e, r->pat.kind});
        at = e > s ? e : s + 1;
        while (at < len && sg_utf8_is_continuation((unsigned char)text[at])) at++;
    }
    pcre2_match_data_free(md);
    return err;
}

static int cmp_match(const void *a, const void *b) {
    const sg_filter_match *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->category > y->category) - (x->category < y->category);
}

sg_error *sg_filter_scan(const sg_filter *f, const char *text, size_t len, int side, sg_filter_matches *out) {
    SG_ASSERT(f && (text || !len) && out, "a filter, the text and where to put the matches");
    memset(out, 0, sizeof *out);
    sg_norm_text words, joined;
    sg_error *err = sg_normalize(f->nz, text, len, SG_NORM_WORDS, &words);
    if (err) return err;
    err = sg_normalize(f->nz, text, len, SG_NORM_JOINED, &joined);
    if (!err) err = scan_terms(f, &words, side, out);
    if (!err && (joined.len != words.len || memcmp(joined.text, words.text, words.len)))
        err = scan_terms(f, &joined, side, out);
    sg_norm_text_free(&words);
    sg_norm_text_free(&joined);
    for (int i = 0; i < f->n_rx && !err; i++)
        if (applies(f, f->rx[i].category, side)) err = scan_regex(f, &f->rx[i], text, len, out);
    if (err) {
        sg_filter_matches_free(out);
        return err;
    }
    if (out->n) {
        qsort(out->items, out->n, sizeof *out->items, cmp_match);
        size_t k = 1;
        for (size_t i = 1; i < out->n; i++) {
            const sg_filter_match *p = &out->items[k - 1], *q = &out->items[i];
            if (p->start == q->start && p->end == q->end && p->category == q->category) continue;
            out->items[k++] = *q;
        }
        out->n = k;
    }
    return NULL;
}

char *sg_filter_redact(const char *text, size_t len, const sg_filter_matches *m, size_t *out_len) {
    static const char mark[] = "[REDACTED]";
    size_t n_red = 0;
    for (size_t i = 0; i < m->n; i++) n_red += m->items[i].action == SG_FILTER_REDACT;
    char *out = malloc(len + n_red * (sizeof mark - 1) + 1);
    if (!out) return NULL;
    size_t o = 0, at = 0;
    for (size_t i = 0; i < m->n; i++) { /* matches are sorted by start */
        const sg_filter_match *x = &m->items[i];
        if (x->action != SG_FILTER_REDACT || x->end > len) continue;
        if (x->start >= at) {
            memcpy(out + o, text + at, x->start - at);
            o += x->start - at;
            memcpy(out + o, mark, sizeof mark - 1);
            o += sizeof mark - 1;
            at = x->end;
        } else if (x->end > at) {
            at = x->end; /* overlaps the previous redaction: extend it */
        }
    }
    memcpy(out + o, text + at, len - at);
    o += len - at;
    out[o] = '\0';
    if (out_len) *out_len = o;
    return out;
}

sg_filter_verdict sg_filter_verdict_of(sg_filter_action a) {
    switch (a) {
    case SG_FILTER_BLOCK:
        return SG_VERDICT_BLOCK;
    case SG_FILTER_HARDCODED:
        return SG_VERDICT_HARDCODED;
    case SG_FILTER_REDACT:
        return SG_VERDICT_REDACT;
    case SG_FILTER_FLAG:
        return SG_VERDICT_FLAG;
    }
    return SG_VERDICT_PASS;
}

const char *sg_filter_verdict_name(sg_filter_verdict v) {
    static const char *names[] = {"pass", "flag", "redact", "hardcoded", "block"};
    return (unsigned)v < 5 ? names[v] : "?";
}

const char *sg_filter_action_name(sg_filter_action a) {
    static const char *names[] = {"block", "redact", "hardcoded", "flag"};
    return (unsigned)a < 4 ? names[a] : "?";
}

sg_error *sg_filter_decide_input(const sg_filter *f, const char *text, size_t len, sg_filter_decision *out) {
    memset(out, 0, sizeof *out);
    out->category = -1;
    sg_error *err = sg_filter_scan(f, text, len, SG_FILTER_INPUT, &out->matches);
    if (err) return err;
    for (size_t i = 0; i < out->matches.n; i++) {
        const sg_filter_match *x = &out->matches.items[i];
        sg_filter_verdict v = sg_filter_verdict_of(x->action);
        if (v > out->verdict) {
            out->verdict = v;
            out->category = x->category;
        }
    }
    if (out->verdict == SG_VERDICT_HARDCODED) out->response = f->cats[out->category].response;
    if (out->verdict == SG_VERDICT_REDACT) {
        out->text = sg_filter_redact(text, len, &out->matches, &out->text_len);
        if (!out->text) {
            sg_filter_decision_free(out);
            return sg_error_new("out of memory");
        }
    }
    return NULL;
}

void sg_filter_decision_free(sg_filter_decision *d) {
    if (!d) return;
    free(d->text);
    sg_filter_matches_free(&d->matches);
    memset(d, 0, sizeof *d);
    d->category = -1;
}

/* ---- streaming ---- */

struct sg_filter_stream {
    const sg_filter *f;
    char *pending; /* text not yet released */
    size_t len, cap;
    size_t released; /* bytes released so far (offset of pending[0] in the stream) */
    char *out;       /* last chunk's text */
    sg_filter_matches flags;
    int blocked, block_cat;
};

sg_error *sg_filter_stream_new(const sg_filter *f, sg_filter_stream **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return sg_error_new("out of memory");
    (*out)->f = f;
    (*out)->block_cat = -1;
    return NULL;
}

void sg_filter_stream_free(sg_filter_stream *s) {
    if (!s) return;
    free(s->pending);
    free(s->out);
    sg_filter_matches_free(&s->flags);
    free(s);
}

size_t sg_filter_stream_hold(const sg_filter_stream *s) { return s->f->hold; }

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static sg_error *release(sg_filter_stream *s, int finishing, sg_filter_chunk *out) {
    memset(out, 0, sizeof *out);
    out->category = -1;
    free(s->out);
    s->out = NULL;
    s->flags.n = 0;
    out->text = "";
    if (s->blocked) {
        out->blocked = 1;
        out->category = s->block_cat;
        return NULL;
    }
    sg_filter_matches m;
    sg_error *err = sg_filter_scan(s->f, s->pending ? s->pending : "", s->len, SG_FILTER_OUTPUT, &m);
    if (err) return err;
    for (size_t i = 0; i < m.n; i++) {
        sg_filter_action a = m.items[i].action;
        if (a == SG_FILTER_BLOCK || a == SG_FILTER_HARDCODED) {
            s->blocked = 1;
            s->block_cat = m.items[i].category;
            out->blocked = 1;
            out->category = s->block_cat;
            sg_filter_matches_free(&m);
            return NULL;
        }
    }
    /* The release point: after the last whitespace at least `hold` bytes
     * before the end, never inside a match. */
    size_t r = 0;
    if (finishing) {
        r = s->len;
    } else if (s->len > s->f->hold) {
        size_t limit = s->len - s->f->hold;
        for (size_t i = limit; i > 0; i--)
            if (is_space(s->pending[i - 1])) {
                r = i;
                break;
            }
        if (r == 0 && s->len > 4 * s->f->hold) { /* one endless word: cut at a character boundary */
            r = limit;
            while (r > 0 && sg_utf8_is_continuation((unsigned char)s->pending[r])) r--;
        }
    }
    for (int moved = 1; moved;) {
        moved = 0;
        for (size_t i = 0; i < m.n; i++)
            if (m.items[i].start < r && r < m.items[i].end) {
                r = m.items[i].start;
                moved = 1;
            }
    }
    /* Redact and report the matches that are released whole. */
    sg_filter_matches rel = {0};
    for (size_t i = 0; i < m.n && !err; i++) {
        sg_filter_match x = m.items[i];
        if (x.end > r) continue;
        err = push_match(&rel, x);
        if (!err && x.action == SG_FILTER_FLAG) {
            x.start += s->released;
            x.end += s->released;
            err = push_match(&s->flags, x);
        }
    }
    sg_filter_matches_free(&m);
    size_t olen = 0;
    if (!err && !(s->out = sg_filter_redact(s->pending ? s->pending : "", r, &rel, &olen)))
        err = sg_error_new("out of memory");
    sg_filter_matches_free(&rel);
    if (err) return err;
    if (r) memmove(s->pending, s->pending + r, s->len - r);
    s->len -= r;
    s->released += r;
    out->text = s->out;
    out->len = olen;
    out->flags = s->flags.items;
    out->n_flags = s->flags.n;
    return NULL;
}

sg_error *sg_filter_stream_push(sg_filter_stream *s, const char *bytes, size_t n, sg_filter_chunk *out) {
    if (!s->blocked && n) {
        if (s->len + n + 1 > s->cap) {
            size_t cap = (s->len + n + 1) * 2;
            char *p = realloc(s->pending, cap);
            if (!p) return sg_error_new("out of memory");
            s->pending = p;
            s->cap = cap;
        }
        memcpy(s->pending + s->len, bytes, n);
        s->len += n;
    }
    return release(s, 0, out);
}

sg_error *sg_filter_stream_finish(sg_filter_stream *s, sg_filter_chunk *out) { return release(s, 1, out); }
