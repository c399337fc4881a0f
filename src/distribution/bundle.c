/* bundle.c — packing, unpacking and verifying bundles; see bundle.h. */
#include "distribution/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/init.h"
#include "distribution/dsse.h"
#include "distribution/fingerprint.h"
#include "distribution/keyfiles.h"

#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SEALED_BYTES (crypto_box_SEALBYTES + crypto_secretstream_xchacha20poly1305_KEYBYTES)
#define MAX_CT (SG_BUNDLE_CHUNK + 1 + SS_ABYTES)
#define MAX_MANIFEST (16u << 20)

enum { OFF_VERSION = 8, OFF_RECIPIENT = 12, OFF_RELEASE = 44, OFF_SEALED = 76, OFF_SSHEADER = 156 };
_Static_assert(OFF_SSHEADER + crypto_secretstream_xchacha20poly1305_HEADERBYTES == SG_BUNDLE_HEADER_BYTES,
               "header layout");
_Static_assert(OFF_SEALED + SEALED_BYTES == OFF_SSHEADER, "sealed key size");

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void iso_time(int64_t ms, char out[32]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- pack ---------------------------------------------------------------------- */

typedef struct {
    sg_atomic_file *out;
    crypto_secretstream_xchacha20poly1305_state ss;
    crypto_generichash_state digest; /* over header + chunks */
    unsigned char header[SG_BUNDLE_HEADER_BYTES];
    unsigned char *ct; /* 4 + MAX_CT */
    uint64_t written;
} packer;

static sg_error *push(packer *p, const unsigned char *m, size_t n, unsigned char tag) {
    unsigned long long clen = 0;
    crypto_secretstream_xchacha20poly1305_push(&p->ss, p->ct + 4, &clen, m, n, p->header, sizeof p->header,
                                               tag);
    put_u32(p->ct, (uint32_t)clen);
    crypto_generichash_update(&p->digest, p->ct, 4 + clen);
    p->written += 4 + clen;
    return sg_atomic_file_write(p->out, p->ct, 4 + clen);
}

/* Streams one file (or the fingerprinted weights) into the bundle. */
static sg_error *pack_file(packer *p, unsigned char *pt, const char *name, const char *path,
                           const unsigned char *seed, double epsilon, sg_manifest_file *mf) {
    sg_fp_reader *fp = NULL;
    int fd = -1;
    uint64_t size;
    sg_error *err = NULL;
    if (seed) {
        if ((err = sg_fp_reader_open(path, seed, epsilon, &fp))) return err;
        size = sg_fp_reader_size(fp);
    } else {
        struct stat st;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            err = sg_error_new("%s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
            if (fd >= 0) close(fd);
            return err;
        }
        size = (uint64_t)st.st_size;
    }
    size_t nl = strlen(name);
    pt[0] = 'F';
    pt[1] = (unsigned char)nl;
    pt[2] = (unsigned char)(nl >> 8);
    memcpy(pt + 3, name, nl);
    put_u64(pt + 3 + nl, size);
    err = push(p, pt, 11 + nl, 0);
    crypto_hash_sha256_state sha;
    crypto_hash_sha256_init(&sha);
    uint64_t total = 0;
    while (!err) {
        size_t got = 0;
        if (fp) {
            err = sg_fp_reader_read(fp, pt + 1, SG_BUNDLE_CHUNK, &got);
        } else {
            ssize_t r = read(fd, pt + 1, SG_BUNDLE_CHUNK);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) err = sg_error_new("reading %s: %s", path, strerror(errno));
            got = r > 0 ? (size_t)r : 0;
        }
        if (err || got == 0) break;
        total += got;
        if (total > size) {
            err = sg_error_new("%s grew while being packed", path);
            break;
        }
        crypto_hash_sha256_update(&sha, pt + 1, got);
        pt[0] = 'D';
        err = push(p, pt, got + 1, 0);
    }
    if (!err && total != size) err = sg_error_new("%s changed size while being packed", path);
    unsigned char d[32];
    crypto_hash_sha256_final(&sha, d);
    snprintf(mf->name, sizeof mf->name, "%s", name);
    mf->size = size;
    sodium_bin2hex(mf->sha256, sizeof mf->sha256, d, 32);
    if (fd >= 0) close(fd);
    sg_fp_reader_close(fp);
    return err;
}

