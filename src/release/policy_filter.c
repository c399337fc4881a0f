/* policy_filter.c — the `content_filter` section of a policy: categories
 * (terms, patterns, allow-lists, action, response, input/output) and extra
 * leetspeak mappings, into the plain data of safety/filter_rules.h. Each
 * pattern is compiled here, once, by the filter's own compiler
 * (sg_filter_pattern_compile), so that an error is reported at the pattern's
 * line and column; the server's filter reuses the compiled patterns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "release/policy_int.h"
#include "safety/filter.h"

/* Compiles cat->patterns (items at nodes pn) into cat->compiled. */
static void compile_patterns(sg_policy_ctx *c, sg_filter_category *cat, yaml_node_t **pn, const char *cname) {
    cat->compiled = calloc((size_t)cat->n_patterns + 1, sizeof *cat->compiled);
    if (!cat->compiled) {
        sg_yaml_oom(c->y);
        return;
    }
    for (int i = 0; i < cat->n_patterns; i++) {
        size_t off;
        sg_error *err = sg_filter_pattern_compile(cat->patterns[i], &cat->compiled[i], &off);
        if (!err) continue;
        if (off == SIZE_MAX) { /* not the pattern's fault: out of memory */
            sg_error_free(err);
            sg_yaml_oom(c->y);
            return;
        }
        /* Point at the offending character when the scalar is written on one
         * line without escapes (plain or single-quoted without ''). */
        const yaml_node_t *pat = pn[i];
        yaml_scalar_style_t st = pat->data.scalar.style;
        if (pat->start_mark.line == pat->end_mark.line &&
            (st == YAML_PLAIN_SCALAR_STYLE ||
             (st == YAML_SINGLE_QUOTED_SCALAR_STYLE && !strstr(cat->patterns[i], "'")))) {
            size_t chars = 0; /* libyaml columns count characters, PCRE2 offsets bytes */
            for (size_t b = 0; b < off && cat->patterns[i][b]; b++)
                chars += ((unsigned char)cat->patterns[i][b] & 0xC0) != 0x80;
            yaml_node_t at = *pat;
            at.start_mark.column += chars + (st == YAML_SINGLE_QUOTED_SCALAR_STYLE);
            sg_yaml_error(c->y, &at, "pattern in category '%s' does not compile: %s", cname,
                          sg_error_message(err));
        } else {
            sg_yaml_error(c->y, pat, "pattern in category '%s' does not compile: %s at offset %zu", cname,
                          sg_error_message(err), off);
        }
        sg_error_free(err);
    }
}

static void parse_category(sg_policy_ctx *c, const yaml_node_t *n, sg_filter_category *cat) {
    static const char *const keys[] = {"name", "terms", "patterns", "allow", "action", "response", "on"};
    yaml_node_t *v[7], *k[7];
    cat->action = SG_FILTER_BLOCK;
    cat->on_input = cat->on_output = 1;
    if (!sg_yaml_keys(c->y, n, "a content_filter category", keys, 7, v, k)) return;
    if (v[0]) {
        if (sg_yaml_string(c->y, v[0], "name", &cat->name) && !sg_policy_valid_name(cat->name, 1))
            sg_yaml_error(
                c->y, v[0],
                "category name must be 1-64 characters of letters, digits, '_', '-', '.' or '/', got '%s'",
                cat->name);
    } else {
        sg_yaml_error(c->y, n, "content_filter category is missing 'name'");
    }
    const char *cname = cat->name ? cat->name : "?";
    yaml_node_t **tn = NULL;
    if (v[1] && sg_yaml_string_list(c->y, v[1], "terms", 0, &cat->terms, &cat->n_terms, &tn))
        for (int i = 0; i < cat->n_terms; i++)
            if (!*cat->terms[i]) sg_yaml_error(c->y, tn[i], "empty term in category '%s'", cname);
    free(tn);
    if (v[2]) {
        yaml_node_t **pn = NULL;
        if (sg_yaml_string_list(c->y, v[2], "patterns", 0, &cat->patterns, &cat->n_patterns, &pn))
            compile_patterns(c, cat, pn, cname);
        free(pn);
    }
    if (v[3]) sg_yaml_string_list(c->y, v[3], "allow", 0, &cat->allow, &cat->n_allow, NULL);
    if (v[4]) {
        int a;
        if (sg_yaml_enum(c->y, v[4], "action", sg_policy_action_names, SG_COUNT(sg_policy_action_names), &a))
            cat->action = (sg_filter_action)a;
    }
    if (v[5]) sg_yaml_string(c->y, v[5], "response", &cat->response);
    if (cat->action == SG_FILTER_HARDCODED && !cat->response)
        sg_yaml_error(c->y, v[4] ? v[4] : n, "category '%s' has action hardcoded but no 'response'", cname);
    if (v[6]) {
        char **on = NULL;
        int n_on = 0;
        yaml_node_t **onn = NULL;
        if (sg_yaml_string_list(c->y, v[6], "on", 1, &on, &n_on, &onn)) {
            cat->on_input = cat->on_output = 0;
            for (int i = 0; i < n_on; i++) {
                if (!strcmp(on[i], "input"))
                    cat->on_input = 1;
                else if (!strcmp(on[i], "output"))
                    cat->on_output = 1;
                else
                    sg_yaml_error(c->y, onn[i], "unknown on '%s' (expected one of: input, output)", on[i]);
            }
            if (!n_on) sg_yaml_error(c->y, v[6], "category '%s' applies to nothing: 'on' is empty", cname);
        }
        sg_policy_free_strings(on, n_on);
        free(onn);
    }
    if (!cat->n_terms && !cat->n_patterns)
        sg_yaml_warn(c->y, n, "content_filter category '%s' has no terms or patterns: it never matches",
                     cname);
}

