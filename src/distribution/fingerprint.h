/* fingerprint.h — per-licensee fingerprints in the weights, and tracing a
 * leaked copy back to its licensee.
 *
 * Each issued copy gets a keyed pseudo-random perturbation: for every matrix
 * (2-D tensor) of the model, element j is marked when the keystream byte b_j
 * has (b_j & 3) == 0 (a quarter of the elements), and moved by
 * ±epsilon·rms(tensor) with the sign (b_j & 4). The keystream is ChaCha20
 * keyed by BLAKE2b-256(key = seed, tensor name), and the issue's seed is
 * BLAKE2b-256(key = fingerprint key, "sg-fingerprint-v1" || licensee id ||
 * issue nonce); the fingerprint key is derived from the store's DB.key, the
 * nonce is random and kept with the issue in the store.
 *
 * Trace: for a suspect model, d_j = (suspect_j − original_j)/rms(tensor); for
 * each issue, z = Σ_{marked j} sign_j·d_j / sqrt(Σ_{marked j} d_j²). Whatever
 * d is, if it does not depend on that issue's key the signs are independent
 * fair coins and z has mean 0 and variance 1 (a sub-Gaussian tail), so a
 * threshold of z >= 6 bounds a false accusation below ~1e-9 per issue; the
 * copy itself scores about sqrt(marked elements) (hundreds). Conversions,
 * noise and fine-tuning add to d but keep the mark's correlation. */
#ifndef SG_FINGERPRINT_H
#define SG_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "engine/safetensors.h"
#include "store/store_distribution.h"

#define SG_FP_KEY_BYTES 32  /* the fingerprint key, derived from DB.key */
#define SG_FP_SEED_BYTES 32 /* one issue's seed: BLAKE2b-256 of (licensee, nonce) under the key */
#define SG_FP_DEFAULT_EPSILON 0.2
#define SG_FP_THRESHOLD 6.0

/* The fingerprint key of the store at db_path (derived from DB.key). */
sg_error *sg_fp_key(const char *db_path, sg_store *store, unsigned char key[SG_FP_KEY_BYTES]) SG_MUST_CHECK;
/* The seed of one issue. */
void sg_fp_seed(const unsigned char fp_key[SG_FP_KEY_BYTES], int64_t licensee_id,
                const unsigned char nonce[SG_ISSUE_NONCE_BYTES], unsigned char seed[SG_FP_SEED_BYTES]);
/* Is this tensor fingerprinted (a supported-dtype matrix)? */
int sg_fp_tensor_marked(const sg_st_tensor *t);

/* A streaming reader producing the fingerprinted copy of a safetensors file
 * (same header, same size), chunk by chunk from its memory map. */
typedef struct sg_fp_reader sg_fp_reader;
sg_error *sg_fp_reader_open(const char *path, const unsigned char seed[SG_FP_SEED_BYTES], double epsilon,
                            sg_fp_reader **out) SG_MUST_CHECK;
uint64_t sg_fp_reader_size(const sg_fp_reader *r);
/* Fills up to cap bytes (cap >= 4096); *got == 0 at the end. */
sg_error *sg_fp_reader_read(sg_fp_reader *r, unsigned char *buf, size_t cap, size_t *got) SG_MUST_CHECK;
void sg_fp_reader_close(sg_fp_reader *r);

/* Scores n seeds: z[i] for seed i over suspect − original. When the two
 * files do not have the same matrices (names, shapes), *comparable is 0,
 * `why` says what differs and z is all zeros. */
sg_error *sg_fp_score(const sg_safetensors *original, const sg_safetensors *suspect,
                      const unsigned char (*seeds)[SG_FP_SEED_BYTES], int n, double *z, int *comparable,
                      char *why, size_t why_cap) SG_MUST_CHECK;

/* One row of a trace. */
typedef struct {
    int64_t issue_id;
    char licensee[SG_KEY_NAME_MAX];
    char model[SG_KEY_NAME_MAX];
    double z;
} sg_trace_score;

typedef struct {
    int n_issues;         /* issues scored */
    sg_trace_score *rows; /* sorted by z, highest first (free with free()) */
    int n_comparable;     /* issues whose original matches the suspect's shape */
    double threshold;     /* SG_FP_THRESHOLD */
    char note[256];       /* why nothing was comparable, if so */
} sg_trace_result;

/* Scores the suspect checkpoint directory against every issue in the store
 * (each issue's original is re-read from its recorded path and checked
 * against its recorded BLAKE2b-256). */
sg_error *sg_fp_trace(sg_store *store, const char *db_path, const char *suspect_dir,
                      sg_trace_result *out) SG_MUST_CHECK;
/* The confidence that the best row is right: 1 − n·P(N(0,1) >= z), clipped to
 * [0, 1]; 0 under the threshold. */
double sg_fp_confidence(double z, int n_issues);

/* SHA-256 and BLAKE2b-256 of a file, streamed (hex). BLAKE2b is about three
 * times faster here: the store identifies originals by it. */
sg_error *sg_sha256_file(const char *path, char hex[65]) SG_MUST_CHECK;
sg_error *sg_blake2b_file(const char *path, char hex[65]) SG_MUST_CHECK;

#endif
