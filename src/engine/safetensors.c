/* safetensors.c — validating safetensors parser and streaming writer. */
#include "engine/safetensors.h"

#include <jansson.h>
#include <strings.h>
#ifdef __F16C__
#include <immintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "stagegate reads safetensors in place and needs a little-endian host"
#endif

/* ---- dtypes and conversions ------------------------------------------- */

static const char *const dtype_names[] = {"F32", "F16", "BF16"};

const char *sg_dtype_name(sg_dtype d) { return (unsigned)d < 3 ? dtype_names[d] : "?"; }
size_t sg_dtype_size(sg_dtype d) { return d == SG_DTYPE_F32 ? 4 : 2; }

sg_error *sg_dtype_parse(const char *s, sg_dtype *out) {
    static const struct {
        const char *name;
        sg_dtype d;
    } table[] = {
        {"f32", SG_DTYPE_F32},   {"float32", SG_DTYPE_F32},   {"fp32", SG_DTYPE_F32},
        {"f16", SG_DTYPE_F16},   {"float16", SG_DTYPE_F16},   {"fp16", SG_DTYPE_F16},
        {"bf16", SG_DTYPE_BF16}, {"bfloat16", SG_DTYPE_BF16},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcasecmp(s, table[i].name)) {
            *out = table[i].d;
            return NULL;
        }
    return sg_error_new("unknown dtype '%s' (expected f32, f16 or bf16)", s);
}

/* Every dtype the format defines, with its element size; only the first
 * three are supported for computation. */
static const struct {
    const char *name;
    size_t size;
} known_dtypes[] = {
    {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8},  {"U64", 8},     {"I32", 4},     {"U32", 4},
    {"I16", 2}, {"U16", 2}, {"I8", 1},   {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float sg_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf / NaN */
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in float */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t sg_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t abs = u & 0x7fffffffu;
    if (abs >= 0x7f800000u) /* inf or NaN (keep NaN quiet and non-zero) */
        return sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 | ((abs >> 13) & 0x3ff) : 0);
    if (abs >= 0x477ff000u) return sign | 0x7c00; /* rounds to >= 65520: infinity */
    if (abs < 0x38800000u) {
        /* result is subnormal or zero: value / 2^-24, rounded to nearest even */
        if (abs < 0x33000000u) return sign; /* below half the smallest subnormal */
        uint32_t exp = abs >> 23, man = (abs & 0x7fffff) | 0x800000;
        int shift = 126 - (int)exp; /* 14..24 */
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return sign | (uint16_t)q;
    }
    uint32_t r = abs + 0xfff + ((abs >> 13) & 1); /* round to nearest even at bit 13 */
    return sign | (uint16_t)((r - 0x38000000u) >> 13);
}

float sg_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t sg_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* One chunk of halves to floats; plain loops the compiler vectorises, F16C
 * when the target has it. */
static void convert_chunk(sg_dtype d, const unsigned char *s, float *dst, size_t n) {
    size_t i = 0;
    if (d == SG_DTYPE_BF16) {
        for (; i < n; i++) {
            uint32_t u = (uint32_t)(s[2 * i] | (s[2 * i + 1] << 8)) << 16;
            memcpy(&dst[i], &u, 4);
        }
        return;
    }
#ifdef __F16C__
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i,
                         _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(s + 2 * i))));
#endif
    for (; i < n; i++) dst[i] = sg_f16_to_f32((uint16_t)(s[2 * i] | (s[2 * i + 1] << 8)));
}

