/* cmd_detect.c — `stagegate detect`: is the text on stdin from the model
 * family? The watermark score (keyed by the store's secret) and the
 * zero-shot Fast-DetectGPT score under the model in DIR, as one JSON object;
 * --explain adds each token's rank bucket (GLTR view). */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/read_all.h"
#include "engine/checkpoint.h"
#include "engine/tokenizer.h"
#include "safety/watermark.h"
#include "safety/watermark_key.h"
#include "safety/zeroshot.h"

typedef struct {
    const char *dir, *db;
    int explain, ids_in, no_zero_shot;
    double gamma, z_thr, zs_thr;
} detect_opts;

static const sg_cli_opt table[] = {
    {"model", 'm', SG_CLI_STRING, offsetof(detect_opts, dir), .arg = "DIR",
     .help = "the model (checkpoint + vocab.json/merges.txt) to tokenize and score with"},
    {"db", 0, SG_CLI_STRING, offsetof(detect_opts, db), .arg = "PATH",
     .help = "the store holding the watermark key; without it, no watermark check"},
    {"explain", 0, SG_CLI_FLAG, offsetof(detect_opts, explain), .arg = NULL,
     .help = "add each token's rank under the model (top-10/100/1000/beyond)"},
    {"ids", 0, SG_CLI_FLAG, offsetof(detect_opts, ids_in), .arg = NULL,
     .help = "stdin holds token ids, not text"},
    {"gamma", 0, SG_CLI_DOUBLE, offsetof(detect_opts, gamma), .arg = "G",
     .help = "watermark green fraction (as generate)"},
    {"z-threshold", 0, SG_CLI_DOUBLE, offsetof(detect_opts, z_thr), .arg = "Z",
     .help = "watermark verdict threshold"},
    {"zs-threshold", 0, SG_CLI_DOUBLE, offsetof(detect_opts, zs_thr), .arg = "S",
     .help = "zero-shot verdict threshold (calibrate on human text)"},
    {"no-zero-shot", 0, SG_CLI_FLAG, offsetof(detect_opts, no_zero_shot), .arg = NULL,
     .help = "skip the model scoring (watermark only)"},
    {0},
};
static const sg_cli_cmd cmd = {
    .name = "detect",
    .summary = "is stdin text from the model? watermark and zero-shot scores",
    .opts = table,
    .description = "Scores the text on stdin and prints one JSON object: watermark {z, p_value, green,\n"
                   "tokens_scored}, zero_shot {score, log_rank, log_likelihood}, tokens_scored and a\n"
                   "verdict (watermarked, likely_generated or not_detected).\n",
};

static int parse_ids(const char *s, int **ids, int *n) {
    int cap = 64, k = 0;
    int *v = malloc(sizeof(int) * cap);
    for (const char *p = s; v;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == ',' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < 0 || x > 0x7fffffff) {
            fprintf(stderr, "stagegate detect: bad token id at '%.20s'\n", p);
            free(v);
            return -1;
        }
        if (k == cap) {
            int *nv = realloc(v, sizeof(int) * (cap *= 2));
            if (!nv) free(v);
            v = nv;
            if (!v) break;
        }
        v[k++] = (int)x;
        p = end;
    }
    if (!v) return -1;
    *ids = v;
    *n = k;
    return 0;
}

