/* cmd_generate.c — `stagegate generate`: text generation from a checkpoint
 * directory, streamed to stdout token by token through sg_batch. Several
 * --prompt-ids run as one batch (the reference tests and the benchmark use
 * that); --stats reports prefill and decode speed on stderr. */
#include <errno.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "engine/checkpoint.h"
#include "engine/generate.h"
#include "engine/kernels.h"
#include "engine/tokenizer.h"
#include "safety/watermark.h"
#include "safety/watermark_key.h"
#include <sodium.h>

#define MAX_PROMPTS 64

typedef struct {
    const char *model_dir, *prompt, *db_path;
    const char *prompt_ids[MAX_PROMPTS], *stop_text[SG_MAX_STOP];
    int n_prompt_ids, n_stop_text;
    int want_ids, no_eot, stagger, stats, bf16, watermark;
    long max_tokens, top_k, threads, seed;
    double temperature, top_p, wm_gamma, wm_delta;
    long limits[MAX_PROMPTS];
} generate_opts;

/* --limit I=N: sequence I stops after N tokens. */
static sg_error *set_limit(void *dst, const sg_cli_opt *opt, const char *value) {
    (void)opt;
    generate_opts *o = dst;
    const char *eq = strchr(value, '=');
    char *end;
    if (!eq) return sg_error_new("expected I=N, got '%s'", value);
    errno = 0;
    long idx = strtol(value, &end, 10);
    if (errno || end != eq || idx < 0 || idx > MAX_PROMPTS - 1)
        return sg_error_new("expected an index from 0 to %d before '=', got '%s'", MAX_PROMPTS - 1, value);
    long lim = strtol(eq + 1, &end, 10);
    if (errno || end == eq + 1 || *end || lim < 0 || lim > 1 << 20)
        return sg_error_new("expected a count from 0 to %d after '=', got '%s'", 1 << 20, value);
    o->limits[idx] = lim;
    return NULL;
}

#define OFF(field) offsetof(generate_opts, field)
static const sg_cli_opt table[] = {
    {"model", 'm', SG_CLI_STRING, OFF(model_dir), .arg = "DIR",
     .help = "checkpoint directory (config.json, model.safetensors; vocab.json + merges.txt for text)"},
    {"prompt", 'p', SG_CLI_STRING, OFF(prompt), .arg = "TEXT", .help = "the prompt as text"},
    {"prompt-ids", 0, SG_CLI_STRING, OFF(prompt_ids), .arg = "IDS",
     .help = "the prompt as token ids; several run as one batch (one output line each, needs --ids)",
     .repeat = MAX_PROMPTS, .count_off = OFF(n_prompt_ids)},
    {"max-tokens", 'n', SG_CLI_LONG, OFF(max_tokens), .arg = "N", .help = "new tokens at most", .min = 0,
     .max = 1 << 20},
    {"temperature", 0, SG_CLI_DOUBLE, OFF(temperature), .arg = "T", .help = "0 = greedy"},
    {"top-k", 0, SG_CLI_LONG, OFF(top_k), .arg = "K", .help = "keep the K most likely tokens, 0 = off",
     .min = 0, .max = 1 << 30},
    {"top-p", 0, SG_CLI_DOUBLE, OFF(top_p), .arg = "P",
     .help = "keep the smallest set holding P of the mass, 1 = off"},
    {"seed", 0, SG_CLI_LONG, OFF(seed), .arg = "S", .help = "random seed; sequence i uses S + i", .min = 0,
     .max = 0x7fffffff},
    {"stop", 0, SG_CLI_STRING, OFF(stop_text), .arg = "TEXT",
     .help = "stop when the output ends with TEXT's tokens", .repeat = SG_MAX_STOP,
     .count_off = OFF(n_stop_text)},
    {"ids", 0, SG_CLI_FLAG, OFF(want_ids), .arg = NULL,
     .help = "print the generated ids (space-separated, one line per sequence)"},
    {"no-eot", 0, SG_CLI_FLAG, OFF(no_eot), .arg = NULL, .help = "do not stop at <|endoftext|>"},
    {"stagger", 0, SG_CLI_FLAG, OFF(stagger), .arg = NULL,
     .help = "sequence i joins the batch after i steps (tests join/leave)"},
    {"limit", 0, SG_CLI_STRING, 0, .arg = "I=N",
     .help = "sequence I (from 0) stops after N tokens instead of -n", .call = set_limit},
    {"threads", 0, SG_CLI_LONG, OFF(threads), .arg = "N", .help = "threads for the forward pass", .min = 1,
     .max = 1024, .def = "all cores"},
    {"bf16", 0, SG_CLI_FLAG, OFF(bf16), .arg = NULL,
     .help = "decode with bf16 copies of the weights (half the bytes per token)"},
    {"stats", 0, SG_CLI_FLAG, OFF(stats), .arg = NULL, .help = "print prefill and decode speed to stderr"},
    {"watermark", 0, SG_CLI_FLAG, OFF(watermark), .arg = NULL,
     .help = "watermark the output (green-list, keyed by the store's secret)"},
    {"db", 0, SG_CLI_STRING, OFF(db_path), .arg = "PATH", .help = "the store holding the watermark key"},
    {"gamma", 0, SG_CLI_DOUBLE, OFF(wm_gamma), .arg = "G", .help = "watermark green fraction"},
    {"delta", 0, SG_CLI_DOUBLE, OFF(wm_delta), .arg = "D", .help = "watermark logit bias"},
    {0},
};
#undef OFF
static const sg_cli_cmd cmd = {
    .name = "generate",
    .summary = "generate text from a prompt (streams)",
    .opts = table,
    .description =
        "Generates a continuation of the prompt (-p TEXT or --prompt-ids) with the model in DIR and\n"
        "streams it to stdout.\n",
};