void sg_convert_to_f32(sg_dtype d, const void *src, float *dst, size_t n) {
    const unsigned char *s = src;
    if (d == SG_DTYPE_F32) {
        memcpy(dst, s, n * 4);
        return;
    }
    enum { CHUNK = 1 << 16 };
    long long chunks = (long long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (long long c = 0; c < chunks; c++) {
        size_t at = (size_t)c * CHUNK, k = n - at < CHUNK ? n - at : CHUNK;
        convert_chunk(d, s + 2 * at, dst + at, k);
    }
}

/* ---- parser ------------------------------------------------------------ */

void sg_safetensors_close(sg_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    for (int i = 0; i < 2 * st->n_meta; i++) free(st->meta[i]);
    free(st->meta);
    if (st->owns_map) sg_file_unmap(&st->map);
    free(st->path);
    free(st);
}

static int cmp_by_begin(const void *a, const void *b) {
    const sg_st_tensor *x = *(const sg_st_tensor *const *)a, *y = *(const sg_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON integer that must be >= 0. */
static int json_nonneg(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static sg_error *parse_tensor(const sg_safetensors *st, const char *name, json_t *info, sg_st_tensor *t) {
    const char *file = st->path;
    if (!json_is_object(info))
        return sg_error_new("%s: tensor '%s': expected an object with dtype, shape, data_offsets", file,
                            name);
    json_t *dtype = json_object_get(info, "dtype"), *shape = json_object_get(info, "shape"),
           *offs = json_object_get(info, "data_offsets");
    if (!json_is_string(dtype))
        return sg_error_new("%s: tensor '%s': missing or non-string \"dtype\"", file, name);
    if (!json_is_array(shape))
        return sg_error_new("%s: tensor '%s': missing or non-array \"shape\"", file, name);
    if (!json_is_array(offs) || json_array_size(offs) != 2)
        return sg_error_new("%s: tensor '%s': \"data_offsets\" must be an array [begin, end]", file, name);

    const char *dn = json_string_value(dtype);
    size_t esize = 0;
    for (size_t i = 0; i < sizeof known_dtypes / sizeof known_dtypes[0]; i++)
        if (!strcmp(dn, known_dtypes[i].name)) {
            esize = known_dtypes[i].size;
            snprintf(t->dtype_name, sizeof t->dtype_name, "%s", known_dtypes[i].name);
            t->supported = i < 3;
            t->dtype = t->supported ? (sg_dtype)i : SG_DTYPE_F32;
        }
    if (!esize) return sg_error_new("%s: tensor '%s': unknown dtype \"%.32s\"", file, name, dn);

    size_t nd = json_array_size(shape);
    if (nd > SG_ST_MAX_DIMS)
        return sg_error_new("%s: tensor '%s': %zu dimensions, at most %d supported", file, name, nd,
                            SG_ST_MAX_DIMS);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        uint64_t d;
        if (!json_nonneg(json_array_get(shape, i), &d))
            return sg_error_new("%s: tensor '%s': shape[%zu] is not a non-negative integer", file, name, i);
        if (d != 0 && numel > UINT64_MAX / d)
            return sg_error_new("%s: tensor '%s': shape overflows", file, name);
        numel *= d;
        t->shape[i] = (int64_t)d;
    }
    uint64_t begin, end;
    if (!json_nonneg(json_array_get(offs, 0), &begin) || !json_nonneg(json_array_get(offs, 1), &end))
        return sg_error_new("%s: tensor '%s': data_offsets must be non-negative integers", file, name);
    if (end < begin)
        return sg_error_new("%s: tensor '%s': data_offsets [%llu, %llu) end before begin", file, name,
                            (unsigned long long)begin, (unsigned long long)end);
    if (end > st->data_size)
        return sg_error_new("%s: tensor '%s': data_offsets [%llu, %llu) out of range: the data region "
                            "has %zu bytes (file truncated?)",
                            file, name, (unsigned long long)begin, (unsigned long long)end, st->data_size);
    if (numel > UINT64_MAX / esize || numel * esize != end - begin)
        return sg_error_new("%s: tensor '%s': %s shape with %llu elements needs %llu bytes, data_offsets "
                            "[%llu, %llu) hold %llu",
                            file, name, t->dtype_name, (unsigned long long)numel,
                            (unsigned long long)(numel * esize), (unsigned long long)begin,
                            (unsigned long long)end, (unsigned long long)(end - begin));
    t->numel = (size_t)numel;
    t->begin = (size_t)begin;
    t->end = (size_t)end;
    t->data = st->data_region + begin;
    t->nbytes = (size_t)(end - begin);
    return NULL;
}

static sg_error *parse_metadata(sg_safetensors *st, json_t *meta) {
    if (!json_is_object(meta))
        return sg_error_new("%s: \"__metadata__\" must be an object of strings", st->path);
    size_t n = json_object_size(meta);
    st->meta = calloc(2 * n + 1, sizeof *st->meta);
    if (!st->meta) return sg_error_new("out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v))
            return sg_error_new("%s: __metadata__ value of \"%.64s\" must be a string", st->path, k);
        st->meta[2 * st->n_meta] = strdup(k);
        st->meta[2 * st->n_meta + 1] = strdup(json_string_value(v));
        st->n_meta++;
        if (!st->meta[2 * st->n_meta - 2] || !st->meta[2 * st->n_meta - 1])
            return sg_error_new("out of memory");
    }
    return NULL;
}

static sg_error *parse_header(sg_safetensors *st, const unsigned char *buf, size_t size) {
    if (size < 8)
        return sg_error_new(
            "%s: truncated: %zu bytes, a safetensors file starts with an 8-byte header length", st->path,
            size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
    if (n > SG_ST_MAX_HEADER)
        return sg_error_new("%s: header length %llu exceeds the %llu-byte limit", st->path,
                            (unsigned long long)n, SG_ST_MAX_HEADER);
    if (n > size - 8)
        return sg_error_new("%s: header length %llu is past the end of the file (%zu bytes): truncated or "
                            "not a safetensors file",
                            st->path, (unsigned long long)n, size);
    if (n < 2)
        return sg_error_new("%s: header of %llu bytes cannot hold a JSON object", st->path,
                            (unsigned long long)n);
    st->header_size = (size_t)n;
    st->data_region = buf + 8 + n;
    st->data_size = size - 8 - (size_t)n;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return sg_error_new("%s: header JSON: line %d column %d: %s", st->path, jerr.line, jerr.column,
                            jerr.text);
    sg_error *err = NULL;
    if (!json_is_object(root)) {
        err = sg_error_new("%s: header JSON is not an object", st->path);
        goto out;
    }
    size_t count = json_object_size(root);
    st->tensors = calloc(count ? count : 1, sizeof *st->tensors);
    if (!st->tensors) {
        err = sg_error_new("out of memory");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if ((err = parse_metadata(st, val))) goto out;
            continue;
        }
        sg_st_tensor *t = &st->tensors[st->n_tensors];
        if ((err = parse_tensor(st, key, val, t))) goto out;
        if (!(t->name = strdup(key))) {
            err = sg_error_new("out of memory");
            goto out;
        }
        st->n_tensors++;
    }
    /* No two tensors may share bytes. */
    if (st->n_tensors > 1) {
        sg_st_tensor **order = malloc((size_t)st->n_tensors * sizeof *order);
        if (!order) {
            err = sg_error_new("out of memory");
            goto out;
        }
        for (int i = 0; i < st->n_tensors; i++) order[i] = &st->tensors[i];
        qsort(order, (size_t)st->n_tensors, sizeof *order, cmp_by_begin);
        for (int i = 1; i < st->n_tensors && !err; i++) {
            const sg_st_tensor *a = order[i - 1], *b = order[i];
            if (b->begin < a->end)
                err = sg_error_new("%s: tensors '%s' [%zu, %zu) and '%s' [%zu, %zu) overlap", st->path,
                                   a->name, a->begin, a->end, b->name, b->begin, b->end);
        }
        free(order);
    }
out:
    json_decref(root);
    return err;
}

sg_error *sg_safetensors_parse(const char *name, const unsigned char *buf, size_t size,
                               sg_safetensors **out) {
    *out = NULL;
    sg_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(name))) {
        free(st);
        return sg_error_new("out of memory");
    }
    sg_error *err = parse_header(st, buf, size);
    if (err) {
        sg_safetensors_close(st);
        return err;
    }
    *out = st;
    return NULL;
}

sg_error *sg_safetensors_open(const char *path, sg_safetensors **out) {
    *out = NULL;
    sg_file_map map;
    sg_error *err = sg_file_map_open(path, &map);
    if (err) return err;
    sg_safetensors *st;
    err = sg_safetensors_parse(path, map.data, map.size, &st);
    if (err) {
        sg_file_unmap(&map);
        return err;
    }
    st->map = map;
    st->owns_map = 1;
    *out = st;
    return NULL;
}

const sg_st_tensor *sg_safetensors_find(const sg_safetensors *st, const char *name) {
    for (int i = 0; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

const char *sg_safetensors_meta(const sg_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta[2 * i], key)) return st->meta[2 * i + 1];
    return NULL;
}

/* ---- writer ------------------------------------------------------------ */

struct sg_st_writer {
    sg_atomic_file *file;
    char *path;
    int n;
    sg_dtype *dtypes;
    size_t *sizes;   /* bytes per tensor */
    int cur;         /* tensor being written */
    size_t cur_done; /* bytes of it written so far */
};

void sg_st_writer_abort(sg_st_writer *w) {
    if (!w) return;
    sg_atomic_file_abort(w->file);
    free(w->dtypes);
    free(w->sizes);
    free(w->path);
    free(w);
}

sg_error *sg_st_writer_open(const char *path, const sg_st_spec *specs, int n_specs,
                            const char *const *metadata_kv, int n_metadata, sg_st_writer **out) {
    *out = NULL;
    sg_error *err = NULL;
    json_t *root = json_object(), *meta = NULL;
    sg_st_writer *w = calloc(1, sizeof *w);
    char *header = NULL;
    if (!root || !w) goto oom;
    w->n = n_specs;
    w->dtypes = calloc((size_t)n_specs + 1, sizeof *w->dtypes);
    w->sizes = calloc((size_t)n_specs + 1, sizeof *w->sizes);
    w->path = strdup(path);
    if (!w->dtypes || !w->sizes || !w->path) goto oom;
    if (n_metadata > 0) {
        if (!(meta = json_object())) goto oom;
        for (int i = 0; i < n_metadata; i++)
            if (json_object_set_new(meta, metadata_kv[2 * i], json_string(metadata_kv[2 * i + 1]))) {
                err = sg_error_new("%s: bad metadata entry \"%s\" (not UTF-8?)", path, metadata_kv[2 * i]);
                goto fail;
            }
        json_object_set(root, "__metadata__", meta);
    }
    size_t offset = 0;
    for (int i = 0; i < n_specs; i++) {
        const sg_st_spec *s = &specs[i];
        if (s->ndim < 0 || s->ndim > SG_ST_MAX_DIMS || json_object_get(root, s->name)) {
            err = sg_error_new("%s: tensor '%s': bad rank or duplicate name", path, s->name);
            goto fail;
        }
        size_t numel = 1;
        json_t *shape = json_array(), *offs = json_array(), *info = json_object();
        for (int d = 0; d < s->ndim; d++) {
            numel *= (size_t)s->shape[d];
            json_array_append_new(shape, json_integer(s->shape[d]));
        }
        size_t nbytes = numel * sg_dtype_size(s->dtype);
        json_array_append_new(offs, json_integer((json_int_t)offset));
        json_array_append_new(offs, json_integer((json_int_t)(offset + nbytes)));
        json_object_set_new(info, "dtype", json_string(sg_dtype_name(s->dtype)));
        json_object_set_new(info, "shape", shape);
        json_object_set_new(info, "data_offsets", offs);
        if (json_object_set_new(root, s->name, info)) goto oom;
        w->dtypes[i] = s->dtype;
        w->sizes[i] = nbytes;
        offset += nbytes;
    }
    header = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!header) goto oom;
    /* Pad with spaces so the data region starts 8-byte aligned. */
    size_t hlen = strlen(header), padded = (hlen + 7) & ~(size_t)7;
    unsigned char *buf = malloc(8 + padded);
    if (!buf) goto oom;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, header, hlen);
    memset(buf + 8 + hlen, ' ', padded - hlen);
    err = sg_atomic_file_open_mode(path, SG_FILE_PUBLIC, &w->file);
    if (!err) err = sg_atomic_file_write(w->file, buf, 8 + padded);
    free(buf);
    if (err) goto fail;
    while (w->cur < w->n && w->sizes[w->cur] == 0) w->cur++;
    json_decref(meta);
    json_decref(root);
    free(header);
    *out = w;
    return NULL;