sg_error *sg_bundle_pack(const sg_pack_spec *s, sg_pack_result *res) {
    memset(res, 0, sizeof *res);
    SG_ASSERT_INIT();
    static const char *const names[] = {"config.json", "model.safetensors", "vocab.json", "merges.txt",
                                        "README.md"};
    char *paths[5] = {0};
    sg_error *err = NULL;
    for (int i = 0; i < 5 && !err; i++) {
        paths[i] = sg_path_join(s->model_dir, names[i]);
        if (!paths[i])
            err = sg_error_new("out of memory");
        else if (i < 2 && access(paths[i], R_OK) != 0)
            err = sg_error_new("%s: %s (a checkpoint directory needs config.json and model.safetensors)",
                               paths[i], strerror(errno));
    }
    packer p = {0};
    unsigned char *pt = malloc(SG_BUNDLE_CHUNK + 1);
    p.ct = malloc(4 + MAX_CT);
    if (!err && (!pt || !p.ct)) err = sg_error_new("out of memory");
    unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    crypto_secretstream_xchacha20poly1305_keygen(key);
    if (!err) err = sg_atomic_file_open(s->out_path, &p.out);
    if (!err) {
        memcpy(p.header, SG_BUNDLE_MAGIC, 8);
        put_u32(p.header + OFF_VERSION, SG_BUNDLE_VERSION);
        sg_key_fingerprint(s->recipient_pk, p.header + OFF_RECIPIENT);
        memcpy(p.header + OFF_RELEASE, s->release_pk, 32);
        if (crypto_box_seal(p.header + OFF_SEALED, key, sizeof key, s->recipient_pk) != 0)
            err = sg_error_new("sealing the bundle key to the licensee's public key failed");
        crypto_secretstream_xchacha20poly1305_init_push(&p.ss, p.header + OFF_SSHEADER, key);
        crypto_generichash_init(&p.digest, NULL, 0, 32);
        crypto_generichash_update(&p.digest, p.header, sizeof p.header);
        if (!err) err = sg_atomic_file_write(p.out, p.header, sizeof p.header);
        p.written = sizeof p.header;
    }
    sodium_memzero(key, sizeof key);
    sg_manifest *m = &res->manifest;
    for (int i = 0; i < 5 && !err; i++) {
        if (i >= 2 && access(paths[i], R_OK) != 0) continue; /* tokenizer and card are optional */
        err = pack_file(&p, pt, names[i], paths[i], i == 1 ? s->fp_seed : NULL, s->epsilon,
                        &m->files[m->n_files]);
        if (!err) res->plain_bytes += m->files[m->n_files++].size;
    }
    if (!err) err = pack_file(&p, pt, "LICENSE", s->license_path, NULL, 0, &m->files[m->n_files]);
    if (!err) {
        res->plain_bytes += m->files[m->n_files++].size;
        pt[0] = 'E';
        err = push(&p, pt, 1, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
    }
    char *statement = NULL, *envelope = NULL;
    if (!err) {
        unsigned char d[32], fp[32];
        crypto_generichash_final(&p.digest, d, 32);
        sodium_bin2hex(m->bundle_blake2b, sizeof m->bundle_blake2b, d, 32);
        sg_key_fingerprint(s->recipient_pk, fp);
        sodium_bin2hex(m->recipient, sizeof m->recipient, fp, 32);
        snprintf(m->model, sizeof m->model, "%s", s->model_name);
        snprintf(m->stage, sizeof m->stage, "%s", s->stage);
        snprintf(m->licensee, sizeof m->licensee, "%s", s->licensee);
        iso_time(s->issued_ms, m->issued);
        const sg_manifest_file *lic = sg_manifest_find(m, "LICENSE");
        snprintf(m->license_sha256, sizeof m->license_sha256, "%s", lic->sha256);
        char keyid[17];
        sg_key_id(s->release_pk, keyid);
        err = sg_manifest_to_json(m, &statement);
        if (!err)
            err = sg_dsse_sign(SG_INTOTO_PAYLOAD_TYPE, (const unsigned char *)statement, strlen(statement),
                               s->release_sk, keyid, &envelope);
    }
    if (!err) {
        size_t el = strlen(envelope);
        unsigned char tail[16];
        put_u64(tail, el);
        memcpy(tail + 8, SG_BUNDLE_TRAILER_MAGIC, 8);
        err = sg_atomic_file_write(p.out, envelope, el);
        if (!err) err = sg_atomic_file_write(p.out, tail, sizeof tail);
        p.written += el + sizeof tail;
    }
    if (!err) {
        err = sg_atomic_file_commit(p.out);
        p.out = NULL;
    }
    if (p.out) sg_atomic_file_abort(p.out);
    res->bundle_bytes = p.written;
    sodium_memzero(&p.ss, sizeof p.ss);
    for (int i = 0; i < 5; i++) free(paths[i]);
    free(statement);
    free(envelope);
    free(pt);
    free(p.ct);
    if (err) return sg_error_wrap(err, "packing %s", s->out_path);
    return NULL;
}

/* ---- reading a bundle ------------------------------------------------------------- */

typedef struct {
    int fd;
    uint64_t size;
    unsigned char header[SG_BUNDLE_HEADER_BYTES];
    uint64_t chunks_end; /* where the trailer starts */
    char *envelope;
    size_t envelope_len;
} bundle_file;

static sg_error *read_at(int fd, void *buf, size_t n, uint64_t off) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return sg_error_new("read error: %s", strerror(errno));
        if (r == 0) return sg_error_new("truncated: unexpected end of file");
        done += (size_t)r;
    }
    return NULL;
}

