/* dataset.h — training data: corpus files -> token ids, split into training
 * and validation by document, cached as a shard file; batches of random
 * windows drawn from a seeded PRNG.
 *
 * Each document (one file) is tokenized on its own and followed by the
 * end-of-text id when the vocabulary has one. Documents go to validation
 * either explicitly (val_files) or by a stable hash of the file name
 * (val_fraction), so the split does not depend on file order.
 *
 * Shard file (little-endian): "SGSHARD1", u32 vocab_size, u32 bytes per token
 * (2 or 4), u32 train docs, u32 val docs, u64 train tokens, u64 val tokens,
 * 32-byte BLAKE2b key of the tokenizer + corpus, then the train then the val
 * tokens. A cache shard is reused only when its key matches. */
#ifndef SG_DATASET_H
#define SG_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "engine/tokenizer.h"

typedef struct {
    int vocab_size;
    int *train, *val; /* token ids */
    size_t n_train, n_val;
    int docs_train, docs_val;
    unsigned char key[32];
} sg_dataset;

/* Expands directories to their *.txt files (sorted); the result is a
 * malloc'd array of malloc'd paths. */
sg_error *sg_dataset_expand(char **paths, int n, char ***files, int *n_files) SG_MUST_CHECK;
void sg_dataset_free_paths(char **files, int n);

/* Tokenizes `files` (validation: `val_files` when n_val > 0, else the hashed
 * val_fraction of the documents). With cache_path, a matching shard there is
 * loaded instead, and a fresh one is written. */
sg_error *sg_dataset_build(const sg_tokenizer *tok, const char *tok_dir, char **files, int n_files,
                           char **val_files, int n_val, double val_fraction, const char *cache_path,
                           sg_dataset *out) SG_MUST_CHECK;

sg_error *sg_dataset_save_shard(const sg_dataset *d, const char *path) SG_MUST_CHECK;
sg_error *sg_dataset_load_shard(const char *path, sg_dataset *out) SG_MUST_CHECK;
void sg_dataset_free(sg_dataset *d);

/* The PRNG of batch sampling: splitmix64, the state is one u64. */
uint64_t sg_rng_next(uint64_t *state);

/* B random windows of T+1 tokens from tokens[0..n): inputs and targets
 * [B*T]. Needs n >= T + 1. */
void sg_dataset_batch(const int *tokens, size_t n, int B, int T, uint64_t *rng, int *inputs, int *targets);

#endif
