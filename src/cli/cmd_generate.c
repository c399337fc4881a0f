/* cmd_generate.c — `stagegate generate`: text generation from a checkpoint
 * directory, streamed to stdout token by token through sg_batch. Several
 * --prompt-ids run as one batch (the reference tests and the benchmark use
 * that); --stats reports prefill and decode speed on stderr. */
#include <errno.h>
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/commands.h"
#include "engine/checkpoint.h"
#include "engine/generate.h"
#include "engine/kernels.h"
#include "engine/tokenizer.h"
#include "safety/watermark.h"
#include "safety/watermark_key.h"
#include <sodium.h>

#define MAX_PROMPTS 64

static void usage(FILE *out) {
    fprintf(out,
            "usage: stagegate generate -m DIR (-p TEXT | --prompt-ids \"ID ...\"...) [options]\n"
            "\n"
            "Generates a continuation of the prompt with the model in DIR (config.json,\n"
            "model.safetensors, and vocab.json + merges.txt for text) and streams it to stdout.\n"
            "\n"
            "  -m, --model DIR        checkpoint directory\n"
            "  -p, --prompt TEXT      the prompt as text\n"
            "      --prompt-ids IDS   the prompt as token ids; repeat to run several sequences\n"
            "                         in one batch (one output line each, needs --ids)\n"
            "  -n, --max-tokens N     new tokens at most (default 64)\n"
            "      --temperature T    0 = greedy (default 1)\n"
            "      --top-k K          keep the K most likely tokens, 0 = off (default 0)\n"
            "      --top-p P          keep the smallest set holding P of the mass, 1 = off (default 1)\n"
            "      --seed S           random seed; sequence i uses S + i (default 0)\n"
            "      --stop TEXT        stop when the output ends with TEXT's tokens (up to 4)\n"
            "      --ids              print the generated ids (space-separated, one line per sequence)\n"
            "      --no-eot           do not stop at <|endoftext|>\n"
            "      --stagger          sequence i joins the batch after i steps (tests join/leave)\n"
            "      --limit I=N        sequence I (from 0) stops after N tokens instead of -n\n"
            "      --threads N        threads for the forward pass (default: all cores)\n"
            "      --bf16             decode with bf16 copies of the weights (half the bytes per token)\n"
            "      --stats            print prefill and decode speed to stderr\n"
            "      --watermark        watermark the output (green-list, keyed by the store's secret)\n"
            "      --db PATH          the store holding the watermark key (default stagegate.db)\n"
            "      --gamma G          watermark green fraction (default 0.25)\n"
            "      --delta D          watermark logit bias (default 2)\n");
}

