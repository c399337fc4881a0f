/* matcher.c — Aho-Corasick automaton; see matcher.h. A trie with sibling
 * lists (dense transitions at the root), failure links, and dictionary links
 * so each match is reported in O(1). */
#include "safety/matcher.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int child, sibling; /* first child, next sibling (-1 = none) */
    int fail;           /* longest proper suffix that is a trie node */
    int dict;           /* nearest node on the failure chain that ends a pattern */
    int pat;            /* first pattern ending here (-1 = none) */
    unsigned char c;
} node;

typedef struct {
    size_t len;
    int id, group, allow;
    int next; /* next pattern ending at the same node */
} pattern;

struct sg_matcher {
    node *nodes;
    int n_nodes, cap_nodes;
    pattern *pats;
    int n_pats, cap_pats;
    int root_next[256];
    size_t max_len;
    int built;
};

static int new_node(sg_matcher *m, unsigned char c) {
    if (m->n_nodes == m->cap_nodes) {
        int cap = m->cap_nodes ? m->cap_nodes * 2 : 256;
        node *n = realloc(m->nodes, (size_t)cap * sizeof *n);
        if (!n) return -1;
        m->nodes = n;
        m->cap_nodes = cap;
    }
    m->nodes[m->n_nodes] = (node){-1, -1, 0, -1, -1, c};
    return m->n_nodes++;
}

sg_matcher *sg_matcher_new(void) {
    sg_matcher *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (new_node(m, 0) < 0) {
        free(m);
        return NULL;
    }
    return m;
}

void sg_matcher_free(sg_matcher *m) {
    if (!m) return;
    free(m->nodes);
    free(m->pats);
    free(m);
}

static int find_child(const sg_matcher *m, int s, unsigned char c) {
    for (int k = m->nodes[s].child; k >= 0; k = m->nodes[k].sibling)
        if (m->nodes[k].c == c) return k;
    return -1;
}

sg_error *sg_matcher_add(sg_matcher *m, const char *pat, size_t len, int id, int group, int allow) {
    if (m->built) return sg_error_new("matcher: add after build");
    if (len == 0) return sg_error_new("matcher: empty pattern");
    int s = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)pat[i];
        int k = find_child(m, s, c);
        if (k < 0) {
            if ((k = new_node(m, c)) < 0) return sg_error_new("out of memory");
            m->nodes[k].sibling = m->nodes[s].child;
            m->nodes[s].child = k;
        }
        s = k;
    }
    if (m->n_pats == m->cap_pats) {
        int cap = m->cap_pats ? m->cap_pats * 2 : 64;
        pattern *p = realloc(m->pats, (size_t)cap * sizeof *p);
        if (!p) return sg_error_new("out of memory");
        m->pats = p;
        m->cap_pats = cap;
    }
    m->pats[m->n_pats] = (pattern){len, id, group, allow, m->nodes[s].pat};
    m->nodes[s].pat = m->n_pats++;
    if (len > m->max_len) m->max_len = len;
    return NULL;
}

sg_error *sg_matcher_build(sg_matcher *m) {
    int *queue = malloc((size_t)m->n_nodes * sizeof *queue);
    if (!queue) return sg_error_new("out of memory");
    int head = 0, tail = 0;
    for (int c = 0; c < 256; c++) m->root_next[c] = 0;
    for (int k = m->nodes[0].child; k >= 0; k = m->nodes[k].sibling) {
        m->root_next[m->nodes[k].c] = k;
        m->nodes[k].fail = 0;
        m->nodes[k].dict = -1;
        queue[tail++] = k;
    }
    while (head < tail) {
        int s = queue[head++];
        for (int k = m->nodes[s].child; k >= 0; k = m->nodes[k].sibling) {
            unsigned char c = m->nodes[k].c;
            int f = m->nodes[s].fail;
            int t;
            while ((t = f ? find_child(m, f, c) : m->root_next[c]) < 0) f = m->nodes[f].fail;
            if (t == k) t = 0;
            m->nodes[k].fail = t;
            m->nodes[k].dict = m->nodes[t].pat >= 0 ? t : m->nodes[t].dict;
            queue[tail++] = k;
        }
    }
    free(queue);
    m->built = 1;
    return NULL;
}

static sg_error *push(sg_match_list *l, sg_match x) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        sg_match *p = realloc(l->items, cap * sizeof *p);
        if (!p) return sg_error_new("out of memory");
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = x;
    return NULL;
}

sg_error *sg_matcher_scan(const sg_matcher *m, const char *text, size_t len, sg_match_widen widen, void *ctx,
                          sg_match_list *out) {
    if (!m->built) return sg_error_new("matcher: scan before build");
    sg_match_list terms = {0}, allows = {0};
    sg_error *err = NULL;
    int s = 0;
    for (size_t i = 0; i < len && !err; i++) {
        unsigned char c = (unsigned char)text[i];
        int t = 0;
        while (s && (t = find_child(m, s, c)) < 0) s = m->nodes[s].fail;
        s = s ? t : m->root_next[c];
        for (int o = m->nodes[s].pat >= 0 ? s : m->nodes[s].dict; o >= 0 && !err; o = m->nodes[o].dict) {
            for (int p = m->nodes[o].pat; p >= 0 && !err; p = m->pats[p].next) {
                const pattern *pp = &m->pats[p];
                sg_match x = {pp->id, pp->group, i + 1 - pp->len, i + 1};
                if (widen) widen(ctx, text, len, &x);
                err = push(pp->allow ? &allows : &terms, x);
            }
        }
    }
    for (size_t i = 0; i < terms.n && !err; i++) {
        const sg_match *x = &terms.items[i];
        int allowed = 0;
        for (size_t j = 0; j < allows.n && !allowed; j++) {
            const sg_match *a = &allows.items[j];
            allowed = a->group == x->group && a->start <= x->start && x->end <= a->end;
        }
        if (!allowed) err = push(out, *x);
    }
    sg_match_list_free(&terms);
    sg_match_list_free(&allows);
    return err;
}

size_t sg_matcher_max_len(const sg_matcher *m) { return m->max_len; }
size_t sg_matcher_count(const sg_matcher *m) { return (size_t)m->n_pats; }

void sg_match_list_free(sg_match_list *l) {
    if (!l) return;
    free(l->items);
    memset(l, 0, sizeof *l);
}
