/* test_filter.c — content filter: evasions, allow-lists, offsets, PII with
 * Luhn, redaction, input decisions and the streaming output filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/init.h"
#include "safety/default_rules.h"
#include "safety/filter.h"
#include "safety/moderation.h"

static char *threat_terms[] = {"kill you", "pipe bomb"};
static char *slur_terms[] = {"*cunt*"};
static char *slur_allow[] = {"scunthorpe"};
static char *pii_patterns[] = {"builtin:email", "builtin:phone", "builtin:card_number"};
static char *hc_terms[] = {"end my life"};
static char *spam_terms[] = {"cheap viagra"};
static sg_filter_category cats[] = {
    {"violence", threat_terms, 2, 0, 0, 0, 0, SG_FILTER_BLOCK, 0, 1, 1, 0},
    {"harassment", slur_terms, 1, 0, 0, slur_allow, 1, SG_FILTER_BLOCK, 0, 1, 1, 0},
    {"pii", 0, 0, pii_patterns, 3, 0, 0, SG_FILTER_REDACT, 0, 1, 1, 0},
    {"self-harm", hc_terms, 1, 0, 0, 0, 0, SG_FILTER_HARDCODED, "You are not alone.", 1, 0, 0},
    {"spam", spam_terms, 1, 0, 0, 0, 0, SG_FILTER_FLAG, 0, 1, 1, 0},
};
static sg_filter_rules rules = {cats, 5, 0, 0, 0};
static sg_filter *f;

static int setup(void **state) {
    (void)state;
    sg_error *err = sg_filter_new(&rules, &f);
    if (err) fprintf(stderr, "%s\n", sg_error_message(err));
    return err ? -1 : 0;
}
static int teardown(void **state) {
    (void)state;
    sg_filter_free(f);
    return 0;
}

/* The categories matched in `text`, as a bit set. */
static unsigned cats_of(const char *text) {
    sg_filter_matches m;
    assert_null(sg_filter_scan(f, text, strlen(text), SG_FILTER_ANY, &m));
    unsigned bits = 0;
    for (size_t i = 0; i < m.n; i++) bits |= 1u << m.items[i].category;
    sg_filter_matches_free(&m);
    return bits;
}

static void evasions_are_caught(void **state) {
    (void)state;
    const char *evasive[] = {
        "I will kill you",
        "I will KILL YOU",
        "i will k1ll y0u",
        "i will kiiiilll youuu",
        "i will k.i.l.l you",
        "i will k i l l you",
        "i will \xd0\xbaill you",
        /* Cyrillic ka */ "i will \xef\xbd\x8b\xef\xbd\x89ll you",
        "i will ki\xe2\x80\x8bll you",
        "how to make a p1pe-b0mb",
        "a p.i.p.e b.o.m.b",
    };
    for (size_t i = 0; i < sizeof evasive / sizeof *evasive; i++)
        if (cats_of(evasive[i]) != 1u) fail_msg("not caught as violence only: \"%s\"", evasive[i]);
}

static void clean_text_and_word_boundaries(void **state) {
    (void)state;
    assert_int_equal(cats_of("The skill you need is patience."), 0); /* "skill you" is not "kill you" */
    assert_int_equal(cats_of("They will kill young trees with frost."), 0);
    assert_int_equal(cats_of("It costs $5 and 3 apples."), 0);
    assert_int_equal(cats_of("Viagra is a drug; cheap drugs help."), 0);
}

static void scunthorpe_allow_list(void **state) {
    (void)state;
    assert_int_equal(cats_of("I live in Scunthorpe."), 0);
    assert_int_equal(cats_of("SCUNTHORPE United"), 0);
    assert_int_equal(cats_of("you cunt"), 1u << 1);
    assert_int_equal(cats_of("what a cuntish thing"), 1u << 1); /* inside a word: the term has '*' */
    assert_int_equal(cats_of("Scunthorpe, you c*u*n*t"), 1u << 1);
}

static void offsets_are_in_the_original_text(void **state) {
    (void)state;
    const char *text = "Well, I w\xc3\xafll K-1-L-L   y\xd0\xbeu!"; /* "will" with i-diaeresis, Cyrillic o */
    sg_filter_matches m;
    assert_null(sg_filter_scan(f, text, strlen(text), SG_FILTER_OUTPUT, &m));
    assert_int_equal(m.n, 1);
    assert_int_equal(m.items[0].category, 0);
    assert_string_equal(m.items[0].kind, "term");
    /* "kill you" covers from the K to the last Cyrillic letter, not the '!' */
    const char *k = strchr(text, 'K');
    assert_int_equal(m.items[0].start, (size_t)(k - text));
    assert_int_equal(m.items[0].end, strlen(text) - 1);
    sg_filter_matches_free(&m);
}

