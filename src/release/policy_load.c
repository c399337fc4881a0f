/* policy_load.c — loading a release policy: the YAML document (base/yaml_doc.h)
 * walked into the structs of policy.h. The top level is read in a fixed order
 * whatever the file's order (models before release_stages, so that a stage
 * naming a model can be checked where it is written; current_stage after
 * them), then the sections of the `sections` table, each parsed by its own
 * function; the big sections have files of their own (policy_stages.c,
 * policy_filter.c). Also here: the helpers the walk shares, and freeing. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/check.h"
#include "base/fileio.h"
#include "base/init.h"
#include "release/policy_demo.h"
#include "release/policy_int.h"

/* ---------------------------------------------------------------- helpers */

int sg_policy_valid_name(const char *s, int allow_slash) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-' || ch == '.' || (allow_slash && ch == '/')))
            return 0;
    }
    return 1;
}

int sg_policy_get_name(sg_policy_ctx *c, const yaml_node_t *n, const char *key, char **out) {
    if (!sg_yaml_string(c->y, n, key, out)) return 0;
    if (!sg_policy_valid_name(*out, 0)) {
        sg_yaml_error(c->y, n, "'%s' must be 1-64 characters of letters, digits, '_', '-' or '.', got '%s'",
                      key, *out);
        free(*out);
        *out = NULL;
        return 0;
    }
    return 1;
}

int sg_policy_entry_name(sg_policy_ctx *c, const yaml_node_t *k, const char *label, const void *items, int n,
                         size_t size, const char *twice, char **out) {
    *out = NULL;
    if (!sg_policy_get_name(c, k, label, out)) return 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(*(char *const *)((const char *)items + (size_t)i * size), *out)) {
            sg_yaml_error(c->y, k, twice, *out);
            free(*out);
            *out = NULL;
            return 0;
        }
    return 1;
}

void sg_policy_free_strings(char **a, int n) {
    if (!a) return;
    for (int i = 0; i < n; i++) free(a[i]);
    free(a);
}

/* Joins a relative `path` to the policy's directory and folds "." and
 * "dir/.." lexically, so that "examples" + "../models/x" reads "models/x". */
static char *resolve_path(sg_policy_ctx *c, const char *path) {
    const char *base = c->base_dir;
    if (path[0] == '/' || !base) return sg_yaml_strdup(c->y, path);
    char *joined = sg_path_join(base, path);
    if (!joined) {
        sg_yaml_oom(c->y);
        return NULL;
    }
    size_t n = strlen(joined);
    char *out = malloc(n + 2);
    const char **parts = calloc(n + 1, sizeof *parts);
    if (!out || !parts) {
        free(out);
        free(parts);
        free(joined);
        sg_yaml_oom(c->y);
        return NULL;
    }
    int absolute = joined[0] == '/', np = 0, fixed = 0; /* fixed: leading ".." that cannot fold */
    for (char *save = NULL, *t = strtok_r(joined, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, ".")) continue;
        if (!strcmp(t, "..") && np > fixed) {
            np--;
            continue;
        }
        if (!strcmp(t, "..") && absolute) continue;
        if (!strcmp(t, "..")) fixed = np + 1;
        parts[np++] = t;
    }
    size_t len = 0;
    if (absolute) out[len++] = '/';
    for (int i = 0; i < np; i++) {
        size_t l = strlen(parts[i]);
        if (i) out[len++] = '/';
        memcpy(out + len, parts[i], l);
        len += l;
    }
    if (len == 0) out[len++] = '.';
    out[len] = 0;
    free(parts);
    free(joined);
    return out;
}

/* ------------------------------------------------------ the small sections */

