/* test_base.c — errors and file I/O of src/base. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/fileio.h"
#include "base/init.h"
#include "base/utf8.h"

static void error_wrap_prefixes_context(void **state) {
    (void)state;
    sg_error *err = sg_error_new("tensor %s missing", "wte.weight");
    err = sg_error_wrap(err, "loading %s", "model.safetensors");
    assert_string_equal(sg_error_message(err), "loading model.safetensors: tensor wte.weight missing");
    sg_error_free(err);
    assert_null(NULL);
}

static void atomic_write_then_read_back(void **state) {
    (void)state;
    char dir[] = "/tmp/sg_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = sg_path_join(dir, "f.txt");
    assert_null(sg_file_write_atomic(path, "hello", 5));
    char *data;
    size_t n;
    assert_null(sg_file_read(path, &data, &n));
    assert_int_equal(n, 5);
    assert_string_equal(data, "hello");
    free(data);
    sg_file_map map;
    assert_null(sg_file_map_open(path, &map));
    assert_int_equal(map.size, 5);
    assert_memory_equal(map.data, "hello", 5);
    sg_file_unmap(&map);
    unlink(path);
    sg_error *err = sg_file_read(path, &data, &n);
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "No such file"));
    sg_error_free(err);
    free(path);
    rmdir(dir);
}

/* Private by default, public on request; the temporary is unpredictable and a
 * symlink planted at the old predictable name is never written through. */
static void atomic_write_modes_and_no_symlink_follow(void **state) {
    (void)state;
    char dir[] = "/tmp/sg_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *priv = sg_path_join(dir, "report.json"), *pub = sg_path_join(dir, "config.json");
    char *victim = sg_path_join(dir, "victim"), *trap = NULL;
    assert_null(sg_file_write_atomic(victim, "keep", 4));
    assert_true(asprintf(&trap, "%s.tmp.%ld", priv, (long)getpid()) > 0);
    assert_int_equal(symlink(victim, trap), 0);
    mode_t old = umask(022);
    assert_null(sg_file_write_atomic(priv, "secret", 6));
    assert_null(sg_file_write_atomic_mode(pub, SG_FILE_PUBLIC, "{}", 2));
    umask(old);
    struct stat st;
    assert_int_equal(stat(priv, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    char *data;
    size_t n;
    assert_null(sg_file_read(victim, &data, &n));
    assert_string_equal(data, "keep"); /* the planted link was not followed */
    free(data);
    sg_atomic_file *f;
    assert_null(sg_atomic_file_open(priv, &f));
    assert_null(sg_atomic_file_write(f, "x", 1));
    sg_atomic_file_abort(f);
    assert_null(sg_file_read(priv, &data, &n));
    assert_string_equal(data, "secret"); /* an aborted write leaves the old file */
    free(data);
    int entries = 0; /* victim, trap, report.json, config.json: no temporaries left */
    DIR *d = opendir(dir);
    for (struct dirent *e; (e = readdir(d));) entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 4);
    unlink(priv), unlink(pub), unlink(trap), unlink(victim);
    free(priv), free(pub), free(trap), free(victim);
    rmdir(dir);
}

static void buf_appends_until_its_cap_then_refuses(void **state) {
    (void)state;
    sg_buf b;
    sg_buf_init(&b, 10);
    assert_null(b.data);
    assert_null(sg_buf_puts(&b, "abc"));
    assert_null(sg_buf_printf(&b, "%d-%s", 42, "x"));
    assert_string_equal(b.data, "abc42-x");
    sg_error *err = sg_buf_puts(&b, "toolong"); /* 7 + 7 > 10: refused whole */
    assert_non_null(err);
    assert_non_null(strstr(sg_error_message(err), "cap of 10"));
    sg_error_free(err);
    assert_string_equal(b.data, "abc42-x"); /* nothing already accepted is lost */
    assert_null(sg_buf_putc(&b, '!'));
    char *out;
    size_t len;
    assert_null(sg_buf_take(&b, &out, &len));
    assert_string_equal(out, "abc42-x!");
    assert_int_equal(len, 8);
    assert_int_equal(b.len, 0);
    free(out);
    assert_null(sg_buf_take(&b, &out, &len)); /* an empty buffer gives "" */
    assert_string_equal(out, "");
    free(out);
    sg_buf_free(&b);
}

/* A generator's appends defer the first failure to sg_buf_take. */
static void buf_defers_a_failure_to_take(void **state) {
    (void)state;
    sg_buf b;
    sg_buf_init(&b, 8);
    sg_buf_addf(&b, "%s", "abc");
    sg_buf_addf(&b, "%s", "0123456789"); /* over the cap: kept, not returned */
    sg_buf_addf(&b, "%s", "d");          /* ignored after the failure */
    sg_buf_add(&b, "e", 1);              /* the raw append defers the same way */
    assert_string_equal(b.data, "abc");
    char *out = (char *)1;
    sg_error *err = sg_buf_take(&b, &out, NULL);
    assert_non_null(err);
    assert_null(out);
    assert_non_null(strstr(sg_error_message(err), "cap of 8"));
    sg_error_free(err);
    sg_buf_addf(&b, "ok"); /* the buffer is usable again */
    assert_null(sg_buf_take(&b, &out, NULL));
    assert_string_equal(out, "ok");
    free(out);
    sg_buf_free(&b);
}

static void utf8_boundaries(void **state) {
    (void)state;
    const char *s = "a\xe2\x82\xac"; /* a, euro sign */
    assert_int_equal(sg_utf8_complete_prefix(s, 4), 4);
    assert_int_equal(sg_utf8_complete_prefix(s, 3), 1);
    assert_int_equal(sg_utf8_complete_prefix(s, 2), 1);
    assert_int_equal(sg_utf8_char_start(s, 3), 1);
    assert_int_equal(sg_utf8_char_start(s, 1), 1);
    assert_int_equal(sg_utf8_char_start(s, 0), 0);
    size_t bad = 99;
    assert_false(sg_utf8_valid("ok\xff", 3, &bad));
    assert_int_equal(bad, 2);
    assert_true(sg_utf8_valid(s, 4, NULL));
}

int main(void) {
    if (sg_init()) return 1; /* the library start-up call (base/init.h) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(error_wrap_prefixes_context),
        cmocka_unit_test(atomic_write_then_read_back),
        cmocka_unit_test(atomic_write_modes_and_no_symlink_follow),
        cmocka_unit_test(buf_appends_until_its_cap_then_refuses),
        cmocka_unit_test(buf_defers_a_failure_to_take),
        cmocka_unit_test(utf8_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