/* "1 2 3" -> malloc'd ids. Returns -1 with a message on bad input. */
static int parse_ids(const char *s, int **ids, int *n) {
    int cap = 16, k = 0;
    int *v = malloc(sizeof(int) * cap);
    if (!v) return -1;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < 0 || x > 0x7fffffff) {
            fprintf(stderr, "stagegate generate: bad token id at '%.20s'\n", p);
            free(v);
            return -1;
        }
        if (k == cap) {
            int *nv = realloc(v, sizeof(int) * (cap *= 2));
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
        }
        v[k++] = (int)x;
        p = end;
    }
    *ids = v;
    *n = k;
    return 0;
}

typedef struct {
    int *ids, n, cap;
} idvec;

static int idvec_push(idvec *v, int x) {
    if (v->n == v->cap) {
        int nc = v->cap ? v->cap * 2 : 64;
        int *p = realloc(v->ids, sizeof(int) * nc);
        if (!p) return -1;
        v->ids = p;
        v->cap = nc;
    }
    v->ids[v->n++] = x;
    return 0;
}

int sg_cmd_generate(int argc, char **argv) {
    generate_opts o = {.max_tokens = 64,
                       .temperature = 1,
                       .top_p = 1,
                       .wm_gamma = 0.25,
                       .wm_delta = 2.0,
                       .db_path = "stagegate.db"};
    for (int i = 0; i < MAX_PROMPTS; i++) o.limits[i] = -1;
    int rc = sg_cli_parse(&cmd, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *model_dir = o.model_dir, *prompt = o.prompt, *const *stop_text = o.stop_text;
    const char *const *prompt_ids = o.prompt_ids;
    int n_prompt_ids = o.n_prompt_ids, n_stop_text = o.n_stop_text, want_ids = o.want_ids, no_eot = o.no_eot;
    int stagger = o.stagger, stats = o.stats, bf16 = o.bf16, watermark = o.watermark;
    long max_tokens = o.max_tokens, top_k = o.top_k, threads = o.threads, seed = o.seed;
    float temperature = (float)o.temperature, top_p = (float)o.top_p, wm_gamma = (float)o.wm_gamma,
          wm_delta = (float)o.wm_delta;
    const char *db_path = o.db_path;
    const long *limits = o.limits;
    if (!model_dir || (!prompt && !n_prompt_ids) || (prompt && n_prompt_ids)) {
        return sg_cli_usage("generate", "need -m DIR and either -p TEXT or --prompt-ids");
    }
    if (n_prompt_ids > 1 && !want_ids) {
        fprintf(stderr, "stagegate generate: several --prompt-ids need --ids\n");
        return 2;
    }
    if (threads > 0) sg_set_threads((int)threads);

    int status = 1, n_seq = prompt ? 1 : n_prompt_ids;
    sg_checkpoint *ck = NULL;
    sg_tokenizer *tok = NULL;
    sg_gpt2 *model = NULL;
    sg_batch *batch = NULL;
    sg_batch_event *events = NULL;
    sg_watermark *wm = NULL;
    int *prompts[MAX_PROMPTS] = {0}, n_prompts[MAX_PROMPTS] = {0}, seq_ids[MAX_PROMPTS];
    int *stops[SG_MAX_STOP] = {0}, stop_len[SG_MAX_STOP] = {0};
    idvec out[MAX_PROMPTS] = {{0}};
    sg_error *err = sg_checkpoint_open(model_dir, &ck);
    if (err) goto fail;
    const sg_gpt2_weights *w = sg_checkpoint_weights(ck);
    int need_tok = prompt || n_stop_text || !want_ids;
    err = sg_tokenizer_load(model_dir, &tok);
    if (err) {
        if (need_tok) goto fail;
        sg_error_free(err);
        err = NULL;
        tok = NULL;
    }
    if (tok && sg_tokenizer_vocab_size(tok) > w->config.vocab_size) {
        err = sg_error_new("the tokenizer has %d ids but the model only %d", sg_tokenizer_vocab_size(tok),
                           w->config.vocab_size);
        goto fail;
    }
    for (int i = 0; i < n_seq; i++) {
        if (prompt) {
            err = sg_tokenizer_encode(tok, prompt, strlen(prompt), 1, &prompts[i], &n_prompts[i]);
            if (err) goto fail;
        } else if (parse_ids(prompt_ids[i], &prompts[i], &n_prompts[i])) {
            status = 2;
            goto fail;
        }
    }
    for (int i = 0; i < n_stop_text; i++) {
        err = sg_tokenizer_encode(tok, stop_text[i], strlen(stop_text[i]), 0, &stops[i], &stop_len[i]);
        if (err) goto fail;
        if (stop_len[i] == 0) {
            err = sg_error_new("--stop text is empty");
            goto fail;
        }
    }
    if (watermark) {
        unsigned char key[SG_WATERMARK_KEY_BYTES];
        err = sg_watermark_key_from_db(db_path, key, NULL);
        if (!err) err = sg_watermark_new(key, wm_gamma, wm_delta, &wm);
        sodium_memzero(key, sizeof key);
        if (err) goto fail;
    }
    err = sg_gpt2_new(w, n_seq, &model);
    if (err) goto fail;
    if (bf16 && (err = sg_gpt2_use_bf16(model))) goto fail;
    err = sg_batch_new(model, &batch);
    if (err) goto fail;
    events = malloc(sizeof *events * sg_batch_capacity(batch));
    if (!events) {
        err = sg_error_new("out of memory");
        goto fail;
    }
    sg_generation_params params = {0};
    params.max_tokens = (int)max_tokens;
    params.sampling.temperature = temperature;
    params.sampling.top_k = (int)top_k;
    params.sampling.top_p = top_p;
    params.eot_token = tok && !no_eot ? sg_tokenizer_eot(tok) : -1;
    params.n_stop = n_stop_text;
    for (int i = 0; i < n_stop_text; i++) params.stop[i] = stops[i], params.stop_len[i] = stop_len[i];

    int added = 0, step = 0, n_prefill_tokens = 0, n_decode_tokens = 0;
    double t_prefill = 0, t_decode = 0;
    while (added < n_seq || sg_batch_running(batch) > 0) {
        int adding = 0;
        while (added < n_seq && (!stagger || added <= step)) {
            params.sampling.seed = (uint64_t)seed + (uint64_t)added;
            params.max_tokens = limits[added] >= 0 ? (int)limits[added] : (int)max_tokens;
            err = sg_batch_add(batch, prompts[added], n_prompts[added], &params, &seq_ids[added]);
            if (err) {
                err = sg_error_wrap(err, "sequence %d", added);
                goto fail;
            }
            if (wm) sg_batch_set_processor(batch, seq_ids[added], sg_watermark_processor(wm));
            n_prefill_tokens += n_prompts[added];
            added++;
            adding = 1;
        }
        int n_events;
        double t0 = sg_monotonic_s();
        err = sg_batch_step(batch, events, &n_events);
        double dt = sg_monotonic_s() - t0;
        if (err) goto fail;
        /* Time of a step with joins counts as prefill (it is dominated by it). */
        if (adding)
            t_prefill += dt;
        else
            t_decode += dt, n_decode_tokens += n_events;
        for (int e = 0; e < n_events; e++) {
            int i = 0;
            while (i < n_seq && seq_ids[i] != events[e].seq_id) i++;
            int t = events[e].token;
            if (t < 0 || i == n_seq) continue;
            if (idvec_push(&out[i], t)) {
                err = sg_error_new("out of memory");
                goto fail;
            }
            if (n_seq == 1) {
                if (want_ids) {
                    printf(out[i].n > 1 ? " %d" : "%d", t);
                } else {
                    size_t len;
                    const char *bytes = sg_tokenizer_token_bytes(tok, t, &len);
                    if (bytes) fwrite(bytes, 1, len, stdout);
                }
                fflush(stdout);
            }
        }
        step++;
    }
    if (n_seq == 1)
        putchar('\n');
    else
        for (int i = 0; i < n_seq; i++) {
            for (int j = 0; j < out[i].n; j++) printf(j ? " %d" : "%d", out[i].ids[j]);
            putchar('\n');
        }
    fflush(stdout);
    if (stats)
        fprintf(stderr,
                "stats: threads %d, sequences %d, prompt tokens %d, prefill %.4f s (%.1f tok/s), "
                "decode tokens %d in %.4f s (%.2f tok/s)\n",
                omp_get_max_threads(), n_seq, n_prefill_tokens, t_prefill,
                t_prefill > 0 ? n_prefill_tokens / t_prefill : 0, n_decode_tokens, t_decode,
                t_decode > 0 ? n_decode_tokens / t_decode : 0);
    status = 0;
fail:
    if (err) {
        fprintf(stderr, "stagegate generate: %s\n", sg_error_message(err));
        sg_error_free(err);
    }
    for (int i = 0; i < MAX_PROMPTS; i++) free(prompts[i]), free(out[i].ids);
    for (int i = 0; i < SG_MAX_STOP; i++) free(stops[i]);
    free(events);
    sg_batch_free(batch);
    sg_watermark_free(wm);
    sg_gpt2_free(model);
    sg_tokenizer_free(tok);
    sg_checkpoint_close(ck);
    return status;
}