static void bundle_close(bundle_file *b) {
    if (b->fd >= 0) close(b->fd);
    free(b->envelope);
}

/* Opens, checks the header's magic and version, reads the trailer and checks
 * the signature with `release_pk` (the header's key when NULL), parses the
 * manifest. */
static sg_error *bundle_open(const char *path, const unsigned char *release_pk, bundle_file *b,
                             sg_manifest *m) {
    memset(b, 0, sizeof *b);
    b->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (b->fd < 0 || fstat(b->fd, &st) != 0) return sg_error_new("%s", strerror(errno));
    b->size = (uint64_t)st.st_size;
    if (b->size < 8 || read_at(b->fd, b->header, 8, 0) || memcmp(b->header, SG_BUNDLE_MAGIC, 8) != 0)
        return sg_error_new("not a stagegate bundle (bad magic)");
    if (b->size < SG_BUNDLE_HEADER_BYTES + 16)
        return sg_error_new("truncated: %llu bytes is shorter than a header and trailer",
                            (unsigned long long)b->size);
    sg_error *err = read_at(b->fd, b->header, sizeof b->header, 0);
    if (err) return err;
    uint32_t version = get_u32(b->header + OFF_VERSION);
    if (version != SG_BUNDLE_VERSION)
        return sg_error_new("unsupported bundle version %u (this program reads version %d)", version,
                            SG_BUNDLE_VERSION);
    unsigned char tail[16];
    if ((err = read_at(b->fd, tail, sizeof tail, b->size - 16))) return err;
    if (memcmp(tail + 8, SG_BUNDLE_TRAILER_MAGIC, 8) != 0)
        return sg_error_new(
            "truncated or altered: the signed manifest trailer is missing at the end of the file");
    uint64_t el = get_u64(tail);
    if (el == 0 || el > MAX_MANIFEST || el > b->size - 16 - SG_BUNDLE_HEADER_BYTES)
        return sg_error_new("altered: the manifest trailer gives an impossible length (%llu)",
                            (unsigned long long)el);
    b->chunks_end = b->size - 16 - el;
    b->envelope = malloc(el + 1);
    if (!b->envelope) return sg_error_new("out of memory");
    if ((err = read_at(b->fd, b->envelope, el, b->chunks_end))) return err;
    b->envelope[el] = '\0';
    b->envelope_len = el;
    const unsigned char *header_pk = b->header + OFF_RELEASE;
    if (release_pk && sodium_memcmp(release_pk, header_pk, 32) != 0) {
        char want[17], got[17];
        sg_key_id(release_pk, want);
        sg_key_id(header_pk, got);
        return sg_error_new("bad signature: the bundle names release key %s, not the expected release key %s",
                            got, want);
    }
    char *payload = NULL;
    size_t pl = 0;
    err = sg_dsse_verify(b->envelope, el, SG_INTOTO_PAYLOAD_TYPE, header_pk, &payload, &pl);
    if (!err) err = sg_manifest_parse(payload, pl, m);
    free(payload);
    if (err) return err;
    char recipient[65];
    sodium_bin2hex(recipient, sizeof recipient, b->header + OFF_RECIPIENT, 32);
    if (strcmp(recipient, m->recipient) != 0)
        return sg_error_new("altered: the header's recipient is not the one the manifest signs");
    return NULL;
}

