/* cmd_trace.c — `stagegate trace`: which licensee's copy is this? */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "distribution/fingerprint.h"
#include "store/store.h"

typedef struct {
    const char *v[2];
    int top;
} trace_opts;
#define V(i) (offsetof(trace_opts, v) + (i) * sizeof(const char *))
static const sg_cli_opt table[] = {
    {"db", 0, SG_CLI_STRING, V(0), .arg = "PATH", .help = "the store holding the issues", .required = 1},
    {"model", 'm', SG_CLI_STRING, V(1), .arg = "SUSPECT_DIR",
     .help = "the suspect model's checkpoint directory", .required = 1},
    {"top", 0, SG_CLI_INT, offsetof(trace_opts, top), .arg = "N", .help = "scores to print", .min = 0,
     .max = INFINITY},
    {0},
};
#undef V
static const sg_cli_cmd cmd_spec = {
    .name = "trace",
    .summary = "name the licensee whose copy a suspect model is",
    .opts = table,
    .description =
        "Scores SUSPECT_DIR's weights against the fingerprint of every bundle issued from this store\n"
        "(each against its recorded original) and prints one JSON object: licensee (the best match,\n"
        "or null when no score reaches the threshold), confidence, z (its score), threshold, matches\n"
        "(every issue over the threshold: an average of several copies names them all) and the top\n"
        "N scores.\n",
};

int sg_cmd_trace(int argc, char **argv) {
    const char *cmd = "trace";
    trace_opts to = {.top = 5};
    int rc = sg_cli_parse(&cmd_spec, argc, argv, &to, NULL);
    if (rc >= 0) return rc;
    const char **v = to.v;
    int top = to.top;
    sg_store *store = NULL;
    sg_error *err = sg_store_open(v[0], &store);
    sg_trace_result r;
    if (!err) err = sg_fp_trace(store, v[0], v[1], &r);
    sg_store_close(store);
    if (err) return sg_cli_fail(cmd, err);
    int named = r.n_issues > 0 && r.rows[0].z >= r.threshold;
    json_t *o = json_object();
    json_object_set_new(o, "licensee", named ? json_string(r.rows[0].licensee) : json_null());
    json_object_set_new(o, "confidence", json_real(named ? sg_fp_confidence(r.rows[0].z, r.n_issues) : 0.0));
    json_object_set_new(o, "z", json_real(r.n_issues ? r.rows[0].z : 0.0));
    json_object_set_new(o, "threshold", json_real(r.threshold));
    if (named) json_object_set_new(o, "issue", json_integer(r.rows[0].issue_id));
    json_t *matches = json_array(), *scores = json_array();
    for (int i = 0; i < r.n_issues; i++) {
        json_t *row = json_pack("{s:s, s:I, s:s, s:f}", "licensee", r.rows[i].licensee, "issue",
                                (json_int_t)r.rows[i].issue_id, "model", r.rows[i].model, "z", r.rows[i].z);
        if (r.rows[i].z >= r.threshold) json_array_append(matches, row);
        if (i < top) json_array_append(scores, row);
        json_decref(row);
    }
    json_object_set_new(o, "matches", matches);
    json_object_set_new(o, "scores", scores);
    json_object_set_new(o, "issues_scored", json_integer(r.n_issues));
    json_object_set_new(o, "issues_comparable", json_integer(r.n_comparable));
    if (r.note[0]) json_object_set_new(o, "note", json_string(r.note));
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
    free(r.rows);
    return 0;
}