static int parse_int(const char *s, const char *what, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "stagegate generate: %s must be an integer in [%ld, %ld], got '%s'\n", what, lo, hi,
                s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_float(const char *s, const char *what, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end) {
        fprintf(stderr, "stagegate generate: %s must be a number, got '%s'\n", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

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
    const char *model_dir = NULL, *prompt = NULL, *stop_text[SG_MAX_STOP];
    const char *prompt_ids[MAX_PROMPTS];
    int n_prompt_ids = 0, n_stop_text = 0, want_ids = 0, no_eot = 0, stagger = 0, stats = 0, bf16 = 0;
    long max_tokens = 64, top_k = 0, threads = 0, seed = 0;
    float temperature = 1, top_p = 1, wm_gamma = 0.25f, wm_delta = 2.0f;
    int watermark = 0;
    const char *db_path = "stagegate.db";
    long limits[MAX_PROMPTS];
    for (int i = 0; i < MAX_PROMPTS; i++) limits[i] = -1;
    enum {
        O_IDS = 256,
        O_PROMPT_IDS,
        O_TEMP,
        O_TOPK,
        O_TOPP,
        O_SEED,
        O_STOP,
        O_NOEOT,
        O_STAGGER,
        O_THREADS,
        O_STATS,
        O_LIMIT,
        O_WM,
        O_DB,
        O_GAMMA,
        O_DELTA,
        O_BF16
    };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"prompt", required_argument, 0, 'p'},
        {"max-tokens", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {"ids", no_argument, 0, O_IDS},
        {"prompt-ids", required_argument, 0, O_PROMPT_IDS},
        {"temperature", required_argument, 0, O_TEMP},
        {"top-k", required_argument, 0, O_TOPK},
        {"top-p", required_argument, 0, O_TOPP},
        {"seed", required_argument, 0, O_SEED},
        {"stop", required_argument, 0, O_STOP},
        {"no-eot", no_argument, 0, O_NOEOT},
        {"stagger", no_argument, 0, O_STAGGER},
        {"threads", required_argument, 0, O_THREADS},
        {"stats", no_argument, 0, O_STATS},
        {"limit", required_argument, 0, O_LIMIT},
        {"watermark", no_argument, 0, O_WM},
        {"db", required_argument, 0, O_DB},
        {"gamma", required_argument, 0, O_GAMMA},
        {"delta", required_argument, 0, O_DELTA},
        {"bf16", no_argument, 0, O_BF16},
        {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "m:p:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model_dir = optarg;
            break;
        case 'p':
            prompt = optarg;
            break;
        case 'n':
            if (parse_int(optarg, "-n", 0, 1 << 20, &max_tokens)) return 2;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case O_IDS:
            want_ids = 1;
            break;
        case O_PROMPT_IDS:
            if (n_prompt_ids == MAX_PROMPTS) {
                fprintf(stderr, "stagegate generate: at most %d --prompt-ids\n", MAX_PROMPTS);
                return 2;
            }
            prompt_ids[n_prompt_ids++] = optarg;
            break;
        case O_TEMP:
            if (parse_float(optarg, "--temperature", &temperature)) return 2;
            break;
        case O_TOPK:
            if (parse_int(optarg, "--top-k", 0, 1 << 30, &top_k)) return 2;
            break;
        case O_TOPP:
            if (parse_float(optarg, "--top-p", &top_p)) return 2;
            break;
        case O_SEED:
            if (parse_int(optarg, "--seed", 0, 0x7fffffffL, &seed)) return 2;
            break;
        case O_STOP:
            if (n_stop_text == SG_MAX_STOP) {
                fprintf(stderr, "stagegate generate: at most %d --stop\n", SG_MAX_STOP);
                return 2;
            }
            stop_text[n_stop_text++] = optarg;
            break;
        case O_NOEOT:
            no_eot = 1;
            break;
        case O_STAGGER:
            stagger = 1;
            break;
        case O_THREADS:
            if (parse_int(optarg, "--threads", 1, 1024, &threads)) return 2;
            break;
        case O_STATS:
            stats = 1;
            break;
        case O_BF16:
            bf16 = 1;
            break;
        case O_LIMIT: {
            char *eq = strchr(optarg, '=');
            long idx, lim;
            if (!eq) {
                fprintf(stderr, "stagegate generate: --limit wants I=N, got '%s'\n", optarg);
                return 2;
            }
            *eq = 0;
            if (parse_int(optarg, "--limit index", 0, MAX_PROMPTS - 1, &idx) ||
                parse_int(eq + 1, "--limit count", 0, 1 << 20, &lim))
                return 2;
            limits[idx] = lim;
            break;
        }
        case O_WM:
            watermark = 1;
            break;
        case O_DB:
            db_path = optarg;
            break;
        case O_GAMMA:
            if (parse_float(optarg, "--gamma", &wm_gamma)) return 2;
            break;
        case O_DELTA:
            if (parse_float(optarg, "--delta", &wm_delta)) return 2;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stagegate generate: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!model_dir || (!prompt && !n_prompt_ids) || (prompt && n_prompt_ids)) {
        fprintf(stderr, "stagegate generate: need -m DIR and either -p TEXT or --prompt-ids\n");
        usage(stderr);
        return 2;
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
