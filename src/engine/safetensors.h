/* safetensors.h — the safetensors file format: a validating parser over a
 * read-only memory map and a streaming writer.
 *
 * Layout: an 8-byte little-endian u64 N, N bytes of JSON header
 *   {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}}
 * then the data region; offsets are [begin, end) relative to its start.
 * The parser checks everything before handing out a pointer: header size cap
 * (100,000,000 bytes), duplicate keys, dtypes, shapes, offsets in range and
 * non-overlapping, and size == numel * dtype size. F32, F16 and BF16 are
 * supported; other safetensors dtypes are recognised and reported by name. */
#ifndef SG_SAFETENSORS_H
#define SG_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/fileio.h"

typedef enum { SG_DTYPE_F32, SG_DTYPE_F16, SG_DTYPE_BF16 } sg_dtype;

#define SG_ST_MAX_HEADER 100000000ull
#define SG_ST_MAX_DIMS 8

const char *sg_dtype_name(sg_dtype d); /* "F32", "F16", "BF16" */
size_t sg_dtype_size(sg_dtype d);      /* 4, 2, 2 */
/* Parses "f32"/"F32"/"float32", "f16"/"fp16"/"float16", "bf16"/"bfloat16". */
sg_error *sg_dtype_parse(const char *s, sg_dtype *out) SG_MUST_CHECK;

typedef struct {
    char *name;
    int supported;       /* dtype is one of sg_dtype; else see dtype_name */
    sg_dtype dtype;      /* valid when supported */
    char dtype_name[16]; /* as written in the header, e.g. "F64" */
    int ndim;
    int64_t shape[SG_ST_MAX_DIMS];
    size_t numel;
    const unsigned char *data; /* nbytes bytes inside the mapping (any alignment) */
    size_t nbytes;
    size_t begin, end; /* data_offsets */
} sg_st_tensor;

typedef struct {
    char *path;      /* for error messages */
    sg_file_map map; /* owned when opened from a file */
    int owns_map;
    size_t header_size; /* N */
    const unsigned char *data_region;
    size_t data_size;
    sg_st_tensor *tensors; /* in header order */
    int n_tensors;
    char **meta; /* key, value, key, value, ... */
    int n_meta;
} sg_safetensors;

/* Maps and validates `path`. */
sg_error *sg_safetensors_open(const char *path, sg_safetensors **out) SG_MUST_CHECK;
/* Validates a buffer the caller keeps alive (tests, fuzzing); `name` labels errors. */
sg_error *sg_safetensors_parse(const char *name, const unsigned char *buf, size_t size,
                               sg_safetensors **out) SG_MUST_CHECK;
void sg_safetensors_close(sg_safetensors *st);

const sg_st_tensor *sg_safetensors_find(const sg_safetensors *st, const char *name);
const char *sg_safetensors_meta(const sg_safetensors *st, const char *key); /* NULL if absent */

/* Writer: declare every tensor up front, then stream their bytes in order. */
typedef struct {
    const char *name;
    sg_dtype dtype;
    int ndim;
    int64_t shape[SG_ST_MAX_DIMS];
} sg_st_spec;

typedef struct sg_st_writer sg_st_writer;

/* Writes the header of `path` (atomically replaced on finish). metadata_kv
 * holds n_metadata key,value pairs (2*n_metadata strings). */
sg_error *sg_st_writer_open(const char *path, const sg_st_spec *specs, int n_specs,
                            const char *const *metadata_kv, int n_metadata, sg_st_writer **out) SG_MUST_CHECK;
/* Appends raw little-endian tensor bytes (any chunking, across tensors). */
sg_error *sg_st_writer_write(sg_st_writer *w, const void *data, size_t nbytes) SG_MUST_CHECK;
/* Appends `nbytes` zero bytes as a hole in a sparse file (no disk written). */
sg_error *sg_st_writer_write_zeros(sg_st_writer *w, size_t nbytes) SG_MUST_CHECK;
/* Appends F32 values converted to the current tensor's dtype. */
sg_error *sg_st_writer_write_f32(sg_st_writer *w, const float *x, size_t n) SG_MUST_CHECK;
/* Checks every declared byte was written, then commits (fsync + rename). */
sg_error *sg_st_writer_finish(sg_st_writer *w) SG_MUST_CHECK;
void sg_st_writer_abort(sg_st_writer *w);

/* Conversions (round to nearest even; NaN stays NaN, overflow to infinity). */
float sg_f16_to_f32(uint16_t h);
uint16_t sg_f32_to_f16(float f);
float sg_bf16_to_f32(uint16_t h);
uint16_t sg_f32_to_bf16(float f);
/* n values of dtype `d` at `src` (any alignment) into dst. */
void sg_convert_to_f32(sg_dtype d, const void *src, float *dst, size_t n);

#endif
