/* moderation.c — OpenAI-shaped moderation results; see moderation.h. */
#include "safety/moderation.h"

#include <sodium.h>
#include <stdlib.h>

#include "base/init.h"

sg_error *sg_moderate(const sg_filter *f, const char *const *inputs, const size_t *lens, int n,
                      const char *model, json_t **out) {
    *out = NULL;
    SG_ASSERT_INIT();
    unsigned char rnd[12];
    char id[5 + 2 * sizeof rnd + 1] = "modr-";
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(id + 5, sizeof id - 5, rnd, sizeof rnd);

    int nc = sg_filter_n_categories(f);
    int *hit = calloc((size_t)nc + 1, sizeof *hit);
    json_t *root = json_object(), *results = json_array();
    if (!hit || !root || !results) {
        free(hit);
        json_decref(root);
        json_decref(results);
        return sg_error_new("out of memory");
    }
    json_object_set_new(root, "id", json_string(id));
    json_object_set_new(root, "model", json_string(model));
    json_object_set_new(root, "results", results);
    for (int i = 0; i < n; i++) {
        sg_filter_matches m;
        sg_error *err = sg_filter_scan(f, inputs[i], lens[i], SG_FILTER_ANY, &m);
        if (err) {
            free(hit);
            json_decref(root);
            return sg_error_wrap(err, "moderating input %d", i);
        }
        for (int c = 0; c < nc; c++) hit[c] = 0;
        for (size_t k = 0; k < m.n; k++) hit[m.items[k].category] = 1;
        sg_filter_matches_free(&m);
        json_t *r = json_object(), *cats = json_object(), *scores = json_object();
        int flagged = 0;
        for (int c = 0; c < nc; c++) {
            const char *name = sg_filter_category_name(f, c);
            json_object_set_new(cats, name, json_boolean(hit[c]));
            json_object_set_new(scores, name, json_real(hit[c] ? 1.0 : 0.0));
            flagged |= hit[c];
        }
        json_object_set_new(r, "flagged", json_boolean(flagged));
        json_object_set_new(r, "categories", cats);
        json_object_set_new(r, "category_scores", scores);
        json_array_append_new(results, r);
    }
    free(hit);
    *out = root;
    return NULL;
}

sg_error *sg_moderate_request(const sg_filter *f, const json_t *body, const char *default_model,
                              json_t **out) {
    *out = NULL;
    if (!json_is_object(body)) return sg_error_new("the request body must be a JSON object");
    const json_t *input = json_object_get(body, "input"), *model = json_object_get(body, "model");
    if (!input) return sg_error_new("'input' is required");
    if (model && !json_is_string(model)) return sg_error_new("'model' must be a string");
    size_t n = json_is_array(input) ? json_array_size(input) : 1;
    if (json_is_array(input) && n == 0) return sg_error_new("'input' must not be an empty array");
    if (!json_is_array(input) && !json_is_string(input))
        return sg_error_new("'input' must be a string or an array of strings");
    const char **texts = malloc(n * sizeof *texts);
    size_t *lens = malloc(n * sizeof *lens);
    sg_error *err = texts && lens ? NULL : sg_error_new("out of memory");
    for (size_t i = 0; i < n && !err; i++) {
        const json_t *s = json_is_array(input) ? json_array_get(input, i) : input;
        if (!json_is_string(s))
            err = sg_error_new("'input[%zu]' must be a string", i);
        else
            texts[i] = json_string_value(s), lens[i] = json_string_length(s);
    }
    if (!err && n > 2048) err = sg_error_new("'input' has %zu items; at most 2048", n);
    if (!err)
        err = sg_moderate(f, texts, lens, (int)n, model ? json_string_value(model) : default_model, out);
    free(texts);
    free(lens);
    return err;
}
