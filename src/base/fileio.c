/* fileio.c — memory maps, whole-file reads and atomic writes. */
#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

sg_error *sg_file_map_open(const char *path, sg_file_map *out) {
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sg_error_new("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        sg_error *err = sg_error_new("%s: %s", path, strerror(errno));
        close(fd);
        return err;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return sg_error_new("%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            sg_error *err = sg_error_new("%s: mmap: %s", path, strerror(errno));
            close(fd);
            return err;
        }
        out->data = p;
        out->size = (size_t)st.st_size;
    }
    close(fd);
    return NULL;
}

void sg_file_unmap(sg_file_map *map) {
    if (map->data) munmap((void *)map->data, map->size);
    map->data = NULL;
    map->size = 0;
}

sg_error *sg_file_read(const char *path, char **data, size_t *size) {
    *data = NULL;
    if (size) *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return sg_error_new("%s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len + 1 < cap) break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf) return sg_error_new("%s: out of memory", path);
    if (failed) {
        free(buf);
        return sg_error_new("%s: read error", path);
    }
    buf[len] = '\0';
    *data = buf;
    if (size) *size = len;
    return NULL;
}

struct sg_atomic_file {
    int fd;
    char *path;
    char *tmp_path;
};

/* A fresh temporary beside `path`: "path.tmp.<12 random hex digits>", created
 * exclusively and never through a symlink, so another user of a shared folder
 * can neither predict it nor redirect the write. */
static sg_error *atomic_file_create(sg_atomic_file *f, mode_t mode) {
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned char r[6];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            return sg_error_new("%s: getrandom: %s", f->path, strerror(errno));
        free(f->tmp_path);
        if (asprintf(&f->tmp_path, "%s.tmp.%02x%02x%02x%02x%02x%02x", f->path, r[0], r[1], r[2], r[3], r[4],
                     r[5]) < 0) {
            f->tmp_path = NULL;
            return sg_error_new("out of memory");
        }
        f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (f->fd >= 0) return NULL;
        if (errno != EEXIST) return sg_error_new("%s: %s", f->tmp_path, strerror(errno));
    }
    return sg_error_new("%s: could not create a unique temporary file", f->path);
}

sg_error *sg_atomic_file_open_mode(const char *path, sg_file_mode mode, sg_atomic_file **out) {
    *out = NULL;
    sg_atomic_file *f = calloc(1, sizeof *f);
    if (!f) return sg_error_new("out of memory");
    f->fd = -1;
    f->path = strdup(path);
    sg_error *err =
        f->path ? atomic_file_create(f, mode == SG_FILE_PUBLIC ? 0644 : 0600) : sg_error_new("out of memory");
    if (err) {
        free(f->path);
        free(f->tmp_path);
        free(f);
        return err;
    }
    *out = f;
    return NULL;
}

sg_error *sg_atomic_file_open(const char *path, sg_atomic_file **out) {
    return sg_atomic_file_open_mode(path, SG_FILE_PRIVATE, out);
}

sg_error *sg_atomic_file_write(sg_atomic_file *f, const void *data, size_t size) {
    const unsigned char *p = data;
    while (size > 0) {
        ssize_t n = write(f->fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sg_error_new("%s: write: %s", f->tmp_path, strerror(errno));
        }
        p += n;
        size -= (size_t)n;
    }
    return NULL;
}

sg_error *sg_atomic_file_write_zeros(sg_atomic_file *f, size_t size) {
    if (size == 0) return NULL;
    off_t pos = lseek(f->fd, 0, SEEK_CUR);
    if (pos < 0 || size > (size_t)INT64_MAX - (size_t)pos)
        return sg_error_new("%s: seek: %s", f->tmp_path, pos < 0 ? strerror(errno) : "file too large");
    off_t end = pos + (off_t)size;
    if (ftruncate(f->fd, end) != 0 || lseek(f->fd, end, SEEK_SET) != end)
        return sg_error_new("%s: extend to %lld bytes: %s", f->tmp_path, (long long)end, strerror(errno));
    return NULL;
}

static void atomic_file_free(sg_atomic_file *f) {
    free(f->path);
    free(f->tmp_path);
    free(f);
}

void sg_atomic_file_abort(sg_atomic_file *f) {
    if (!f) return;
    close(f->fd);
    unlink(f->tmp_path);
    atomic_file_free(f);
}

sg_error *sg_atomic_file_commit(sg_atomic_file *f) {
    sg_error *err = NULL;
    if (fsync(f->fd) != 0) err = sg_error_new("%s: fsync: %s", f->tmp_path, strerror(errno));
    if (close(f->fd) != 0 && !err) err = sg_error_new("%s: close: %s", f->tmp_path, strerror(errno));
    if (!err && rename(f->tmp_path, f->path) != 0)
        err = sg_error_new("rename %s -> %s: %s", f->tmp_path, f->path, strerror(errno));
    if (err) {
        unlink(f->tmp_path);
        atomic_file_free(f);
        return err;
    }
    char *dir_copy = strdup(f->path);
    if (dir_copy) {
        int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir_copy);
    }
    atomic_file_free(f);
    return NULL;
}

sg_error *sg_file_write_atomic_mode(const char *path, sg_file_mode mode, const void *data, size_t size) {
    sg_atomic_file *f;
    sg_error *err = sg_atomic_file_open_mode(path, mode, &f);
    if (err) return err;
    err = sg_atomic_file_write(f, data, size);
    if (err) {
        sg_atomic_file_abort(f);
        return err;
    }
    return sg_atomic_file_commit(f);
}

sg_error *sg_file_write_atomic(const char *path, const void *data, size_t size) {
    return sg_file_write_atomic_mode(path, SG_FILE_PRIVATE, data, size);
}

char *sg_path_join(const char *dir, const char *name) {
    char *s;
    size_t n = strlen(dir);
    const char *sep = (n > 0 && dir[n - 1] == '/') ? "" : "/";
    if (asprintf(&s, "%s%s%s", dir, sep, name) < 0) return NULL;
    return s;
}