oom:
    err = sg_error_new("%s: out of memory building the header", path);
fail:
    json_decref(meta);
    json_decref(root);
    free(header);
    sg_st_writer_abort(w);
    return err;
}

/* Accounts for nbytes written into the declared tensors. */
static sg_error *advance(sg_st_writer *w, size_t nbytes) {
    while (nbytes > 0) {
        if (w->cur >= w->n) return sg_error_new("%s: more tensor bytes written than declared", w->path);
        size_t left = w->sizes[w->cur] - w->cur_done, k = nbytes < left ? nbytes : left;
        w->cur_done += k;
        nbytes -= k;
        if (w->cur_done == w->sizes[w->cur]) {
            w->cur++;
            w->cur_done = 0;
            while (w->cur < w->n && w->sizes[w->cur] == 0) w->cur++;
        }
    }
    return NULL;
}

static size_t bytes_left(const sg_st_writer *w) {
    size_t left = 0;
    for (int i = w->cur; i < w->n; i++) left += w->sizes[i];
    return left - w->cur_done;
}

sg_error *sg_st_writer_write(sg_st_writer *w, const void *data, size_t nbytes) {
    if (nbytes > bytes_left(w)) return sg_error_new("%s: more tensor bytes written than declared", w->path);
    sg_error *err = sg_atomic_file_write(w->file, data, nbytes);
    return err ? err : advance(w, nbytes);
}