/* Walks the chunk framing from the header to the trailer; for each chunk
 * calls fn (may be NULL) with its ciphertext. Digests header + chunks and
 * checks the digest against the manifest. */
typedef sg_error *(*chunk_fn)(void *ctx, uint64_t index, const unsigned char *ct, size_t n, int last);

static sg_error *walk_chunks(bundle_file *b, const sg_manifest *m, chunk_fn fn, void *ctx) {
    unsigned char *ct = malloc(MAX_CT);
    if (!ct) return sg_error_new("out of memory");
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    crypto_generichash_update(&h, b->header, sizeof b->header);
    uint64_t pos = SG_BUNDLE_HEADER_BYTES, index = 0;
    sg_error *err = NULL;
    while (!err && pos < b->chunks_end) {
        unsigned char lenb[4];
        if (b->chunks_end - pos < 4) {
            err = sg_error_new("truncated or altered: chunk %llu is cut short", (unsigned long long)index);
            break;
        }
        if ((err = read_at(b->fd, lenb, 4, pos))) break;
        uint32_t n = get_u32(lenb);
        if (n < SS_ABYTES + 1 || n > MAX_CT || n > b->chunks_end - pos - 4) {
            err = sg_error_new("truncated or altered: chunk %llu has an impossible length %u",
                               (unsigned long long)index, n);
            break;
        }
        if ((err = read_at(b->fd, ct, n, pos + 4))) break;
        crypto_generichash_update(&h, lenb, 4);
        crypto_generichash_update(&h, ct, n);
        pos += 4 + (uint64_t)n;
        if (fn) err = fn(ctx, index, ct, n, pos == b->chunks_end);
        index++;
    }
    free(ct);
    if (err) return err;
    unsigned char d[32];
    char hex[65];
    crypto_generichash_final(&h, d, 32);
    sodium_bin2hex(hex, sizeof hex, d, 32);
    if (strcmp(hex, m->bundle_blake2b) != 0)
        return sg_error_new(
            "altered: the encrypted content does not match the digest in the signed manifest");
    return NULL;
}

sg_error *sg_bundle_verify_file(const char *path, const unsigned char release_pk[crypto_sign_PUBLICKEYBYTES],
                                sg_manifest *m) {
    bundle_file b;
    sg_error *err = bundle_open(path, release_pk, &b, m);
    if (!err) err = walk_chunks(&b, m, NULL, NULL);
    bundle_close(&b);
    return err ? sg_error_wrap(err, "%s", path) : NULL;
}

/* ---- unpack ------------------------------------------------------------------------ */

typedef struct {
    crypto_secretstream_xchacha20poly1305_state ss;
    const unsigned char *header;
    const sg_manifest *m;
    const char *dir;
    unsigned char *pt;
    int fd; /* current file, -1 when none */
    char name[SG_MANIFEST_NAME_MAX];
    uint64_t remaining;
    crypto_hash_sha256_state sha;
    int seen[SG_MANIFEST_MAX_FILES];
    int final;
} unpacker;

static sg_error *finish_file(unpacker *u) {
    if (u->fd < 0) return NULL;
    sg_error *err = NULL;
    if (u->remaining) err = sg_error_new("altered: file %s ends early", u->name);
    if (!err && fsync(u->fd) != 0) err = sg_error_new("writing %s: %s", u->name, strerror(errno));
    close(u->fd);
    u->fd = -1;
    unsigned char d[32];
    char hex[65];
    crypto_hash_sha256_final(&u->sha, d);
    sodium_bin2hex(hex, sizeof hex, d, 32);
    const sg_manifest_file *f = sg_manifest_find(u->m, u->name);
    if (!err && strcmp(hex, f->sha256) != 0)
        err = sg_error_new("altered: %s does not match its SHA-256 in the signed manifest", u->name);
    return err;
}

