/* test_tokenizer.c — the tokenizer API (src/engine/tokenizer.h) and BPE
 * training (src/train/bpe_train.h) on small tokenizers: one trained here on a
 * short text, and hand-written vocab/merges files for exact merge order and
 * error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first. */
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/init.h"
#include "engine/tokenizer.h"
#include "train/bpe_train.h"

static const char CORPUS[] =
    "The government of the people, by the people, for the people, shall not perish from the earth.\n"
    "We the People of the United States, in Order to form a more perfect Union, establish Justice,\n"
    "insure domestic Tranquility, provide for the common defence, promote the general Welfare.\n"
    "The state of the Union is strong; the state of the Union is sound. It's 1776 and 2024.\n"
    "<|endoftext|>Call me Ishmael. Some years ago - never mind how long precisely - having little\n"
    "or no money in my purse, and nothing particular to interest me on shore, I thought I would\n"
    "sail about a little and see the watery part of the world. \xff\xfe Привет, мир! 你好 \xf0\x9f\x98\x80\n";

/* ---- helpers --------------------------------------------------------------- */

static char *make_dir(void) {
    char *dir = strdup("/tmp/sg_tok_XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_dir(char *dir) {
    const char *names[] = {"vocab.json", "merges.txt"};
    for (int i = 0; i < 2; i++) {
        char *p = sg_path_join(dir, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
    free(dir);
}

static void write_file(const char *dir, const char *name, const char *text) {
    char *p = sg_path_join(dir, name);
    assert_null(sg_file_write_atomic(p, text, strlen(text)));
    free(p);
}

static char *read_file(const char *dir, const char *name) {
    char *p = sg_path_join(dir, name), *data;
    size_t n;
    assert_null(sg_file_read(p, &data, &n));
    free(p);
    return data;
}

static char *train_dir(const char *text, size_t len, int vocab) {
    char *dir = make_dir();
    sg_bpe_trainer *tr;
    assert_null(sg_bpe_trainer_new(&tr));
    assert_null(sg_bpe_trainer_add_text(tr, text, len));
    sg_error *err = sg_bpe_trainer_train(tr, vocab, dir);
    if (err) fail_msg("training: %s", sg_error_message(err));
    sg_bpe_trainer_free(tr);
    return dir;
}

static void assert_roundtrip(const sg_tokenizer *t, const char *text, size_t len, int special) {
    int *ids, n;
    assert_null(sg_tokenizer_encode(t, text, len, special, &ids, &n));
    char *back;
    size_t blen;
    assert_null(sg_tokenizer_decode(t, ids, n, &back, &blen));
    assert_int_equal(blen, len);
    assert_memory_equal(back, text, len);
    /* token_bytes agrees with decode. */
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t tl;
        const char *tb = sg_tokenizer_token_bytes(t, ids[i], &tl);
        assert_non_null(tb);
        assert_true(off + tl <= len);
        assert_memory_equal(tb, text + off, tl);
        off += tl;
    }
    assert_int_equal(off, len);
    free(back);
    free(ids);
}

/* A vocabulary of the 256 byte tokens (GPT-2 order) plus `extra` tokens,
 * written as vocab.json; `extra` is a list of JSON-escaped strings. */
static void write_vocab(const char *dir, const char *const *extra, int n_extra) {
    char *buf = malloc(1 << 16), *p = buf;
    p += sprintf(p, "{");
    for (int i = 0; i < 256; i++) {
        unsigned cp = sg_bpe_byte_to_cp(sg_bpe_base_byte(i));
        if (cp == '"' || cp == '\\')
            p += sprintf(p, "\"\\%c\": %d, ", (char)cp, i);
        else
            p += sprintf(p, "\"\\u%04x\": %d, ", cp, i);
    }
    for (int i = 0; i < n_extra; i++) p += sprintf(p, "\"%s\": %d, ", extra[i], 256 + i);
    p += sprintf(p, "\"<|endoftext|>\": %d}\n", 256 + n_extra);
    write_file(dir, "vocab.json", buf);
    free(buf);
}

static char *load_error(const char *dir) {
    sg_tokenizer *t;
    sg_error *err = sg_tokenizer_load(dir, &t);
    assert_non_null(err);
    assert_null(t);
    char *msg = strdup(sg_error_message(err));
    sg_error_free(err);
    return msg;
}

#define assert_contains(hay, needle)                                                                         \
    do {                                                                                                     \
        if (!strstr((hay), (needle))) fail_msg("'%s' does not contain '%s'", (hay), (needle));               \
    } while (0)

/* ---- tests ---------------------------------------------------------------- */

static void trained_tokenizer_round_trips(void **state) {
    (void)state;
    char *dir = train_dir(CORPUS, sizeof CORPUS - 1, 320);
    sg_tokenizer *t;
    assert_null(sg_tokenizer_load(dir, &t));
    assert_int_equal(sg_tokenizer_vocab_size(t), 320);
    assert_int_equal(sg_tokenizer_eot(t), 319);
    assert_roundtrip(t, CORPUS, sizeof CORPUS - 1, 0);
    assert_roundtrip(t, CORPUS, sizeof CORPUS - 1, 1);
    const char odd[] = "\x00\x01 \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 trailing  \n\n\n\t";
    assert_roundtrip(t, odd, sizeof odd - 1, 0);
    assert_roundtrip(t, "", 0, 0);
    /* Merges were learned and are used: " the" occurs often enough to be one token. */
    int *ids, n;
    assert_null(sg_tokenizer_encode(t, " the", 4, 0, &ids, &n));
    assert_int_equal(n, 1);
    free(ids);
    assert_null(sg_tokenizer_encode(t, CORPUS, sizeof CORPUS - 1, 0, &ids, &n));
    assert_true(n < (int)(sizeof CORPUS - 1) * 3 / 4);
    free(ids);
    sg_tokenizer_free(t);
    remove_dir(dir);
}

static void special_token_only_when_allowed(void **state) {
    (void)state;
    char *dir = train_dir(CORPUS, sizeof CORPUS - 1, 300);
    sg_tokenizer *t;
    assert_null(sg_tokenizer_load(dir, &t));
    const int eot = sg_tokenizer_eot(t);
    const char text[] = "end.<|endoftext|>Start<|endoftext|>";
    int *ids, n, has = 0;
    assert_null(sg_tokenizer_encode(t, text, sizeof text - 1, 1, &ids, &n));
    for (int i = 0; i < n; i++) has += ids[i] == eot;
    assert_int_equal(has, 2);
    assert_int_equal(ids[n - 1], eot);
    free(ids);
    assert_null(sg_tokenizer_encode(t, text, sizeof text - 1, 0, &ids, &n));
    for (int i = 0; i < n; i++) assert_int_not_equal(ids[i], eot);
    free(ids);
    assert_roundtrip(t, text, sizeof text - 1, 1);
    size_t len;
    const char *b = sg_tokenizer_token_bytes(t, eot, &len);
    assert_int_equal(len, 13);
    assert_memory_equal(b, "<|endoftext|>", 13);
    assert_null(sg_tokenizer_token_bytes(t, -1, &len));
    assert_null(sg_tokenizer_token_bytes(t, 300, &len));
    /* Decoding an id outside the vocabulary is an error naming it. */
    int bad[] = {1, 2, 300};
    char *out;
    sg_error *err = sg_tokenizer_decode(t, bad, 3, &out, &len);
    assert_non_null(err);
    assert_contains(sg_error_message(err), "id 300 at position 2");
    sg_error_free(err);
    sg_tokenizer_free(t);
    remove_dir(dir);
}

/* Merges apply lowest rank first, every occurrence left to right. */
static void merge_order_is_gpt2s(void **state) {
    (void)state;
    char *dir = make_dir();
    const char *extra[] = {"aa", "aaa", "aaaa", "\\u0120a", "\\u0120aa"};
    write_vocab(dir, extra, 5);
    write_file(dir, "merges.txt",
               "#version: 0.2\na a\naa a\naa aa\n\xc4\xa0 a\n\xc4\xa0"
               "a a\n");
    sg_tokenizer *t;
    assert_null(sg_tokenizer_load(dir, &t));
    assert_int_equal(sg_tokenizer_vocab_size(t), 262);
    int *ids, n;
    /* aaaaa: (a,a) everywhere -> aa aa a; then (aa,a) beats (aa,aa) -> aa aaa. */
    assert_null(sg_tokenizer_encode(t, "aaaaa", 5, 0, &ids, &n));
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 256);
    assert_int_equal(ids[1], 257);
    free(ids);
    /* aaaa: aa aa -> aaaa. */
    assert_null(sg_tokenizer_encode(t, "aaaa", 4, 0, &ids, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 258);
    free(ids);
    /* " aaa": (a,a) first gives Ġ aa a, then (aa,a) -> Ġ aaa; "Ġa a" never applies. */
    assert_null(sg_tokenizer_encode(t, " aaa", 4, 0, &ids, &n));
    assert_int_equal(n, 2);
    size_t l;
    assert_memory_equal(sg_tokenizer_token_bytes(t, ids[0], &l), " ", 1);
    assert_int_equal(ids[1], 257);
    free(ids);
    /* " a a": pre-tokens " a", " a" -> Ġa Ġa. */
    assert_null(sg_tokenizer_encode(t, " a a", 4, 0, &ids, &n));
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 259);
    assert_int_equal(ids[1], 259);
    free(ids);
    sg_tokenizer_free(t);
    remove_dir(dir);
}

static void bad_files_are_named(void **state) {
    (void)state;
    char *dir = make_dir();
    char *msg = load_error(dir); /* nothing there */
    assert_contains(msg, "vocab.json");
    free(msg);

    write_file(dir, "vocab.json", "{\"a\": 0,\n \"b\": 1,\n \"c\" 2}");
    msg = load_error(dir);
    assert_contains(msg, "vocab.json:3:");
    free(msg);

    write_file(dir, "vocab.json", "[1, 2]");
    msg = load_error(dir);
    assert_contains(msg, "expected a JSON object");
    free(msg);

    write_file(dir, "vocab.json", "{\"a\": 0, \"b\": 5}");
    msg = load_error(dir);
    assert_contains(msg, "token \"b\": id 5 out of range");
    free(msg);

    write_file(dir, "vocab.json", "{\"a\": 0, \"b\": \"x\"}");
    msg = load_error(dir);
    assert_contains(msg, "token \"b\": id is not an integer");
    free(msg);

    write_file(dir, "vocab.json", "{\"a\": 0, \"b\": 1}");
    msg = load_error(dir);
    assert_contains(msg, "no token for byte");
    free(msg);

    const char *extra[] = {"ab"};
    write_vocab(dir, extra, 1);
    msg = load_error(dir); /* merges.txt missing */
    assert_contains(msg, "merges.txt");
    free(msg);

    write_file(dir, "merges.txt", "#version: 0.2\na b\nab\n");
    msg = load_error(dir);
    assert_contains(msg, "merges.txt:3: expected two tokens");
    free(msg);

    write_file(dir, "merges.txt", "#version: 0.2\na b\nab zz\n");
    msg = load_error(dir);
    assert_contains(msg, "merges.txt:3: token \"zz\" is not in vocab.json");
    free(msg);

    write_file(dir, "merges.txt", "#version: 0.2\na b\nb a\n");
    msg = load_error(dir);
    assert_contains(msg, "merges.txt:3: merged token \"ba\" is not in vocab.json");
    free(msg);

    write_file(dir, "merges.txt", "#version: 0.2\na b\n");
    sg_tokenizer *t;
    assert_null(sg_tokenizer_load(dir, &t));
    assert_int_equal(sg_tokenizer_eot(t), 257);
    sg_tokenizer_free(t);
    remove_dir(dir);
}

typedef struct {
    const sg_tokenizer *t;
    const char *text;
    size_t len;
    int *want;
    int n_want;
    int ok;
} thread_job;

static void *encode_many(void *arg) {
    thread_job *j = arg;
    j->ok = 1;
    for (int r = 0; r < 3 && j->ok; r++) {
        int *ids, n;
        sg_error *err = sg_tokenizer_encode(j->t, j->text, j->len, r & 1, &ids, &n);
        if (err) {
            sg_error_free(err);
            j->ok = 0;
            break;
        }
        if (!(r & 1)) j->ok = n == j->n_want && !memcmp(ids, j->want, (size_t)n * sizeof(int));
        free(ids);
    }
    return NULL;
}

/* Several threads encoding at once on one tokenizer (fresh cache) agree with
 * a single-threaded encoding on a second tokenizer. */
static void concurrent_encoding_agrees(void **state) {
    (void)state;
    char *dir = train_dir(CORPUS, sizeof CORPUS - 1, 330);
    sg_tokenizer *t1, *t2;
    assert_null(sg_tokenizer_load(dir, &t1));
    assert_null(sg_tokenizer_load(dir, &t2));
    /* About 80k distinct pre-tokens: the threads race to fill the cache, which
     * also overflows (65536 entries) and is emptied while others read it. */
    size_t cap = 1000000, len = 0;
    char *text = malloc(cap);
    for (unsigned i = 0; len + 64 < cap; i++) {
        char w[8] = {0};
        for (unsigned k = 0, v = i; k < 5; k++, v /= 26) w[k] = (char)('a' + v % 26);
        len += (size_t)sprintf(text + len, " %s %u the people,", w, i * 7919u);
    }
    int *want, n_want;
    assert_null(sg_tokenizer_encode(t2, text, len, 0, &want, &n_want));
    enum { N = 4 };
    pthread_t th[N];
    thread_job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (thread_job){t1, text, len, want, n_want, 0};
        assert_int_equal(pthread_create(&th[i], NULL, encode_many, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_true(jobs[i].ok);
    }
    free(want);
    free(text);
    sg_tokenizer_free(t1);
    sg_tokenizer_free(t2);
    remove_dir(dir);
}

static void training_is_deterministic_and_checked(void **state) {
    (void)state;
    char *d1 = train_dir(CORPUS, sizeof CORPUS - 1, 310), *d2 = train_dir(CORPUS, sizeof CORPUS - 1, 310);
    char *v1 = read_file(d1, "vocab.json"), *v2 = read_file(d2, "vocab.json");
    char *m1 = read_file(d1, "merges.txt"), *m2 = read_file(d2, "merges.txt");
    assert_string_equal(v1, v2);
    assert_string_equal(m1, m2);
    assert_memory_equal(m1, "#version: 0.2\n", 14);
    free(v1), free(v2), free(m1), free(m2);
    remove_dir(d1);
    remove_dir(d2);

    /* Most frequent pair first, ties to the lowest (left id, right id); ids
     * 0..93 are '!'..'~' and the space byte is "Ġ" (id 220). Here "t h" and
     * "h e" occur 5 times (h < t wins), then "p e", "t he" and "Ġ t" 4 times,
     * then "Ġ pe" and "Ġ the" 4 times ("pe" has the lower id). */
    const char gettysburg[] =
        "The government of the people, by the people, for the people, shall not perish from the earth.\n";
    d1 = train_dir(gettysburg, sizeof gettysburg - 1, 262);
    m1 = read_file(d1, "merges.txt");
    assert_string_equal(m1, "#version: 0.2\nh e\np e\nt he\n\xc4\xa0 pe\n\xc4\xa0 the\n");
    free(m1);
    remove_dir(d1);
    sg_bpe_trainer *tr;
    assert_null(sg_bpe_trainer_new(&tr));
    sg_error *err = sg_bpe_trainer_train(tr, 256, "/nonexistent");
    assert_non_null(err);
    assert_contains(sg_error_message(err), "vocabulary size 256");
    sg_error_free(err);
    err = sg_bpe_trainer_train(tr, 1000, "/nonexistent");
    assert_non_null(err);
    assert_contains(sg_error_message(err), "corpus is empty");
    sg_error_free(err);
    sg_bpe_trainer_free(tr);

    assert_null(sg_bpe_trainer_new(&tr));
    assert_null(sg_bpe_trainer_add_text(tr, "abab abab", 9));
    char *dir = make_dir();
    err = sg_bpe_trainer_train(tr, 400, dir);
    assert_non_null(err);
    assert_contains(sg_error_message(err), "too little text");
    sg_error_free(err);
    sg_bpe_trainer_free(tr);
    remove_dir(dir);
}

typedef struct {
    const char *pieces[16];
    int n;
} piece_list;

static sg_error *collect(void *ctx, const unsigned char *piece, size_t len) {
    piece_list *l = ctx;
    if (l->n == 16) return sg_error_new("too many pieces");
    l->pieces[l->n++] = strndup((const char *)piece, len);
    return NULL;
}

/* The pre-tokenizer splits as GPT-2's Python `regex` module does (expected
 * pieces generated with it), and invalid UTF-8 runs become pieces of their own. */
static void pretokenizer_matches_python_regex(void **state) {
    (void)state;
    static const struct {
        const char *text;
        const char *want[16];
    } cases[] = {
        {"Hello world's  end  \x0a\x0a x", {"Hello", " world", "'s", " ", " end", "  \x0a\x0a", " x", NULL}},
        {"!\xc2\x85\xc2\x85!a \xc2\x85", {"!", "\xc2\x85", "\xc2\x85", "!", "a", " \xc2\x85", NULL}},
        {"a\xef\xbb\xbf! \xef\xbb\xbf\xef\xbb\xbf"
         "b",
         {"a", "\xef\xbb\xbf!", " \xef\xbb\xbf\xef\xbb\xbf", "b", NULL}},
        {"I'M 'RE'll  123abc\x09 \xc2\xa0x",
         {"I", "'", "M", " '", "RE", "'ll", " ", " 123", "abc", "\x09 ", "\xc2\xa0", "x", NULL}},
        {"  \x0a", {"  \x0a", NULL}},
        /* Not Python's (it takes no invalid UTF-8): the design in tokenizer.h. */
        {"ab\xff\xfe"
         "cd  \xff \xc3",
         {"ab", "\xff\xfe", "cd", "  ", "\xff", " ", "\xc3", NULL}},
    };
    sg_pretok *p;
    assert_null(sg_pretok_new(&p));
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        piece_list got = {0};
        assert_null(
            sg_pretok_split(p, (const unsigned char *)cases[c].text, strlen(cases[c].text), collect, &got));
        int n = 0;
        while (cases[c].want[n]) n++;
        if (got.n != n) fail_msg("case %zu: %d pieces, expected %d", c, got.n, n);
        for (int i = 0; i < n; i++) {
            assert_string_equal(got.pieces[i], cases[c].want[i]);
            free((void *)got.pieces[i]);
        }
    }
    sg_pretok_free(p);
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trained_tokenizer_round_trips),
        cmocka_unit_test(special_token_only_when_allowed),
        cmocka_unit_test(merge_order_is_gpt2s),
        cmocka_unit_test(bad_files_are_named),
        cmocka_unit_test(concurrent_encoding_agrees),
        cmocka_unit_test(training_is_deterministic_and_checked),
        cmocka_unit_test(pretokenizer_matches_python_regex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
