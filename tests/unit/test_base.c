/* test_base.c — errors and file I/O of src/base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/error.h"
#include "base/fileio.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(error_wrap_prefixes_context),
        cmocka_unit_test(atomic_write_then_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