static void parse_models(sg_policy_ctx *c, const yaml_node_t *n) {
    sg_policy *p = c->p;
    int total;
    p->models = sg_yaml_alloc_entries(c->y, n, YAML_MAPPING_NODE,
                                      "'models' must be a mapping of model name to checkpoint directory",
                                      sizeof *p->models, &total);
    for (int i = 0; i < total && sg_yaml_budget_left(c->y); i++) {
        yaml_node_t *k, *v;
        char *name = NULL, *dir = NULL;
        if (!sg_yaml_pair(c->y, n, i, &k, &v) ||
            !sg_policy_entry_name(c, k, "model name", p->models, p->n_models, sizeof *p->models,
                                  "model '%s' is defined twice", &name))
            continue;
        if (!sg_yaml_string(c->y, v, "checkpoint directory", &dir)) {
            free(name);
            continue;
        }
        if (!*dir) {
            sg_yaml_error(c->y, v, "model '%s' has an empty checkpoint directory", name);
            free(name);
            free(dir);
            continue;
        }
        char *resolved = resolve_path(c, dir);
        free(dir);
        dir = resolved;
        if (!dir) {
            free(name);
            continue;
        }
        sg_policy_model *m = &p->models[p->n_models++];
        m->name = name;
        m->path = dir;
        m->line = sg_yaml_line(k);
    }
}

static void parse_mitigations(sg_policy_ctx *c, const yaml_node_t *n) {
    sg_policy *p = c->p;
    int total;
    p->mitigations = sg_yaml_alloc_entries(
        c->y, n, YAML_SEQUENCE_NODE, "'risk_mitigation_plan' must be a list of 'risk: mitigation' entries",
        sizeof *p->mitigations, &total);
    for (int i = 0; i < total && sg_yaml_budget_left(c->y); i++) {
        yaml_node_t *item = sg_yaml_item(c->y, n, i);
        if (!item) continue;
        if (item->type != YAML_MAPPING_NODE || sg_yaml_length(item) != 1) {
            sg_yaml_error(c->y, item,
                          "each risk_mitigation_plan entry must be a one-key mapping 'risk: mitigation'");
            continue;
        }
        yaml_node_t *k, *v;
        if (!sg_yaml_pair(c->y, item, 0, &k, &v)) continue;
        sg_policy_mitigation m = {0};
        if (sg_yaml_string(c->y, k, "risk", &m.risk) &&
            sg_yaml_string(c->y, v, "mitigation", &m.mitigation)) {
            for (int j = 0; j < p->n_mitigations; j++)
                if (!strcmp(p->mitigations[j].risk, m.risk))
                    sg_yaml_warn(c->y, k, "risk '%s' appears twice in risk_mitigation_plan", m.risk);
            p->mitigations[p->n_mitigations++] = m;
        } else {
            free(m.risk);
            free(m.mitigation);
        }
    }
}

static void parse_audit(sg_policy_ctx *c, const yaml_node_t *n) {
    static const char *const keys[] = {"text", "retention_days"};
    yaml_node_t *v[2], *k[2];
    int e;
    if (!sg_yaml_keys(c->y, n, "'audit'", keys, 2, v, k)) return;
    if (v[0] &&
        sg_yaml_enum(c->y, v[0], "audit text", sg_policy_audit_names, SG_COUNT(sg_policy_audit_names), &e))
        c->p->audit_text = e;
    if (v[1]) sg_yaml_int(c->y, v[1], "retention_days", 0, 365000, &c->p->audit_retention_days);
}

static void parse_server(sg_policy_ctx *c, const yaml_node_t *n) {
    static const char *const keys[] = {"max_body_bytes", "queue_size", "request_timeout_s", "max_batch"};
    yaml_node_t *v[4], *k[4];
    sg_policy *p = c->p;
    if (!sg_yaml_keys(c->y, n, "'server'", keys, 4, v, k)) return;
    if (v[0]) sg_yaml_long(c->y, v[0], "max_body_bytes", 1024, 1L << 30, &p->max_body_bytes);
    if (v[1]) sg_yaml_int(c->y, v[1], "queue_size", 1, 1000000, &p->queue_size);
    if (v[2]) sg_yaml_int(c->y, v[2], "request_timeout_s", 1, 86400, &p->request_timeout_s);
    if (v[3]) sg_yaml_int(c->y, v[3], "max_batch", 1, 1024, &p->max_batch);
}

static void parse_flags(sg_policy_ctx *c, const yaml_node_t *n) {
    static const char *const keys[] = {"suspend_after"};
    yaml_node_t *v[1], *k[1];
    if (sg_yaml_keys(c->y, n, "'flags'", keys, 1, v, k) && v[0])
        sg_yaml_int(c->y, v[0], "suspend_after", 0, 1000000, &c->p->suspend_after_flags);
}

