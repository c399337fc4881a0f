/* yaml_doc.h — a YAML file read as a tree (libyaml's document API) with every
 * problem reported at FILE:LINE:COL: node access under a visit budget (aliases
 * cannot make a walk explode), typed scalar readers, list readers, and mapping
 * key matching that warns about unknown keys ("did you mean ...?") and rejects
 * duplicates.
 *
 * Problems are collected, not returned one at a time, so that one pass over a
 * file reports all of them: a reader reports an error at the node and returns
 * 0, the caller goes on with the next key. sg_yaml_doc_finish turns what was
 * collected into one sg_error (one "FILE:LINE:COL: message" per line).
 *
 *     sg_yaml_doc d;
 *     sg_error *err = sg_yaml_doc_open(&d, "x.yaml", "the file", text, len);
 *     if (err) return err;                     // syntax error, at its line:column
 *     static const char *const keys[] = {"name", "size"};
 *     yaml_node_t *v[2], *k[2];
 *     yaml_node_t *root = sg_yaml_doc_root(&d);
 *     if (root && sg_yaml_keys(&d, root, "the file", keys, 2, v, k)) {
 *         if (v[0]) sg_yaml_string(&d, v[0], "name", &name);
 *         if (v[1]) sg_yaml_int(&d, v[1], "size", 1, 100, &size);
 *     }
 *     char **warnings; int n_warnings;
 *     err = sg_yaml_doc_finish(&d, &warnings, &n_warnings);
 *
 * Lines and columns are 1-based; warnings read "FILE:LINE:COL: warning: ...".
 * Out of memory anywhere makes sg_yaml_doc_finish return "out of memory". */
#ifndef SG_YAML_DOC_H
#define SG_YAML_DOC_H

#include <stddef.h>
#include <yaml.h>

#include "base/buf.h"
#include "base/error.h"

/* At most this many errors are listed ("too many errors; stopping here"). */
#define SG_YAML_MAX_ERRORS 50
/* At most this many warnings are kept. */
#define SG_YAML_MAX_WARNINGS 1000
/* Every node visit costs one unit: aliases let a small document name the same
 * subtree many times, and this keeps a walk linear-ish. */
#define SG_YAML_NODE_BUDGET 1000000L
/* Lists and mappings are checked for duplicates pairwise: their length is capped. */
#define SG_YAML_MAX_ITEMS 4096

typedef struct {
    const char *file; /* borrowed: the name used in messages */
    const char *what; /* borrowed: what the document is, for messages ("the policy") */
    yaml_parser_t parser;
    yaml_document_t doc;
    sg_buf errors; /* "\n"-joined */
    int n_errors;
    char **warnings;
    int n_warnings;
    int oom;
    long budget;
    int walkable;           /* a root that passed the size checks */
    unsigned char *visited; /* sg_yaml_seen's marks, one per node (allocated on first use) */
    int one_document;       /* set by the caller: a second document is an error, not a warning */
} sg_yaml_doc;

/* Parses the first document of text[0..len); `what` names it in messages
 * ("the policy is too large ..."). A syntax error is returned at once (d is
 * then cleaned up); anything else, such as a list or mapping over
 * SG_YAML_MAX_ITEMS entries, is collected for sg_yaml_doc_finish. */
sg_error *sg_yaml_doc_open(sg_yaml_doc *d, const char *file, const char *what, const char *text,
                           size_t len) SG_MUST_CHECK;

/* The root node, or NULL when the document is empty or too large to walk
 * (the error has been collected). */
yaml_node_t *sg_yaml_doc_root(sg_yaml_doc *d);
/* Is the document empty (no node at all: only comments or nothing)? */
int sg_yaml_doc_empty(const sg_yaml_doc *d);
/* Has the node been visited before in this walk? Marks it visited. An alias
 * shows up as a second visit of the node it names: for formats that accept
 * no aliases. Returns -1 on out of memory (recorded). */
int sg_yaml_seen(sg_yaml_doc *d, const yaml_node_t *n);

/* Frees the document. Warns when the file holds a second document (ignored)
 * and reports an exhausted node budget. Returns NULL with the warnings handed
 * to the caller (*warnings, NULL when none; free each and the array), or the
 * collected errors as one sg_error (warnings freed). */
sg_error *sg_yaml_doc_finish(sg_yaml_doc *d, char ***warnings, int *n_warnings) SG_MUST_CHECK;

/* ------------------------------------------------------------ reporting */