static void pii_detectors_with_luhn(void **state) {
    (void)state;
    const char *text = "mail bob.smith@example.co.uk, call +1 (555) 123-4567, "
                       "card 4111 1111 1111 1111, not a card 4111 1111 1111 1112, year 2017-2018";
    sg_filter_matches m;
    assert_null(sg_filter_scan(f, text, strlen(text), SG_FILTER_INPUT, &m));
    int email = 0, phone = 0, card = 0;
    for (size_t i = 0; i < m.n; i++) {
        const sg_filter_match *x = &m.items[i];
        assert_int_equal(x->category, 2);
        char span[64] = {0};
        memcpy(span, text + x->start, x->end - x->start < 63 ? x->end - x->start : 63);
        if (!strcmp(x->kind, "email")) email++, assert_string_equal(span, "bob.smith@example.co.uk");
        if (!strcmp(x->kind, "phone")) phone++, assert_string_equal(span, "+1 (555) 123-4567");
        if (!strcmp(x->kind, "card_number")) card++, assert_string_equal(span, "4111 1111 1111 1111");
    }
    assert_int_equal(email, 1);
    assert_int_equal(phone, 1);
    assert_int_equal(card, 1); /* the ...1112 number fails the Luhn check */
    size_t n;
    char *red = sg_filter_redact(text, strlen(text), &m, &n);
    assert_string_equal(red,
                        "mail [REDACTED], call [REDACTED], card [REDACTED], not a card 4111 1111 1111 1112, "
                        "year 2017-2018");
    assert_int_equal(n, strlen(red));
    free(red);
    sg_filter_matches_free(&m);
}

static void input_decisions(void **state) {
    (void)state;
    sg_filter_decision d;
    const char *t1 = "hello there";
    assert_null(sg_filter_decide_input(f, t1, strlen(t1), &d));
    assert_int_equal(d.verdict, SG_VERDICT_PASS);
    sg_filter_decision_free(&d);
    const char *t2 = "buy cheap v1agra, mail me at a@b.io";
    assert_null(sg_filter_decide_input(f, t2, strlen(t2), &d));
    assert_int_equal(d.verdict, SG_VERDICT_REDACT);
    assert_string_equal(d.text, "buy cheap v1agra, mail me at [REDACTED]");
    assert_int_equal(d.matches.n, 2);
    sg_filter_decision_free(&d);
    const char *t3 = "I want to end my l1fe, a@b.io";
    assert_null(sg_filter_decide_input(f, t3, strlen(t3), &d));
    assert_int_equal(d.verdict, SG_VERDICT_HARDCODED);
    assert_string_equal(d.response, "You are not alone.");
    assert_string_equal(sg_filter_category_name(f, d.category), "self-harm");
    sg_filter_decision_free(&d);
    const char *t4 = "end my life... and I will kill you";
    assert_null(sg_filter_decide_input(f, t4, strlen(t4), &d));
    assert_int_equal(d.verdict, SG_VERDICT_BLOCK);
    assert_string_equal(sg_filter_verdict_name(d.verdict), "block");
    sg_filter_decision_free(&d);
    /* self-harm applies to input only */
    sg_filter_matches m;
    assert_null(sg_filter_scan(f, t3, strlen(t3), SG_FILTER_OUTPUT, &m));
    assert_int_equal(m.n, 1);
    assert_int_equal(m.items[0].category, 2);
    sg_filter_matches_free(&m);
}

/* Pushes `pieces` through a stream, collecting the released text. */
static int run_stream(const char *const *pieces, size_t n, char *out, size_t cap, int *flags) {
    sg_filter_stream *s;
    assert_null(sg_filter_stream_new(f, &s));
    size_t o = 0;
    int blocked = 0;
    *flags = 0;
    for (size_t i = 0; i <= n && !blocked; i++) {
        sg_filter_chunk c;
        if (i < n)
            assert_null(sg_filter_stream_push(s, pieces[i], strlen(pieces[i]), &c));
        else
            assert_null(sg_filter_stream_finish(s, &c));
        assert_true(o + c.len < cap);
        memcpy(out + o, c.text, c.len);
        o += c.len;
        *flags += (int)c.n_flags;
        blocked = c.blocked;
    }
    out[o] = '\0';
    sg_filter_stream_free(s);
    return blocked;
}

static void stream_catches_split_matches(void **state) {
    (void)state;
    char out[4096];
    int flags;
    const char *split[] = {"Sure. I w", "ill k", "1", "l", "l y", "ou and then", " more."};
    assert_true(run_stream(split, 7, out, sizeof out, &flags));
    assert_null(strstr(out, "k1")); /* nothing of the match was released */

    const char *clean[] = {"The skill ", "you need ", "is patience, ", "and a lot ", "of it."};
    assert_false(run_stream(clean, 5, out, sizeof out, &flags));
    assert_string_equal(out, "The skill you need is patience, and a lot of it.");

    const char *pii[] = {"write to bob", ".smith@exa", "mple.com today; ", "buy cheap ", "vi", "agra now"};
    assert_false(run_stream(pii, 6, out, sizeof out, &flags));
    assert_string_equal(out, "write to [REDACTED] today; buy cheap viagra now");
    assert_int_equal(flags, 1);
}