static void parse_license(sg_policy_ctx *c, const yaml_node_t *n) {
    sg_policy *p = c->p;
    if (!sg_yaml_string(c->y, n, "license", &p->license)) return;
    char *resolved = resolve_path(c, p->license);
    free(p->license);
    p->license = resolved;
}

/* The hosted web demo (policy_demo.c); after the stages, which it checks against. */
static void parse_demo(sg_policy_ctx *c, const yaml_node_t *n) {
    sg_policy_demo_parse(c->y, n, c->p, &c->p->demo);
    if (!c->p->demo) sg_yaml_oom(c->y);
}

/* ------------------------------------------------------------- top level */

/* The starter schema and the references between its parts, read in this order. */
enum {
    TK_MODEL_NAME,
    TK_VERSION,
    TK_STRATEGY,
    TK_STAGES,
    TK_MITIGATION,
    TK_MONITORING,
    TK_INCIDENT,
    TK_MODELS,
    TK_CURRENT,
    TK_CORE
};
static const char *const core_keys[TK_CORE] = {"model_name",
                                               "version",
                                               "deployment_strategy",
                                               "release_stages",
                                               "risk_mitigation_plan",
                                               "monitoring_frequency",
                                               "incident_response_plan",
                                               "models",
                                               "current_stage"};

/* The sections read after the core, in this order, each by its own function
 * (called only when the key is present). To add a section: a row here, its
 * field and default in sg_policy (policy.h, sg_policy_load_string), its
 * freeing in sg_policy_free, its JSON in policy_json.c and its keys in
 * docs/POLICY.md. */
static const struct {
    const char *key;
    void (*parse)(sg_policy_ctx *c, const yaml_node_t *value);
} sections[] = {
    {"audit", parse_audit},
    {"server", parse_server},
    {"flags", parse_flags},
    {"license", parse_license},
    {"content_filter", sg_policy_parse_content_filter},
    {"demo", parse_demo},
};
#define N_SECTIONS SG_COUNT(sections)

static void parse_top(sg_policy_ctx *c, const yaml_node_t *root) {
    sg_policy *p = c->p;
    const char *keys[TK_CORE + N_SECTIONS];
    for (int i = 0; i < TK_CORE; i++) keys[i] = core_keys[i];
    for (int i = 0; i < N_SECTIONS; i++) keys[TK_CORE + i] = sections[i].key;
    yaml_node_t *v[TK_CORE + N_SECTIONS], *k[TK_CORE + N_SECTIONS];
    if (!sg_yaml_keys(c->y, root, "the policy", keys, TK_CORE + N_SECTIONS, v, k)) return;
    int e;
    if (v[TK_MODEL_NAME])
        sg_yaml_string(c->y, v[TK_MODEL_NAME], "model_name", &p->model_name);
    else
        sg_yaml_error(c->y, root, "missing required key 'model_name'");
    if (v[TK_VERSION]) sg_yaml_string(c->y, v[TK_VERSION], "version", &p->version);
    if (v[TK_STRATEGY] && sg_yaml_enum(c->y, v[TK_STRATEGY], "deployment_strategy", sg_policy_strategy_names,
                                       SG_COUNT(sg_policy_strategy_names), &e))
        p->deployment_strategy = e;
    if (v[TK_MONITORING] && sg_yaml_enum(c->y, v[TK_MONITORING], "monitoring_frequency",
                                         sg_policy_monitor_names, SG_COUNT(sg_policy_monitor_names), &e))
        p->monitoring_frequency = e;
    if (v[TK_INCIDENT])
        sg_yaml_string(c->y, v[TK_INCIDENT], "incident_response_plan", &p->incident_response_plan);
    if (v[TK_MITIGATION]) parse_mitigations(c, v[TK_MITIGATION]);
    if (v[TK_MODELS]) parse_models(c, v[TK_MODELS]);
    if (v[TK_STAGES])
        sg_policy_parse_stages(c, v[TK_STAGES]);
    else
        sg_yaml_error(c->y, root, "missing required key 'release_stages'");
    if (v[TK_CURRENT]) {
        char *name = NULL;
        if (sg_yaml_string(c->y, v[TK_CURRENT], "current_stage", &name) && p->n_stages) {
            p->current_stage = sg_policy_stage_index(p, name);
            if (p->current_stage < 0) {
                sg_yaml_error(c->y, v[TK_CURRENT], "current_stage '%s' is not a release stage", name);
                p->current_stage = 0;
            }
        }
        free(name);
    }
    for (int i = 0; i < N_SECTIONS; i++)
        if (v[TK_CORE + i]) sections[i].parse(c, v[TK_CORE + i]);
}