void sg_policy_parse_content_filter(sg_policy_ctx *c, const yaml_node_t *n) {
    sg_filter_rules *r = &c->p->filter;
    static const char *const keys[] = {"categories", "leetspeak"};
    yaml_node_t *v[2], *k[2];
    if (!sg_yaml_keys(c->y, n, "'content_filter'", keys, 2, v, k)) return;
    if (v[0]) {
        int total;
        r->categories = sg_yaml_alloc_entries(c->y, v[0], YAML_SEQUENCE_NODE, "'categories' must be a list",
                                              sizeof *r->categories, &total);
        for (int i = 0; i < total && sg_yaml_budget_left(c->y); i++) {
            yaml_node_t *item = sg_yaml_item(c->y, v[0], i);
            if (!item) continue;
            sg_filter_category *cat = &r->categories[r->n_categories++];
            parse_category(c, item, cat);
            for (int j = 0; cat->name && j < r->n_categories - 1; j++)
                if (r->categories[j].name && !strcmp(r->categories[j].name, cat->name))
                    sg_yaml_error(c->y, item, "content_filter category '%s' is defined twice", cat->name);
        }
    }
    if (v[1]) {
        yaml_node_t *m = v[1];
        int total;
        r->leet_from =
            sg_yaml_alloc_entries(c->y, m, YAML_MAPPING_NODE,
                                  "'leetspeak' must be a mapping of characters to the letters they stand for",
                                  sizeof(char *), &total);
        if (!r->leet_from) return;
        r->leet_to = calloc((size_t)total + 1, sizeof(char *));
        if (!r->leet_to) {
            sg_yaml_oom(c->y);
            return;
        }
        for (int i = 0; i < total && sg_yaml_budget_left(c->y); i++) {
            yaml_node_t *lk, *lv;
            if (!sg_yaml_pair(c->y, m, i, &lk, &lv)) continue;
            char *from = NULL, *to = NULL;
            if (!sg_yaml_string(c->y, lk, "leetspeak key", &from) ||
                !sg_yaml_string(c->y, lv, "leetspeak value", &to) || !*from) {
                if (from && !*from) sg_yaml_error(c->y, lk, "empty leetspeak key");
                free(from);
                free(to);
                continue;
            }
            r->leet_from[r->n_leet] = from;
            r->leet_to[r->n_leet++] = to;
        }
    }
}

void sg_policy_free_filter(sg_filter_rules *r) {
    for (int i = 0; i < r->n_categories; i++) {
        sg_filter_category *cat = &r->categories[i];
        free(cat->name);
        sg_policy_free_strings(cat->terms, cat->n_terms);
        if (cat->compiled)
            for (int j = 0; j < cat->n_patterns; j++) sg_filter_pattern_free(cat->compiled[j]);
        free(cat->compiled);
        sg_policy_free_strings(cat->patterns, cat->n_patterns);
        sg_policy_free_strings(cat->allow, cat->n_allow);
        free(cat->response);
    }
    free(r->categories);
    sg_policy_free_strings(r->leet_from, r->n_leet);
    sg_policy_free_strings(r->leet_to, r->n_leet);
}
