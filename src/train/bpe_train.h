/* bpe_train.h — byte-level BPE training with GPT-2's pre-tokenizer, writing
 * vocab.json + merges.txt in the Hugging Face layout (sg_tokenizer_load reads
 * them back).
 *
 * Text is split into documents at "<|endoftext|>" (the marker itself is not
 * counted), each document into pre-tokens by GPT-2's regex; invalid UTF-8
 * runs become pre-tokens of their own, exactly as the encoder does. The
 * frequencies of distinct pre-tokens are counted once; merges are then found
 * on the distinct words with incremental pair-count updates.
 *
 * Ids: 0..255 are the byte tokens in GPT-2's order, then one id per new token
 * in merge order, and "<|endoftext|>" last (id vocab_size - 1). The most
 * frequent pair is merged first; ties go to the lowest (left id, right id), so
 * a run is deterministic. A merge whose result is already a token (the same
 * bytes reached another way) reuses that token's id, as Hugging Face does. */
#ifndef SG_BPE_TRAIN_H
#define SG_BPE_TRAIN_H

#include <stddef.h>

#include "base/error.h"

#define SG_BPE_MIN_VOCAB 257
#define SG_BPE_MAX_VOCAB (1 << 20)

typedef struct sg_bpe_trainer sg_bpe_trainer;

sg_error *sg_bpe_trainer_new(sg_bpe_trainer **out) SG_MUST_CHECK;
void sg_bpe_trainer_free(sg_bpe_trainer *tr);

/* Counts the pre-tokens of `len` bytes of text (any bytes). */
sg_error *sg_bpe_trainer_add_text(sg_bpe_trainer *tr, const char *text, size_t len) SG_MUST_CHECK;
/* Same for a whole file (memory-mapped). */
sg_error *sg_bpe_trainer_add_file(sg_bpe_trainer *tr, const char *path) SG_MUST_CHECK;

/* Learns merges until the vocabulary (with "<|endoftext|>") has vocab_size
 * tokens and writes out_dir/vocab.json and out_dir/merges.txt atomically
 * (out_dir must exist). Errors: vocab_size outside [257, 2^20], an empty
 * corpus, or a corpus too small to supply that many tokens. Runs once per
 * trainer. */
sg_error *sg_bpe_trainer_train(sg_bpe_trainer *tr, int vocab_size, const char *out_dir) SG_MUST_CHECK;

/* Statistics of the counted corpus. */
size_t sg_bpe_trainer_bytes(const sg_bpe_trainer *tr);
size_t sg_bpe_trainer_distinct_words(const sg_bpe_trainer *tr);

#endif
