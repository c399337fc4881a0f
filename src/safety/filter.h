/* filter.h — the content filter: policy rules (filter_rules.h) compiled into
 * one Aho-Corasick automaton over normalised text (normalize.h, matcher.h),
 * PCRE2 patterns, and built-in personal-data detectors; scanning reports
 * matches as spans of the ORIGINAL text; redaction; the decision for a prompt;
 * and a streaming filter for completions.
 *
 * Terms match whole words and phrases; a leading or trailing '*' lets a term
 * match inside a word ("*cunt*" with allow "scunthorpe"). A pattern written
 * "builtin:email", "builtin:phone" or "builtin:card_number" selects a built-in
 * detector (card numbers must pass the Luhn check); any other pattern is a
 * PCRE2 expression matched on the original text. Allow-list entries cancel
 * term matches of their category that lie inside them. */
#ifndef SG_FILTER_H
#define SG_FILTER_H

#include <stddef.h>

#include "base/error.h"
#include "safety/filter_rules.h"

typedef struct sg_filter sg_filter;

/* Which side of the model a text is on: a category applies to a side when its
 * on_input / on_output flag is set. SG_FILTER_ANY = every category. */
enum { SG_FILTER_INPUT = 1, SG_FILTER_OUTPUT = 2, SG_FILTER_ANY = 3 };

typedef struct {
    int category;            /* index into the rules' categories */
    sg_filter_action action; /* that category's action */
    size_t start, end;       /* byte span in the original text */
    const char *kind;        /* "term", "pattern", "email", "phone" or "card_number" */
} sg_filter_match;

typedef struct {
    sg_filter_match *items;
    size_t n, cap;
} sg_filter_matches;

/* One pattern compiled the way every scan matches it: "builtin:email",
 * "builtin:phone" or "builtin:card_number" selects a built-in detector,
 * anything else is a PCRE2 expression (UTF; bytes of the text that are not
 * valid UTF-8 never match). The one place a pattern is compiled. On error the
 * message is PCRE2's own ("missing closing parenthesis") or names the unknown
 * detector, and *offset is the byte offset in `src` where compiling stopped;
 * *offset is SIZE_MAX when the error is not the pattern's (out of memory). */
sg_error *sg_filter_pattern_compile(const char *src, sg_filter_pattern **out, size_t *offset) SG_MUST_CHECK;
void sg_filter_pattern_free(sg_filter_pattern *p);

/* Compiles `rules` (which the filter copies; the caller keeps ownership). A
 * category's `compiled` patterns are copied, not compiled again. */
sg_error *sg_filter_new(const sg_filter_rules *rules, sg_filter **out) SG_MUST_CHECK;
void sg_filter_free(sg_filter *f);

int sg_filter_n_categories(const sg_filter *f);
const char *sg_filter_category_name(const sg_filter *f, int category);
sg_filter_action sg_filter_category_action(const sg_filter *f, int category);

/* All matches in text[0..len) for categories that apply to `side`, sorted by
 * start, duplicates removed. Free with sg_filter_matches_free. */
sg_error *sg_filter_scan(const sg_filter *f, const char *text, size_t len, int side,
                         sg_filter_matches *out) SG_MUST_CHECK;
void sg_filter_matches_free(sg_filter_matches *m);

/* A copy of text with the spans of the REDACT-action matches (overlaps
 * merged) replaced by "[REDACTED]"; NUL-terminated, length in *out_len. */
char *sg_filter_redact(const char *text, size_t len, const sg_filter_matches *m, size_t *out_len);

/* What to do with a prompt: the strongest action among its matches. */
typedef enum {
    SG_VERDICT_PASS,
    SG_VERDICT_FLAG,
    SG_VERDICT_REDACT,
    SG_VERDICT_HARDCODED,
    SG_VERDICT_BLOCK,
} sg_filter_verdict;

/* The verdict one match's action calls for. */
sg_filter_verdict sg_filter_verdict_of(sg_filter_action action);

typedef struct {
    sg_filter_verdict verdict;
    int category;         /* the deciding category (-1 for PASS) */
    const char *response; /* HARDCODED: the category's predetermined answer (owned by the filter) */
    char *text;           /* REDACT: the redacted prompt (owned by the decision); else NULL */
    size_t text_len;
    sg_filter_matches matches; /* everything found, for the audit log and flags */
} sg_filter_decision;

sg_error *sg_filter_decide_input(const sg_filter *f, const char *text, size_t len,
                                 sg_filter_decision *out) SG_MUST_CHECK;
void sg_filter_decision_free(sg_filter_decision *d);
const char *sg_filter_verdict_name(sg_filter_verdict v);
const char *sg_filter_action_name(sg_filter_action a);

/* Streaming output filter. Text is pushed as the model produces it; the
 * stream holds back the last `hold` bytes (enough for the longest term with
 * separators and repeats, or a personal-data pattern) and releases text only
 * at word boundaries and never through a match, so a match split across
 * tokens is still caught. Released text has REDACT matches redacted. When a
 * BLOCK or HARDCODED category matches, `blocked` is set, nothing more is
 * released, and the completion should end with finish_reason
 * "content_filter". `text` and `flags` are owned by the stream and valid
 * until the next call. */
typedef struct {
    const char *text; /* releasable bytes (may be empty) */
    size_t len;
    int blocked;
    int category;                 /* the blocking category, or -1 */
    const sg_filter_match *flags; /* FLAG matches in the released text, offsets relative to the
                                     whole stream */
    size_t n_flags;
} sg_filter_chunk;

typedef struct sg_filter_stream sg_filter_stream;
sg_error *sg_filter_stream_new(const sg_filter *f, sg_filter_stream **out) SG_MUST_CHECK;
sg_error *sg_filter_stream_push(sg_filter_stream *s, const char *bytes, size_t n,
                                sg_filter_chunk *out) SG_MUST_CHECK;
/* The end of the completion: releases (or blocks) the rest. */
sg_error *sg_filter_stream_finish(sg_filter_stream *s, sg_filter_chunk *out) SG_MUST_CHECK;
size_t sg_filter_stream_hold(const sg_filter_stream *s);
void sg_filter_stream_free(sg_filter_stream *s);

#endif
