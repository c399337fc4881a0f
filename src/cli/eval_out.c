/* eval_out.c — see eval_out.h. */
#include "cli/eval_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"

int sg_eval_save(const char *cmd, sg_error *err, json_t *r, const char *out_path) {
    if (!err && out_path) {
        char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        err = s ? sg_file_write_atomic(out_path, s, strlen(s)) : sg_error_new("out of memory");
        free(s);
    }
    if (!err) return 0;
    fprintf(stderr, "stagegate %s: %s\n", cmd, sg_error_message(err));
    sg_error_free(err);
    json_decref(r);
    return 1;
}

int sg_eval_print_json(json_t *r) {
    json_dumpf(r, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(r);
    return 0;
}