sg_error *sg_st_writer_write_zeros(sg_st_writer *w, size_t nbytes) {
    if (nbytes > bytes_left(w)) return sg_error_new("%s: more tensor bytes written than declared", w->path);
    sg_error *err = sg_atomic_file_write_zeros(w->file, nbytes);
    return err ? err : advance(w, nbytes);
}

sg_error *sg_st_writer_write_f32(sg_st_writer *w, const float *x, size_t n) {
    enum { CHUNK = 16384 };
    uint16_t buf[CHUNK];
    while (n > 0) {
        if (w->cur >= w->n) return sg_error_new("%s: more tensor bytes written than declared", w->path);
        sg_dtype d = w->dtypes[w->cur];
        size_t esize = sg_dtype_size(d), room = (w->sizes[w->cur] - w->cur_done) / esize;
        size_t k = n < room ? n : room;
        sg_error *err = NULL;
        if (d == SG_DTYPE_F32) {
            err = sg_st_writer_write(w, x, k * 4);
        } else {
            if (k > CHUNK) k = CHUNK;
            for (size_t i = 0; i < k; i++)
                buf[i] = d == SG_DTYPE_F16 ? sg_f32_to_f16(x[i]) : sg_f32_to_bf16(x[i]);
            err = sg_st_writer_write(w, buf, k * 2);
        }
        if (err) return err;
        x += k;
        n -= k;
    }
    return NULL;
}

sg_error *sg_st_writer_finish(sg_st_writer *w) {
    if (bytes_left(w) != 0) {
        sg_error *err = sg_error_new("%s: %zu tensor bytes declared but not written", w->path, bytes_left(w));
        sg_st_writer_abort(w);
        return err;
    }
    sg_error *err = sg_atomic_file_commit(w->file);
    w->file = NULL;
    free(w->dtypes);
    free(w->sizes);
    free(w->path);
    free(w);
    return err;
}
