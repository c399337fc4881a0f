/* matcher.h — Aho-Corasick multi-pattern matching over bytes: every term of
 * every category found in one pass over the text, overlaps included, with
 * allow-list patterns that cancel the term matches of their group lying
 * inside them ("Scunthorpe"). Patterns are byte strings (the filter feeds it
 * normalised text, see normalize.h). */
#ifndef SG_MATCHER_H
#define SG_MATCHER_H

#include <stddef.h>

#include "base/error.h"

typedef struct sg_matcher sg_matcher;

typedef struct {
    int id;       /* the caller's id given to sg_matcher_add */
    int group;    /* its group (the filter uses the category index) */
    size_t start; /* byte span in the scanned text */
    size_t end;
} sg_match;

typedef struct {
    sg_match *items;
    size_t n, cap;
} sg_match_list;

sg_matcher *sg_matcher_new(void);
void sg_matcher_free(sg_matcher *m);

/* Adds a pattern (len > 0). `allow` marks an allow-list entry: it is never
 * reported, and term matches of the same group inside its span are dropped. */
sg_error *sg_matcher_add(sg_matcher *m, const char *pat, size_t len, int id, int group,
                         int allow) SG_MUST_CHECK;

/* Builds the failure links; call once after the last add, before scanning. */
sg_error *sg_matcher_build(sg_matcher *m) SG_MUST_CHECK;

/* Appends every term match in text[0..len) to `out` (allow-listed ones
 * removed). The optional `widen` callback may widen each span before the
 * allow-list check (the filter widens matches to whole words). */
typedef void (*sg_match_widen)(void *ctx, const char *text, size_t len, sg_match *m);
sg_error *sg_matcher_scan(const sg_matcher *m, const char *text, size_t len, sg_match_widen widen, void *ctx,
                          sg_match_list *out) SG_MUST_CHECK;

/* Longest pattern in bytes; number of patterns. */
size_t sg_matcher_max_len(const sg_matcher *m);
size_t sg_matcher_count(const sg_matcher *m);

void sg_match_list_free(sg_match_list *l);

#endif