static sg_error *on_chunk(void *ctx, uint64_t index, const unsigned char *ct, size_t n, int last) {
    unpacker *u = ctx;
    if (u->final) return sg_error_new("altered: data follows the final chunk");
    unsigned long long pl = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&u->ss, u->pt, &pl, &tag, ct, n, u->header,
                                                   SG_BUNDLE_HEADER_BYTES) != 0)
        return sg_error_new(
            "altered: chunk %llu fails authentication (changed, reordered or from another bundle)",
            (unsigned long long)index);
    int is_final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (pl < 1) return sg_error_new("altered: chunk %llu is empty", (unsigned long long)index);
    switch (u->pt[0]) {
    case 'F': {
        sg_error *err = finish_file(u);
        if (err) return err;
        if (pl < 11) return sg_error_new("malformed chunk %llu", (unsigned long long)index);
        size_t nl = (size_t)u->pt[1] | (size_t)u->pt[2] << 8;
        if (pl != 11 + nl || nl >= SG_MANIFEST_NAME_MAX)
            return sg_error_new("malformed chunk %llu: bad file entry", (unsigned long long)index);
        memcpy(u->name, u->pt + 3, nl);
        u->name[nl] = '\0';
        uint64_t size = get_u64(u->pt + 3 + nl);
        const sg_manifest_file *f = sg_manifest_find(u->m, u->name);
        if (!sg_manifest_name_ok(u->name) || !f)
            return sg_error_new("altered: the bundle holds a file '%s' that the manifest does not list",
                                u->name);
        int k = (int)(f - u->m->files);
        if (u->seen[k]) return sg_error_new("altered: file %s appears twice", u->name);
        u->seen[k] = 1;
        if (size != f->size)
            return sg_error_new("altered: %s has %llu bytes, the manifest says %llu", u->name,
                                (unsigned long long)size, (unsigned long long)f->size);
        char *path = sg_path_join(u->dir, u->name);
        if (!path) return sg_error_new("out of memory");
        u->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        err = u->fd < 0 ? sg_error_new("creating %s: %s", path, strerror(errno)) : NULL;
        free(path);
        if (err) return err;
        u->remaining = size;
        crypto_hash_sha256_init(&u->sha);
        break;
    }
    case 'D': {
        size_t dn = pl - 1;
        if (u->fd < 0 || dn > u->remaining)
            return sg_error_new("altered: chunk %llu holds data outside any file", (unsigned long long)index);
        crypto_hash_sha256_update(&u->sha, u->pt + 1, dn);
        for (size_t off = 0; off < dn;) {
            ssize_t w = write(u->fd, u->pt + 1 + off, dn - off);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return sg_error_new("writing %s: %s", u->name, strerror(errno));
            off += (size_t)w;
        }
        u->remaining -= dn;
        break;
    }
    case 'E': {
        if (!is_final) return sg_error_new("altered: end marker without the FINAL tag");
        sg_error *err = finish_file(u);
        if (err) return err;
        for (int i = 0; i < u->m->n_files; i++)
            if (!u->seen[i])
                return sg_error_new("altered: %s is missing from the bundle", u->m->files[i].name);
        u->final = 1;
        return NULL;
    }
    default:
        return sg_error_new("malformed chunk %llu: unknown type", (unsigned long long)index);
    }
    if (is_final)
        return sg_error_new("altered: FINAL tag on chunk %llu before the end", (unsigned long long)index);
    if (last) return sg_error_new("truncated: the stream ends without its final chunk");
    return NULL;
}

/* Removes the partial directory and what we wrote in it. */
static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p = sg_path_join(dir, e->d_name);
            if (p) unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static sg_error *fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sg_error_new("%s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc ? sg_error_new("syncing %s: %s", dir, strerror(errno)) : NULL;
}