int sg_cmd_detect(int argc, char **argv) {
    detect_opts o = {.gamma = 0.25, .z_thr = 4, .zs_thr = 2};
    int rc = sg_cli_parse(&cmd, argc, argv, &o, NULL);
    if (rc >= 0) return rc;
    const char *dir = o.dir, *db = o.db;
    int explain = o.explain, ids_in = o.ids_in, zero_shot = !o.no_zero_shot;
    double gamma = o.gamma, z_thr = o.z_thr, zs_thr = o.zs_thr;
    if (!dir && (zero_shot || !ids_in)) {
        fprintf(stderr, "stagegate detect: need -m DIR (the model, for its tokenizer and scores)\n");
        return 2;
    }
    if (!db && !zero_shot) {
        fprintf(stderr, "stagegate detect: nothing to do: no --db and --no-zero-shot\n");
        return 2;
    }
    size_t len;
    char *text = sg_read_stream(stdin, &len);
    if (!text) {
        fprintf(stderr, "stagegate detect: out of memory reading stdin\n");
        return 1;
    }
    int *ids = NULL, n = 0, status = 1;
    sg_tokenizer *tok = NULL;
    sg_checkpoint *ck = NULL;
    sg_watermark *wm = NULL;
    sg_zeroshot zs = {0};
    json_t *out = json_object();
    sg_error *err = NULL;
    if (ids_in) {
        if (parse_ids(text, &ids, &n)) {
            status = 2;
            goto done;
        }
    } else {
        err = sg_tokenizer_load(dir, &tok);
        if (!err) err = sg_tokenizer_encode(tok, text, len, 0, &ids, &n);
        if (err) goto done;
    }
    json_object_set_new(out, "tokens", json_integer(n));
    int detected_wm = 0, detected_zs = 0;
    int scored = 0;
    if (db) {
        unsigned char key[SG_WATERMARK_KEY_BYTES];
        char fp[17];
        err = sg_watermark_key_from_db(db, key, fp);
        if (!err) err = sg_watermark_new(key, gamma, 0, &wm);
        sodium_memzero(key, sizeof key);
        sg_watermark_score s;
        if (!err) err = sg_watermark_detect(wm, ids, n, z_thr, &s);
        if (err) goto done;
        json_t *o = json_object();
        json_object_set_new(o, "z", json_real(s.z));
        json_object_set_new(o, "p_value", json_real(s.p_value));
        json_object_set_new(o, "green", json_integer(s.green));
        json_object_set_new(o, "tokens_scored", json_integer(s.tokens_scored));
        json_object_set_new(o, "gamma", json_real(gamma));
        json_object_set_new(o, "threshold", json_real(z_thr));
        json_object_set_new(o, "key_fingerprint", json_string(fp));
        json_object_set_new(o, "detected", json_boolean(s.watermarked));
        json_object_set_new(out, "watermark", o);
        detected_wm = s.watermarked;
        scored = s.tokens_scored;
    } else {
        json_object_set_new(out, "watermark", json_null());
    }
    if (zero_shot) {
        err = sg_checkpoint_open(dir, &ck);
        if (!err) err = sg_zeroshot_score(sg_checkpoint_weights(ck), ids, n, explain, &zs);
        if (err) goto done;
        json_t *o = json_object();
        json_object_set_new(o, "score", json_real(zs.score));
        json_object_set_new(o, "log_rank", json_real(zs.log_rank));
        json_object_set_new(o, "log_likelihood", json_real(zs.log_likelihood));
        json_object_set_new(o, "tokens_scored", json_integer(zs.n_scored));
        json_object_set_new(o, "threshold", json_real(zs_thr));
        json_object_set_new(o, "detected", json_boolean(zs.score >= zs_thr));
        json_object_set_new(out, "zero_shot", o);
        detected_zs = zs.score >= zs_thr;
        if (!db) scored = zs.n_scored;
        if (explain) {
            json_t *arr = json_array();
            for (int j = 0; j < zs.n_scored; j++) {
                json_t *t = json_object();
                size_t bl = 0;
                const char *b = tok ? sg_tokenizer_token_bytes(tok, ids[j + 1], &bl) : NULL;
                json_object_set_new(t, "id", json_integer(ids[j + 1]));
                if (b) json_object_set_new(t, "text", json_stringn_nocheck(b, bl));
                json_object_set_new(t, "rank", json_integer(zs.ranks[j]));
                json_object_set_new(t, "bucket", json_string(sg_rank_bucket(zs.ranks[j])));
                json_array_append_new(arr, t);
            }
            json_object_set_new(out, "explain", arr);
        }
    } else {
        json_object_set_new(out, "zero_shot", json_null());
    }
    json_object_set_new(out, "tokens_scored", json_integer(scored));
    json_object_set_new(out, "verdict",
                        json_string(detected_wm   ? "watermarked"
                                    : detected_zs ? "likely_generated"
                                                  : "not_detected"));
    json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    putchar('\n');
    status = 0;
done:
    if (err) {
        fprintf(stderr, "stagegate detect: %s\n", sg_error_message(err));
        sg_error_free(err);
    }
    json_decref(out);
    free(zs.ranks);
    sg_watermark_free(wm);
    sg_checkpoint_close(ck);
    sg_tokenizer_free(tok);
    free(ids);
    free(text);
    return status;
}
