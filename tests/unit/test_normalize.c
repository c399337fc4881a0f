/* test_normalize.c — the evasion-resistant normal form and its offset map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "base/init.h"
#include "safety/matcher.h"
#include "safety/normalize.h"

static sg_normalizer *nz;

static int setup(void **state) {
    (void)state;
    return sg_normalizer_new(NULL, NULL, 0, &nz) ? -1 : 0;
}
static int teardown(void **state) {
    (void)state;
    sg_normalizer_free(nz);
    return 0;
}

static void check(const char *in, sg_norm_view view, const char *want) {
    sg_norm_text t;
    assert_null(sg_normalize(nz, in, strlen(in), view, &t));
    if (strcmp(t.text, want)) fail_msg("normalize(\"%s\") = \"%s\", want \"%s\"", in, t.text, want);
    sg_norm_text_free(&t);
}

static void case_width_marks_and_confusables(void **state) {
    (void)state;
    check("Spam", SG_NORM_WORDS, " spam ");
    check("SPAM", SG_NORM_WORDS, " spam ");
    check("\xef\xbd\x93\xef\xbd\x90\xef\xbd\x81\xef\xbd\x8d", SG_NORM_WORDS, " spam "); /* fullwidth */
    check("\xf0\x9d\x90\xac\xf0\x9d\x90\xa9\xf0\x9d\x90\x9a\xf0\x9d\x90\xa6", SG_NORM_WORDS,
          " spam ");                                             /* math bold */
    check("\xd1\x95\xd1\x80\xd0\xb0m", SG_NORM_WORDS, " spam "); /* Cyrillic dze, er, a */
    check("sp\xce\xb1m", SG_NORM_WORDS, " spam ");               /* Greek alpha */
    check("spa\xcc\x81m", SG_NORM_WORDS, " spam ");              /* combining acute */
    check("sp\xc3\xa1m", SG_NORM_WORDS, " spam ");               /* precomposed a-acute */
    check("sp\xe2\x80\x8b"
          "am",
          SG_NORM_WORDS, " spam "); /* zero-width space */
    check("I", SG_NORM_WORDS, " i ");
    check("l", SG_NORM_WORDS, " i ");
    assert_int_equal(sg_skeleton_char(0x0410), 'a'); /* Cyrillic capital A */
    assert_int_equal(sg_skeleton_char('Q'), 'q');
}

static void leetspeak_only_inside_words(void **state) {
    (void)state;
    check("k1ll", SG_NORM_WORDS, " ki ");
    check("kill", SG_NORM_WORDS, " ki ");
    check("$p4m", SG_NORM_WORDS, " spam ");
    check("sp@m", SG_NORM_WORDS, " spam ");
    check("$5 off", SG_NORM_WORDS, " 5 of "); /* arithmetic stays arithmetic */
    check("1990", SG_NORM_WORDS, " 190 ");    /* digits collapse too, the same for patterns */
    check("spam!", SG_NORM_WORDS, " spam ");  /* trailing punctuation is not leet */
    check("h3ll0 there!", SG_NORM_WORDS, " heio there ");
    check("h3nt@!", SG_NORM_WORDS, " hentai "); /* '!' ends a word written in leet */
    check("nude$", SG_NORM_WORDS, " nudes ");
    check("8 0 m b", SG_NORM_WORDS, " b o m b "); /* spaced-out leet reads as one token */
    check("8 0 m b", SG_NORM_JOINED, " bomb ");
}

static void repeats_collapse(void **state) {
    (void)state;
    check("spaaaaam", SG_NORM_WORDS, " spam ");
    check("sspam  ,  spam", SG_NORM_WORDS, " spam spam ");
    check("", SG_NORM_WORDS, " ");
}

static void separators_inside_words(void **state) {
    (void)state;
    check("s.p.a.m", SG_NORM_WORDS, " s p a m ");
    check("s.p.a.m", SG_NORM_JOINED, " spam ");
    check("s p a m now", SG_NORM_JOINED, " spam now ");
    check("s-p_a*m", SG_NORM_JOINED, " spam ");
    check("a spam b", SG_NORM_JOINED, " a spam b "); /* single letters next to words stay apart */
    check("well, then", SG_NORM_JOINED, " wei then ");
}

static void offsets_map_back(void **state) {
    (void)state;
    const char *in = "xx K\xd0\x86\xe2\x80\x8bLLL! yy"; /* K, Cyrillic I, ZWSP, LLL */
    sg_norm_text t;
    assert_null(sg_normalize(nz, in, strlen(in), SG_NORM_WORDS, &t));
    assert_string_equal(t.text, " x ki y ");
    /* "ki" spans the original bytes of "K\xd0\x86\xe2\x80\x8bLLL" */
    const char *k = strstr(t.text, "ki");
    size_t ks = (size_t)(k - t.text);
    assert_int_equal(t.orig_start[ks], 3);
    assert_int_equal(t.orig_end[ks + 1], 3 + 1 + 2 + 3 + 3);
    sg_norm_text_free(&t);
}

static void custom_leet_and_bad_entries(void **state) {
    (void)state;
    char *from[] = {"%"}, *to[] = {"x"};
    sg_normalizer *n2;
    assert_null(sg_normalizer_new(from, to, 1, &n2));
    sg_norm_text t;
    assert_null(sg_normalize(n2, "%ray", 4, SG_NORM_WORDS, &t));
    assert_string_equal(t.text, " xray ");
    sg_norm_text_free(&t);
    sg_normalizer_free(n2);
    char *bad[] = {"ab"};
    sg_error *err = sg_normalizer_new(bad, to, 1, &n2);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "exactly one character"));
    sg_error_free(err);
}

static void matcher_overlaps_and_allow(void **state) {
    (void)state;
    sg_matcher *m = sg_matcher_new();
    assert_null(sg_matcher_add(m, "he", 2, 0, 0, 0));
    assert_null(sg_matcher_add(m, "she", 3, 1, 0, 0));
    assert_null(sg_matcher_add(m, "hers", 4, 2, 0, 0));
    assert_null(sg_matcher_add(m, "his", 3, 3, 1, 0));
    assert_null(sg_matcher_add(m, "ushers", 6, 4, 0, 1)); /* allow-list for group 0 */
    assert_null(sg_matcher_build(m));
    sg_match_list l = {0};
    assert_null(sg_matcher_scan(m, "ushers his shed", 15, NULL, NULL, &l));
    /* she, he, hers inside "ushers" are allowed; his (group 1) and she, he in "shed" remain */
    int seen[5] = {0};
    for (size_t i = 0; i < l.n; i++) seen[l.items[i].id]++;
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 0);
    assert_int_equal(seen[3], 1);
    assert_int_equal(l.n, 3);
    sg_match_list_free(&l);
    assert_int_equal(sg_matcher_max_len(m), 6);
    sg_matcher_free(m);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_width_marks_and_confusables),
        cmocka_unit_test(leetspeak_only_inside_words),
        cmocka_unit_test(repeats_collapse),
        cmocka_unit_test(separators_inside_words),
        cmocka_unit_test(offsets_map_back),
        cmocka_unit_test(custom_leet_and_bad_entries),
        cmocka_unit_test(matcher_overlaps_and_allow),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