sg_error *sg_bundle_unpack(const char *path, const unsigned char pk[crypto_box_PUBLICKEYBYTES],
                           const unsigned char sk[crypto_box_SECRETKEYBYTES],
                           const unsigned char *expected_release_pk, const char *out_dir, sg_manifest *m) {
    SG_ASSERT_INIT();
    struct stat st;
    if (lstat(out_dir, &st) == 0)
        return sg_error_new("%s exists already: unpack into a new directory", out_dir);
    bundle_file b;
    unpacker u = {.fd = -1};
    char *tmp = NULL;
    sg_error *err = NULL;
    /* The header alone first, to name a wrong key before anything else. */
    b.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (b.fd < 0) return sg_error_new("%s: %s", path, strerror(errno));
    unsigned char head[SG_BUNDLE_HEADER_BYTES], mine[32];
    err = read_at(b.fd, head, sizeof head, 0);
    close(b.fd);
    if (!err && memcmp(head, SG_BUNDLE_MAGIC, 8) == 0) {
        sg_key_fingerprint(pk, mine);
        if (memcmp(mine, head + OFF_RECIPIENT, 32) != 0) {
            char theirs[17], ours[17];
            sodium_bin2hex(theirs, sizeof theirs, head + OFF_RECIPIENT, 8);
            sodium_bin2hex(ours, sizeof ours, mine, 8);
            return sg_error_new(
                "%s: this bundle was issued to another licensee (recipient key %s, your key is %s)", path,
                theirs, ours);
        }
    }
    sg_error_free(err);
    err = bundle_open(path, expected_release_pk, &b, m);
    unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    if (!err && crypto_box_seal_open(key, b.header + OFF_SEALED, SEALED_BYTES, pk, sk) != 0)
        err = sg_error_new("altered: the sealed bundle key does not open with this licensee key");
    if (!err && crypto_secretstream_xchacha20poly1305_init_pull(&u.ss, b.header + OFF_SSHEADER, key) != 0)
        err = sg_error_new("altered: bad stream header");
    sodium_memzero(key, sizeof key);
    if (!err) {
        size_t n = strlen(out_dir) + 20;
        tmp = malloc(n);
        u.pt = malloc(MAX_CT);
        if (!tmp || !u.pt)
            err = sg_error_new("out of memory");
        else {
            snprintf(tmp, n, "%s.partial-XXXXXX", out_dir);
            if (!mkdtemp(tmp)) {
                err = sg_error_new("creating %s: %s", tmp, strerror(errno));
                free(tmp);
                tmp = NULL;
            }
        }
    }
    if (!err) {
        u.header = b.header;
        u.m = m;
        u.dir = tmp;
        err = walk_chunks(&b, m, on_chunk, &u);
        if (!err && !u.final) err = sg_error_new("truncated: the stream ends without its final chunk");
    }
    if (u.fd >= 0) close(u.fd);
    if (!err) {
        char *mp = sg_path_join(tmp, SG_BUNDLE_MANIFEST_NAME);
        err = mp ? sg_file_write_atomic(mp, b.envelope, b.envelope_len) : sg_error_new("out of memory");
        free(mp);
    }
    if (!err) err = fsync_dir(tmp);
    if (!err && rename(tmp, out_dir) != 0)
        err = sg_error_new("renaming %s to %s: %s", tmp, out_dir, strerror(errno));
    if (err && tmp) remove_tree(tmp);
    free(tmp);
    free(u.pt);
    sodium_memzero(&u.ss, sizeof u.ss);
    bundle_close(&b);
    return err ? sg_error_wrap(err, "%s", path) : NULL;
}

sg_error *sg_bundle_verify_dir(const char *dir, const unsigned char release_pk[crypto_sign_PUBLICKEYBYTES],
                               sg_manifest *m) {
    char *mp = sg_path_join(dir, SG_BUNDLE_MANIFEST_NAME);
    if (!mp) return sg_error_new("out of memory");
    char *env = NULL, *payload = NULL;
    size_t el = 0, pl = 0;
    sg_error *err = sg_file_read(mp, &env, &el);
    if (!err) err = sg_dsse_verify(env, el, SG_INTOTO_PAYLOAD_TYPE, release_pk, &payload, &pl);
    if (!err) err = sg_manifest_parse(payload, pl, m);
    for (int i = 0; !err && i < m->n_files; i++) {
        const sg_manifest_file *f = &m->files[i];
        char *p = sg_path_join(dir, f->name);
        char hex[65];
        struct stat st;
        if (!p)
            err = sg_error_new("out of memory");
        else if (lstat(p, &st) != 0)
            err = sg_error_new("%s is missing", f->name);
        else if (!S_ISREG(st.st_mode))
            err = sg_error_new("%s is not a regular file", f->name);
        else if ((uint64_t)st.st_size != f->size)
            err = sg_error_new("altered: %s has %lld bytes, the manifest says %llu", f->name,
                               (long long)st.st_size, (unsigned long long)f->size);
        else if (!(err = sg_sha256_file(p, hex)) && strcmp(hex, f->sha256) != 0)
            err = sg_error_new("altered: %s does not match its SHA-256 in the signed manifest", f->name);
        free(p);
    }
    if (!err) {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && !err && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                strcmp(e->d_name, SG_BUNDLE_MANIFEST_NAME) && !sg_manifest_find(m, e->d_name))
                err = sg_error_new("%s is not listed in the signed manifest", e->d_name);
        if (d) closedir(d);
    }
    free(mp);
    free(env);
    free(payload);
    return err ? sg_error_wrap(err, "%s", dir) : NULL;
}
