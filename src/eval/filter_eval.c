/* filter_eval.c — the "filter" evaluation suite; see filter_eval.h. */
#include "eval/filter_eval.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"

/* ---- a seeded generator (splitmix64) ---- */

static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform(uint64_t *s) { return (double)(next_u64(s) >> 11) / 9007199254740992.0; }
static int below(uint64_t *s, int n) { return (int)(uniform(s) * n); }

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}
static void putc_(buf *b, char c) { put(b, &c, 1); }
static void put_cp(buf *b, uint32_t cp) {
    char s[4];
    size_t n;
    if (cp < 0x80)
        s[0] = (char)cp, n = 1;
    else if (cp < 0x800)
        s[0] = (char)(0xC0 | (cp >> 6)), s[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        s[0] = (char)(0xE0 | (cp >> 12)), s[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
        s[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    else
        s[0] = (char)(0xF0 | (cp >> 18)), s[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
        s[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), s[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    put(b, s, n);
}

/* ---- evasions ---- */

static const char *const evasion_names[] = {"leet", "confusables", "separators", "repeats", "case", "mixed"};
const char *sg_evasion_name(int kind) {
    return kind >= 0 && kind < SG_EVADE_KINDS ? evasion_names[kind] : "?";
}

/* Leetspeak spellings a writer uses (lower-case letter -> choices). */
static const char *leet_of(char c) {
    switch (c) {
    case 'a':
        return "4@";
    case 'b':
        return "8";
    case 'e':
        return "3";
    case 'g':
        return "9";
    case 'i':
        return "1!";
    case 'l':
        return "1|";
    case 'o':
        return "0";
    case 's':
        return "5$";
    case 't':
        return "7+";
    default:
        return NULL;
    }
}

/* Look-alikes from other scripts for a lower-case Latin letter. */
static uint32_t confusable_of(char c) {
    switch (c) {
    case 'a':
        return 0x0430; /* Cyrillic a */
    case 'c':
        return 0x0441;
    case 'e':
        return 0x0435;
    case 'h':
        return 0x04BB;
    case 'i':
        return 0x0456;
    case 'j':
        return 0x0458;
    case 'k':
        return 0x03BA; /* Greek kappa */
    case 'o':
        return 0x03BF; /* Greek omicron */
    case 'p':
        return 0x0440;
    case 's':
        return 0x0455;
    case 't':
        return 0x03C4; /* Greek tau */
    case 'v':
        return 0x03BD; /* Greek nu */
    case 'x':
        return 0x0445;
    case 'y':
        return 0x0443;
    default:
        return 0;
    }
}

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }
static char upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 32) : c; }

/* One letter written with a look-alike: another script's letter, or the
 * fullwidth or mathematical-bold form. */
static void put_confusable(buf *b, char c, uint64_t *rng) {
    char l = lower(c);
    uint32_t cp = confusable_of(l);
    double r = uniform(rng);
    if (cp && r < 0.6)
        put_cp(b, cp);
    else if (r < 0.8)
        put_cp(b, 0xFF41 + (uint32_t)(l - 'a')); /* fullwidth */
    else
        put_cp(b, 0x1D41A + (uint32_t)(l - 'a')); /* mathematical bold */
}

/* Evades one word (ASCII letters w[0..n)). `spaced` allows spaces as the separator. */
static void evade_word(buf *b, const char *w, size_t n, int kind, int spaced, uint64_t *rng) {
    int sep = 0;
    if ((kind == SG_EVADE_SEPARATORS || (kind == SG_EVADE_MIXED && uniform(rng) < 0.3)) && n >= 3) {
        static const char seps[] = ".-_*";
        sep = spaced && uniform(rng) < 0.3 ? ' ' : seps[below(rng, 4)];
    }
    int caps = kind == SG_EVADE_CASE && uniform(rng) < 0.3;
    /* Leet must leave a letter in the word: pick one position that stays a letter. */
    size_t keep = (size_t)below(rng, (int)n);
    for (size_t i = 0; i < n; i++) {
        char c = w[i], l = lower(c);
        if (i && sep) putc_(b, (char)sep);
        double r = uniform(rng);
        const char *leet = leet_of(l);
        switch (kind) {
        case SG_EVADE_LEET:
            if (leet && i != keep && r < 0.6)
                putc_(b, leet[below(rng, (int)strlen(leet))]);
            else
                putc_(b, c);
            break;
        case SG_EVADE_CONFUSABLES:
            if (r < 0.5)
                put_confusable(b, c, rng);
            else
                putc_(b, c);
            break;
        case SG_EVADE_REPEATS:
            putc_(b, c);
            if (r < 0.35)
                for (int k = 1 + below(rng, 3); k > 0; k--) putc_(b, c);
            break;
        case SG_EVADE_CASE:
            putc_(b, caps || r < 0.5 ? upper(c) : l);
            break;
        case SG_EVADE_SEPARATORS:
            putc_(b, c);
            break;
        default: /* mixed */
            if (leet && i != keep && r < 0.25)
                putc_(b, leet[below(rng, (int)strlen(leet))]);
            else if (r < 0.45)
                put_confusable(b, c, rng);
            else if (r < 0.6)
                putc_(b, upper(c));
            else
                putc_(b, c);
            if (uniform(rng) < 0.15) {
                if (sep) putc_(b, (char)sep); /* a repeat in a spaced-out word is spaced out too */
                putc_(b, c);
            }
            break;
        }
    }
}

char *sg_evade(const char *text, int kind, uint64_t *rng) {
    buf b = {0};
    put(&b, "", 0);
    size_t len = strlen(text), prev_len = 0;
    int prev_spaced = 0;
    for (size_t i = 0; i < len;) {
        if (!is_alpha(text[i])) {
            putc_(&b, text[i++]);
            continue;
        }
        size_t j = i;
        while (j < len && is_alpha(text[j])) j++;
        size_t k = j;
        while (k < len && !is_alpha(text[k])) k++;
        size_t next_len = 0;
        while (k + next_len < len && is_alpha(text[k + next_len])) next_len++;
        /* Spacing out letters is only readable next to words of two or more
         * letters, and never for two neighbouring words. */
        int spaced = j - i >= 4 && !prev_spaced && (prev_len == 0 || prev_len >= 2) && next_len != 1 &&
                     (i == 0 || text[i - 1] == ' ') && (j == len || text[j] == ' ');
        size_t before = b.n;
        evade_word(&b, text + i, j - i, kind, spaced, rng);
        prev_spaced = spaced && memchr(b.p + before, ' ', b.n - before) != NULL;
        prev_len = j - i;
        i = j;
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- sentences ---- */

static int is_upper_start(const char *s, size_t n) {
    if (!n) return 0;
    unsigned char c = (unsigned char)s[0];
    return (c >= 'A' && c <= 'Z') || c == '"' || c >= 0x80 || (c >= '0' && c <= '9');
}

void sg_split_sentences(const char *text, size_t len, void (*fn)(void *ctx, const char *s, size_t n),
                        void *ctx) {
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        int end = 0;
        if (c == '\n' && i + 1 < len && text[i + 1] == '\n') end = 1;
        if ((c == '.' || c == '!' || c == '?') && i + 2 < len && text[i + 1] == ' ' &&
            is_upper_start(text + i + 2, len - i - 2)) {
            end = 1;
            if (c == '.') { /* not after an initial or a title */
                size_t w = i;
                while (w > start && text[w - 1] != ' ') w--;
                size_t wl = i - w;
                if (wl == 1 ||
                    (wl == 2 && (!strncmp(text + w, "Mr", 2) || !strncmp(text + w, "Dr", 2) ||
                                 !strncmp(text + w, "Ms", 2) || !strncmp(text + w, "St", 2) ||
                                 !strncmp(text + w, "Jr", 2))) ||
                    (wl == 3 && !strncmp(text + w, "Mrs", 3)) || (wl >= 3 && text[i - 2] == '.'))
                    end = 0;
            }
        }
        if (end || i + 1 == len) {
            size_t e = i + 1, s = start;
            while (s < e && (text[s] == ' ' || text[s] == '\n' || text[s] == '\r' || text[s] == '\t')) s++;
            while (e > s && (text[e - 1] == ' ' || text[e - 1] == '\n' || text[e - 1] == '\r')) e--;
            if (e > s) fn(ctx, text + s, e - s);
            start = i + 1;
        }
    }
}

/* ---- the run ---- */

typedef struct {
    const sg_filter *f;
    int nc;
    long *tp, *fp, *n, *ev_tp, *ev_n; /* per category */
    long kind_tp[SG_EVADE_KINDS], kind_n[SG_EVADE_KINDS];
    long clean, clean_flagged, hard, hard_flagged;
    long unseen, unseen_tp; /* violating_unseen.tsv, when present */
    uint64_t rng;
    json_t *examples;
    sg_error *err;
} run;

/* Scans `text` and returns a bit per category (the suite has at most 64). */
static uint64_t predict(run *r, const char *text, size_t len) {
    sg_filter_matches m;
    sg_error *err = sg_filter_scan(r->f, text, len, SG_FILTER_ANY, &m);
    if (err) {
        if (!r->err)
            r->err = err;
        else
            sg_error_free(err);
        return 0;
    }
    uint64_t bits = 0;
    for (size_t i = 0; i < m.n; i++) bits |= 1ull << m.items[i].category;
    sg_filter_matches_free(&m);
    return bits;
}

static void count_fp(run *r, uint64_t pred, int label) {
    for (int c = 0; c < r->nc; c++)
        if ((pred >> c & 1) && c != label) r->fp[c]++;
}

static int first_category(const run *r, uint64_t pred) {
    for (int c = 0; c < r->nc; c++)
        if (pred >> c & 1) return c;
    return -1;
}

static void on_clean(void *ctx, const char *s, size_t n) {
    run *r = ctx;
    if (n < 12) return; /* headings and fragments */
    uint64_t pred = predict(r, s, n);
    r->clean++;
    count_fp(r, pred, -1);
    if (pred) {
        r->clean_flagged++;
        if (json_array_size(r->examples) < 20) {
            json_t *ex = json_object();
            json_object_set_new(ex, "category",
                                json_string(sg_filter_category_name(r->f, first_category(r, pred))));
            json_object_set_new(ex, "text", json_stringn(s, n));
            json_array_append_new(r->examples, ex);
        }
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static sg_error *read_clean(run *r, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return sg_error_new("%s: cannot open the held-out directory", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    sg_error *err = NULL;
    while (!err && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt")) continue;
        if (n == cap) {
            char **p = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *p);
            if (!p) {
                err = sg_error_new("out of memory");
                break;
            }
            names = p;
        }
        if (!(names[n] = sg_path_join(dir, e->d_name)))
            err = sg_error_new("out of memory");
        else
            n++;
    }
    closedir(d);
    if (!err && n == 0) err = sg_error_new("%s: no .txt files of clean text", dir);
    if (!err) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !err && !r->err; i++) {
        char *text;
        size_t len;
        if (!(err = sg_file_read(names[i], &text, &len))) {
            sg_split_sentences(text, len, on_clean, r);
            free(text);
        }
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return err;
}

/* Calls fn(ctx, file, line_no, field1, field2) for each "a<TAB>b" (or one
 * field) line that is not blank or a '#' comment. */
static sg_error *read_tsv(const char *path, int fields,
                          sg_error *(*fn)(run *, const char *, int, char *, char *), run *r) {
    char *text;
    size_t len;
    sg_error *err = sg_file_read(path, &text, &len);
    if (err) return err;
    int line = 0;
    for (char *s = text; s && *s && !err;) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        line++;
        if (*s && *s != '#') {
            char *tab = strchr(s, '\t');
            if (fields == 2 && !tab)
                err = sg_error_new("%s:%d: expected 'category<TAB>text'", path, line);
            else if (fields == 2) {
                *tab = '\0';
                err = fn(r, path, line, s, tab + 1);
            } else {
                err = fn(r, path, line, NULL, s);
            }
        }
        s = nl ? nl + 1 : NULL;
    }
    free(text);
    return err;
}

static sg_error *on_violating(run *r, const char *path, int line, char *cat, char *text) {
    (void)path;
    (void)line;
    int label = -1;
    for (int c = 0; c < r->nc; c++)
        if (!strcmp(sg_filter_category_name(r->f, c), cat)) label = c;
    uint64_t pred = predict(r, text, strlen(text));
    count_fp(r, pred, label);
    if (label < 0) return NULL; /* the policy has no such category: it cannot be caught */
    r->n[label]++;
    if (pred >> label & 1) r->tp[label]++;
    if (!strcmp(cat, "pii")) return NULL;
    for (int kind = 0; kind < SG_EVADE_KINDS; kind++) {
        for (int rep = 0; rep < 3; rep++) {
            char *ev = sg_evade(text, kind, &r->rng);
            if (!ev) return sg_error_new("out of memory");
            uint64_t p = predict(r, ev, strlen(ev));
            free(ev);
            r->kind_n[kind]++;
            r->ev_n[label]++;
            if (p >> label & 1) {
                r->kind_tp[kind]++;
                r->ev_tp[label]++;
            }
        }
    }
    return NULL;
}

static sg_error *on_unseen(run *r, const char *path, int line, char *cat, char *text) {
    (void)path;
    (void)line;
    int label = -1;
    for (int c = 0; c < r->nc; c++)
        if (!strcmp(sg_filter_category_name(r->f, c), cat)) label = c;
    uint64_t pred = predict(r, text, strlen(text));
    r->unseen++;
    if (label >= 0 && (pred >> label & 1)) r->unseen_tp++;
    return NULL;
}

static sg_error *on_hard(run *r, const char *path, int line, char *cat, char *text) {
    (void)path;
    (void)line;
    (void)cat;
    uint64_t pred = predict(r, text, strlen(text));
    r->hard++;
    count_fp(r, pred, -1);
    if (pred) r->hard_flagged++;
    return NULL;
}

static json_t *ratio(long a, long b) { return b ? json_real((double)a / (double)b) : json_null(); }

sg_error *sg_filter_eval_run(const sg_filter *f, const sg_filter_eval_config *cfg, json_t **out) {
    *out = NULL;
    run r = {.f = f, .nc = sg_filter_n_categories(f)};
    if (r.nc > 64) return sg_error_new("filter evaluation: at most 64 categories");
    long *counts = calloc(5 * ((size_t)r.nc + 1), sizeof *counts);
    if (!counts) return sg_error_new("out of memory");
    r.tp = counts;
    r.fp = r.tp + r.nc;
    r.n = r.fp + r.nc;
    r.ev_tp = r.n + r.nc;
    r.ev_n = r.ev_tp + r.nc;
    r.rng = cfg->seed;
    r.examples = json_array();

    char *vpath = sg_path_join(cfg->data_dir, "violating.tsv");
    char *hpath = sg_path_join(cfg->data_dir, "hard_negatives.tsv");
    char *upath = sg_path_join(cfg->data_dir, "violating_unseen.tsv");
    sg_error *err = vpath && hpath && upath ? NULL : sg_error_new("out of memory");
    if (!err) err = read_tsv(vpath, 2, on_violating, &r);
    if (!err) err = read_tsv(hpath, 1, on_hard, &r);
    if (!err && access(upath, R_OK) == 0) err = read_tsv(upath, 2, on_unseen, &r);
    if (!err) err = read_clean(&r, cfg->heldout_dir);
    if (!err && r.err) err = r.err, r.err = NULL;
    free(vpath);
    free(hpath);
    free(upath);
    if (err) {
        sg_error_free(r.err);
        json_decref(r.examples);
        free(counts);
        return sg_error_wrap(err, "filter evaluation");
    }

    long tp = 0, fp = 0, n = 0, ev_tp = 0, ev_n = 0;
    json_t *cats = json_object();
    for (int c = 0; c < r.nc; c++) {
        tp += r.tp[c], fp += r.fp[c], n += r.n[c], ev_tp += r.ev_tp[c], ev_n += r.ev_n[c];
        json_t *o = json_object();
        json_object_set_new(o, "n", json_integer(r.n[c]));
        json_object_set_new(o, "tp", json_integer(r.tp[c]));
        json_object_set_new(o, "fp", json_integer(r.fp[c]));
        json_object_set_new(o, "precision", ratio(r.tp[c], r.tp[c] + r.fp[c]));
        json_object_set_new(o, "recall", ratio(r.tp[c], r.n[c]));
        json_object_set_new(o, "evasions", json_integer(r.ev_n[c]));
        json_object_set_new(o, "recall_evasions", ratio(r.ev_tp[c], r.ev_n[c]));
        json_object_set_new(cats, sg_filter_category_name(f, c), o);
    }
    json_t *kinds = json_object();
    for (int k = 0; k < SG_EVADE_KINDS; k++)
        json_object_set_new(kinds, sg_evasion_name(k), ratio(r.kind_tp[k], r.kind_n[k]));
    json_t *metrics = json_object();
    json_object_set_new(metrics, "precision", ratio(tp, tp + fp));
    json_object_set_new(metrics, "recall", ratio(tp, n));
    json_object_set_new(metrics, "recall_evasions", ratio(ev_tp, ev_n));
    json_object_set_new(metrics, "false_positive_rate", ratio(r.clean_flagged, r.clean));
    json_object_set_new(metrics, "hard_negative_fp_rate", ratio(r.hard_flagged, r.hard));
    json_object_set_new(metrics, "recall_unseen", ratio(r.unseen_tp, r.unseen));
    json_t *clean = json_object();
    json_object_set_new(clean, "sentences", json_integer(r.clean));
    json_object_set_new(clean, "flagged", json_integer(r.clean_flagged));
    json_object_set_new(clean, "hard_negatives", json_integer(r.hard));
    json_object_set_new(clean, "hard_negatives_flagged", json_integer(r.hard_flagged));
    json_object_set_new(clean, "examples", r.examples);
    json_t *o = json_object();
    json_object_set_new(o, "suite", json_string("filter"));
    json_object_set_new(o, "metrics", metrics);
    json_object_set_new(o, "violating", json_integer(n));
    json_object_set_new(o, "evasions", json_integer(ev_n));
    json_object_set_new(o, "evasion_recall_by_kind", kinds);
    json_object_set_new(o, "categories", cats);
    json_object_set_new(o, "clean", clean);
    json_object_set_new(o, "seed", json_integer((json_int_t)cfg->seed));
    free(counts);
    *out = o;
    return NULL;
}