void sg_yaml_error(sg_yaml_doc *d, const yaml_node_t *at, const char *fmt, ...) SG_PRINTF(3, 4);
void sg_yaml_warn(sg_yaml_doc *d, const yaml_node_t *at, const char *fmt, ...) SG_PRINTF(3, 4);
/* Records an allocation failure (the caller's own). */
void sg_yaml_oom(sg_yaml_doc *d);
/* strdup that records a failure. */
char *sg_yaml_strdup(sg_yaml_doc *d, const char *s);
/* Has anything failed to allocate? Walks stop early then. */
int sg_yaml_failed(const sg_yaml_doc *d);

/* ---------------------------------------------------------------- nodes */

/* 1-based position of a node (1 for NULL). */
int sg_yaml_line(const yaml_node_t *n);
int sg_yaml_column(const yaml_node_t *n);
/* "a scalar", "null", "a list", "a mapping": for messages. */
const char *sg_yaml_kind(const yaml_node_t *n);
/* A plain scalar "", "~" or "null" (any case YAML allows). */
int sg_yaml_is_null(const yaml_node_t *n);
/* A scalar's text (NUL-terminated). */
const char *sg_yaml_scalar(const yaml_node_t *n);
/* Entries of a list or mapping (0 for a scalar). */
int sg_yaml_length(const yaml_node_t *n);
/* The i-th item of a list, or NULL (budget spent, or a dangling id). */
yaml_node_t *sg_yaml_item(sg_yaml_doc *d, const yaml_node_t *list, int i);
/* The i-th pair of a mapping; 0 when either node is missing. */
int sg_yaml_pair(sg_yaml_doc *d, const yaml_node_t *map, int i, yaml_node_t **key, yaml_node_t **value);
/* A list (type YAML_SEQUENCE_NODE) or mapping (YAML_MAPPING_NODE) about to
 * be read into an array: reports "<must_be>, not <kind>" when `n` is
 * something else, else returns a zeroed array of *count + 1 elements of
 * `size` bytes, *count being the number of entries. NULL when n is not of
 * that type or on out of memory (recorded). */
void *sg_yaml_alloc_entries(sg_yaml_doc *d, const yaml_node_t *n, yaml_node_type_t type, const char *must_be,
                            size_t size, int *count);
/* Budget left for visiting nodes? */
int sg_yaml_budget_left(const sg_yaml_doc *d);

/* -------------------------------------------------------- typed readers */
/* Each reads node `n` as the value of `key` (named in messages), reports an
 * error at n and returns 0 when it does not fit, else sets *out, returns 1. */

/* Any non-null scalar without NUL bytes; replaces (frees) *out. */
int sg_yaml_string(sg_yaml_doc *d, const yaml_node_t *n, const char *key, char **out);
/* A plain integer in [lo, hi]. */
int sg_yaml_long(sg_yaml_doc *d, const yaml_node_t *n, const char *key, long lo, long hi, long *out);
int sg_yaml_int(sg_yaml_doc *d, const yaml_node_t *n, const char *key, int lo, int hi, int *out);
/* A plain finite number. */
int sg_yaml_double(sg_yaml_doc *d, const yaml_node_t *n, const char *key, double *out);
/* true/false (True, TRUE, ...). */
int sg_yaml_bool(sg_yaml_doc *d, const yaml_node_t *n, const char *key, int *out);
/* One of names[0..count): *out is its index. */
int sg_yaml_enum(sg_yaml_doc *d, const yaml_node_t *n, const char *key, const char *const *names, int count,
                 int *out);
/* A list of strings (null = empty), or with `single_ok` one string standing
 * for a list of one. *out gets a NULL-terminated array of the good items,
 * *count their number; *nodes (if asked) their nodes, for later errors.
 * Returns 0 if anything was wrong (what was good is still returned). */
int sg_yaml_string_list(sg_yaml_doc *d, const yaml_node_t *n, const char *key, int single_ok, char ***out,
                        int *count, yaml_node_t ***nodes);

/* Matches the keys of mapping `n` against keys[0..nkeys): vals[i] gets the
 * value of keys[i] (NULL if absent), knodes[i] its key node. Unknown keys are
 * warnings (with a suggestion for near misses), duplicate keys errors.
 * Returns 0 if `n` is not a mapping (an error naming `what` is reported). */
int sg_yaml_keys(sg_yaml_doc *d, const yaml_node_t *n, const char *what, const char *const *keys, int nkeys,
                 yaml_node_t **vals, yaml_node_t **knodes);

/* The index of the name in names[0..count) within edit distance 2 of
 * `word` (the closest), or -1: for "did you mean" messages. */
int sg_yaml_closest(const char *word, const char *const *names, int count);

#endif