/* ------------------------------------------------------------------- load */

void sg_policy_free(sg_policy *p) {
    if (!p) return;
    sg_policy_demo_free(p->demo);
    free(p->path);
    free(p->base_dir);
    free(p->model_name);
    free(p->version);
    for (int i = 0; i < p->n_stages; i++) sg_policy_free_stage(&p->stages[i]);
    free(p->stages);
    for (int i = 0; i < p->n_mitigations; i++) {
        free(p->mitigations[i].risk);
        free(p->mitigations[i].mitigation);
    }
    free(p->mitigations);
    free(p->incident_response_plan);
    for (int i = 0; i < p->n_models; i++) {
        free(p->models[i].name);
        free(p->models[i].path);
    }
    free(p->models);
    free(p->license);
    sg_policy_free_filter(&p->filter);
    sg_policy_free_strings(p->warnings, p->n_warnings);
    free(p);
}

sg_error *sg_policy_load_string(const char *name, const char *text, size_t len, const char *base_dir,
                                sg_policy **out) {
    SG_ASSERT(name && (text || !len) && out, "a name, the text and where to put the policy");
    *out = NULL;
    sg_policy *p = calloc(1, sizeof *p);
    if (!p) return sg_error_new("out of memory");
    p->path = strdup(name);
    p->base_dir = base_dir ? strdup(base_dir) : NULL;
    if (!p->path || (base_dir && !p->base_dir)) {
        sg_policy_free(p);
        return sg_error_new("out of memory");
    }
    unsigned char hash[crypto_generichash_BYTES];
    SG_ASSERT_INIT();
    crypto_generichash(hash, sizeof hash, (const unsigned char *)text, len, NULL, 0);
    sodium_bin2hex(p->digest, sizeof p->digest, hash, sizeof hash);
    p->deployment_strategy = SG_DEPLOY_STAGED_RELEASE;
    p->monitoring_frequency = SG_MONITOR_DAILY;
    p->audit_text = SG_AUDIT_TEXT_HASHED;
    p->audit_retention_days = 90;
    p->max_body_bytes = 1L << 20;
    p->queue_size = 64;
    p->request_timeout_s = 60;
    p->max_batch = 8;
    p->suspend_after_flags = 3;

    sg_yaml_doc y;
    sg_error *err = sg_yaml_doc_open(&y, name, "the policy", text, len);
    if (err) {
        sg_policy_free(p);
        return err;
    }
    sg_policy_ctx c = {.y = &y, .p = p, .base_dir = base_dir};
    yaml_node_t *root = sg_yaml_doc_root(&y);
    if (root)
        parse_top(&c, root);
    else if (sg_yaml_doc_empty(&y))
        sg_yaml_error(&y, NULL, "the policy is empty");
    err = sg_yaml_doc_finish(&y, &p->warnings, &p->n_warnings);
    if (err) {
        sg_policy_free(p);
        return err;
    }
    *out = p;
    return NULL;
}

sg_error *sg_policy_load(const char *path, sg_policy **out) {
    *out = NULL;
    char *text;
    size_t len;
    sg_error *err = sg_file_read(path, &text, &len);
    if (err) return sg_error_wrap(err, "reading policy");
    char *base = NULL;
    const char *slash = strrchr(path, '/');
    if (slash) {
        base = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        if (!base) {
            free(text);
            return sg_error_new("out of memory");
        }
    }
    err = sg_policy_load_string(path, text, len, base, out);
    free(base);
    free(text);
    return err;
}