static void stream_releases_with_bounded_delay(void **state) {
    (void)state;
    sg_filter_stream *s;
    assert_null(sg_filter_stream_new(f, &s));
    size_t hold = sg_filter_stream_hold(s), released = 0, pushed = 0;
    for (int i = 0; i < 200; i++) {
        sg_filter_chunk c;
        assert_null(sg_filter_stream_push(s, "word ", 5, &c));
        pushed += 5;
        released += c.len;
        assert_false(c.blocked);
        assert_true(pushed - released <= hold + 5); /* never more than `hold` behind (plus one word) */
    }
    assert_true(released > 0);
    sg_filter_stream_free(s);
}

static void bad_rules_are_rejected(void **state) {
    (void)state;
    char *bad_rx[] = {"(unclosed"};
    sg_filter_category c1 = {"bad", 0, 0, bad_rx, 1, 0, 0, SG_FILTER_BLOCK, 0, 1, 1, 0};
    sg_filter_rules r1 = {&c1, 1, 0, 0, 0};
    sg_filter *g = NULL;
    sg_error *err = sg_filter_new(&r1, &g);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "category 'bad'"));
    assert_non_null(strstr(sg_error_message(err), "(unclosed"));
    sg_error_free(err);
    char *empty_term[] = {"!!!"};
    sg_filter_category c2 = {"empty", empty_term, 1, 0, 0, 0, 0, SG_FILTER_BLOCK, 0, 1, 1, 0};
    sg_filter_rules r2 = {&c2, 1, 0, 0, 0};
    err = sg_filter_new(&r2, &g);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "no letters or digits"));
    sg_error_free(err);
    sg_filter_category c3 = {"hc", hc_terms, 1, 0, 0, 0, 0, SG_FILTER_HARDCODED, 0, 1, 1, 0};
    sg_filter_rules r3 = {&c3, 1, 0, 0, 0};
    err = sg_filter_new(&r3, &g);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "needs a response"));
    sg_error_free(err);
}

static void default_rules_compile(void **state) {
    (void)state;
    sg_filter *g;
    assert_null(sg_filter_new(sg_default_filter_rules(), &g));
    assert_int_equal(sg_filter_n_categories(g), 8);
    const char *t = "summa cum laude graduates";
    sg_filter_matches m;
    assert_null(sg_filter_scan(g, t, strlen(t), SG_FILTER_ANY, &m));
    assert_int_equal(m.n, 0);
    sg_filter_matches_free(&m);
    sg_filter_free(g);
}

static void moderation_requests(void **state) {
    (void)state;
    json_error_t je;
    json_t *body = json_loads("{\"input\": [\"I will k1ll you\", \"nice weather\"]}", 0, &je);
    json_t *r;
    assert_null(sg_moderate_request(f, body, "filter", &r));
    json_t *res = json_object_get(r, "results");
    assert_int_equal(json_array_size(res), 2);
    assert_true(json_is_true(json_object_get(json_array_get(res, 0), "flagged")));
    assert_true(
        json_is_true(json_object_get(json_object_get(json_array_get(res, 0), "categories"), "violence")));
    assert_true(json_is_false(json_object_get(json_array_get(res, 1), "flagged")));
    assert_string_equal(json_string_value(json_object_get(r, "model")), "filter");
    json_decref(r);
    json_decref(body);
    const char *bad[] = {"[]",
                         "{}",
                         "{\"input\": 3}",
                         "{\"input\": []}",
                         "{\"input\": [\"a\", 1]}",
                         "{\"input\": \"a\", \"model\": 1}"};
    const char *why[] = {"JSON object", "'input' is required", "string or an array",
                         "empty array", "'input[1]'",          "'model'"};
    for (int i = 0; i < 6; i++) {
        body = json_loads(bad[i], 0, &je);
        sg_error *err = sg_moderate_request(f, body, "filter", &r);
        assert_non_null(err);
        if (!strstr(sg_error_message(err), why[i])) fail_msg("%s: %s", bad[i], sg_error_message(err));
        sg_error_free(err);
        json_decref(body);
    }
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(evasions_are_caught),          cmocka_unit_test(clean_text_and_word_boundaries),
        cmocka_unit_test(scunthorpe_allow_list),        cmocka_unit_test(offsets_are_in_the_original_text),
        cmocka_unit_test(pii_detectors_with_luhn),      cmocka_unit_test(input_decisions),
        cmocka_unit_test(stream_catches_split_matches), cmocka_unit_test(stream_releases_with_bounded_delay),
        cmocka_unit_test(bad_rules_are_rejected),       cmocka_unit_test(default_rules_compile),
        cmocka_unit_test(moderation_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
