/* fileio.h — checked file access: read-only memory maps, whole-file reads and
 * crash-safe writes (write to a temporary, fsync, rename). */
#ifndef SG_FILEIO_H
#define SG_FILEIO_H

#include <stddef.h>

#include "base/error.h"

typedef struct {
    const unsigned char *data; /* NULL for an empty file */
    size_t size;
} sg_file_map;

/* Maps `path` read-only. Unmap with sg_file_unmap. */
sg_error *sg_file_map_open(const char *path, sg_file_map *out) SG_MUST_CHECK;
void sg_file_unmap(sg_file_map *map);

/* Reads the whole file into a NUL-terminated malloc'd buffer. */
sg_error *sg_file_read(const char *path, char **data, size_t *size) SG_MUST_CHECK;

/* Atomic replacement of `path`: the bytes go to a temporary beside it
 * ("path.tmp." + 12 random hex digits, created with O_EXCL | O_NOFOLLOW), are
 * fsynced, then renamed over `path` and the directory is fsynced. Readers see
 * either the old file or the complete new one, never a partial file.
 * Files are private (0600) unless the caller says the file is meant to be
 * public (0644, before the umask): model checkpoints, tokenizers, cards. */
typedef enum { SG_FILE_PRIVATE, SG_FILE_PUBLIC } sg_file_mode;
typedef struct sg_atomic_file sg_atomic_file;
sg_error *sg_atomic_file_open(const char *path, sg_atomic_file **out) SG_MUST_CHECK; /* private */
sg_error *sg_atomic_file_open_mode(const char *path, sg_file_mode mode, sg_atomic_file **out) SG_MUST_CHECK;
sg_error *sg_atomic_file_write(sg_atomic_file *f, const void *data, size_t size) SG_MUST_CHECK;
/* Appends `size` zero bytes as a hole (sparse file: no disk blocks written). */
sg_error *sg_atomic_file_write_zeros(sg_atomic_file *f, size_t size) SG_MUST_CHECK;
/* Commits (fsync + rename) and frees `f`. */
sg_error *sg_atomic_file_commit(sg_atomic_file *f) SG_MUST_CHECK;
/* Abandons the write: removes the temporary and frees `f`. */
void sg_atomic_file_abort(sg_atomic_file *f);

/* One-shot helper around the three calls above. */
sg_error *sg_file_write_atomic(const char *path, const void *data, size_t size) SG_MUST_CHECK; /* private */
sg_error *sg_file_write_atomic_mode(const char *path, sg_file_mode mode, const void *data,
                                    size_t size) SG_MUST_CHECK;

/* "dir/name" into a malloc'd string (NULL on out of memory). */
char *sg_path_join(const char *dir, const char *name);

#endif
