/* bundle.h — encrypted, signed model bundles for one licensee.
 *
 * File layout (integers little-endian):
 *   header (180 bytes): "SGBUNDLE" | u32 version (1) | recipient: BLAKE2b-256
 *     of the licensee's X25519 public key (32) | release Ed25519 public key
 *     (32) | stream key sealed to the licensee (crypto_box_seal, 80) |
 *     secretstream header (24)
 *   chunks: u32 length | crypto_secretstream_xchacha20poly1305 ciphertext,
 *     the whole 180-byte header as additional data of every chunk. The
 *     plaintext of a chunk is a type byte and its payload:
 *       'F' u16 name length, name, u64 size   (a file starts)
 *       'D' bytes of the current file         (at most chunk size, 1 MiB)
 *       'E'                                   (the end; tagged FINAL)
 *     so names, sizes and order are authenticated like the data, a chunk
 *     moved elsewhere fails to decrypt, and a stream without its FINAL chunk
 *     is known to be cut short.
 *   trailer: the DSSE envelope (dsse.h) of the in-toto manifest (manifest.h)
 *     | u64 its length | "SGMANIF1". The manifest signs every file's SHA-256
 *     and size, the model, stage, licensee, issue time and the BLAKE2b-256 of
 *     header + chunks, so a bundle can be verified without its key.
 * Packing and unpacking stream through fixed-size buffers; unpacking writes
 * into DIR.partial-XXXXXX and renames it to DIR only when everything checked. */
#ifndef SG_BUNDLE_H
#define SG_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "base/error.h"
#include "distribution/manifest.h"

#define SG_BUNDLE_MAGIC "SGBUNDLE"
#define SG_BUNDLE_TRAILER_MAGIC "SGMANIF1"
#define SG_BUNDLE_VERSION 1
#define SG_BUNDLE_HEADER_BYTES 180
#define SG_BUNDLE_CHUNK (1u << 20)
#define SG_BUNDLE_MANIFEST_NAME "manifest.dsse.json"

typedef struct {
    const char *model_dir;    /* config.json, model.safetensors, [vocab.json, merges.txt, README.md] */
    const char *license_path; /* becomes LICENSE */
    const char *model_name, *stage, *licensee;
    const unsigned char *recipient_pk; /* X25519, crypto_box_PUBLICKEYBYTES */
    const unsigned char *release_sk;   /* Ed25519, crypto_sign_SECRETKEYBYTES */
    const unsigned char *release_pk;   /* crypto_sign_PUBLICKEYBYTES */
    const unsigned char *fp_seed;      /* SG_FP_SEED_BYTES, or NULL: no fingerprint */
    double epsilon;
    int64_t issued_ms;
    const char *out_path;
} sg_pack_spec;

typedef struct {
    sg_manifest manifest;
    uint64_t plain_bytes, bundle_bytes;
} sg_pack_result;

sg_error *sg_bundle_pack(const sg_pack_spec *spec, sg_pack_result *res) SG_MUST_CHECK;

/* Opens a bundle with the licensee's key pair (pk, sk) into out_dir (which
 * must not exist). expected_release_pk may be NULL (then the key named in
 * the header is used, which proves integrity but not origin). */
sg_error *sg_bundle_unpack(const char *path, const unsigned char pk[crypto_box_PUBLICKEYBYTES],
                           const unsigned char sk[crypto_box_SECRETKEYBYTES],
                           const unsigned char *expected_release_pk, const char *out_dir,
                           sg_manifest *m) SG_MUST_CHECK;

/* Without the licensee's key: the signature and the digest of everything. */
sg_error *sg_bundle_verify_file(const char *path, const unsigned char release_pk[crypto_sign_PUBLICKEYBYTES],
                                sg_manifest *m) SG_MUST_CHECK;
/* An unpacked directory: the signature of its manifest.dsse.json, every
 * file's size and SHA-256, and no file that the manifest does not list. */
sg_error *sg_bundle_verify_dir(const char *dir, const unsigned char release_pk[crypto_sign_PUBLICKEYBYTES],
                               sg_manifest *m) SG_MUST_CHECK;

#endif
