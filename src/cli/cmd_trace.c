/* cmd_trace.c — `stagegate trace`: which licensee's copy is this? */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/dist_opts.h"
#include "distribution/fingerprint.h"
#include "store/store.h"

static const char usage_text[] =
    "usage: stagegate trace --db PATH -m SUSPECT_DIR [--top N]\n"
    "\n"
    "Scores SUSPECT_DIR's weights against the fingerprint of every bundle issued from\n"
    "this store (each against its recorded original) and prints one JSON object:\n"
    "licensee (the best match, or null when no score reaches the threshold), confidence,\n"
    "z (its score), threshold, matches (every issue over the threshold: an average of\n"
    "several copies names them all) and the top N scores (default 5).\n";

int sg_cmd_trace(int argc, char **argv) {
    const char *cmd = "trace";
    static const char *const names[] = {"db", "model", "top", NULL};
    const char *v[3] = {0}, *pos[1];
    int np = 0;
    int rc = sg_dist_parse(cmd, usage_text, argc, argv, 1, names, v, pos, 0, &np);
    if (rc) return rc == 1 ? 0 : rc;
    if (!v[0] || !v[1]) return sg_dist_usage(cmd, usage_text, "--db and -m are required");
    int top = v[2] ? atoi(v[2]) : 5;
    if (top < 0) top = 0;
    sg_store *store = NULL;
    sg_error *err = sg_store_open(v[0], &store);
    sg_trace_result r;
    if (!err) err = sg_fp_trace(store, v[0], v[1], &r);
    sg_store_close(store);
    if (err) return sg_dist_fail(cmd, err);
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
