/* store.h — the persistent store: opening a database, its schema version.
 *
 * Every SQL statement of stagegate lives in src/store; other modules call
 * typed functions, one public header per domain:
 *   store/store_keys.h          API keys and per-key usage (src/access/keys)
 *   store/store_audit.h         audit rows, durable appends (src/access/audit)
 *   store/store_release.h       the staged release's records (src/release)
 *   store/store_distribution.h  licensees, release key, issued bundles
 *   store/store_flags.h         completions and community flags (src/server/guard)
 * The backend is chosen when the database is opened; today it is SQLite in
 * WAL mode with a busy timeout (several processes may share the file: the
 * server and the `keys`/`audit` commands), foreign keys on and
 * synchronous=FULL, so that a committed write survives a crash or power
 * loss. How a second backend (PostgreSQL) plugs in: store_int.h.
 *
 * Schema: versioned migrations, one ordered list per backend
 * (sqlite_schema.c); the `schema_version` table records which were applied,
 * and opening a database applies the pending ones. A module that needs new
 * tables appends a migration to that list (never edits an applied one).
 *
 * Threads: one sg_store may be shared by all threads of the server. It holds
 * two connections, each behind its own mutex: a writer, through which every
 * write goes, and a reader for the lookups of the request path (keys, usage,
 * release records), so that authentication never waits behind an audit
 * commit's fsync (WAL lets one reader and one writer run at once). A function
 * holds its connection's mutex for its whole duration. Audit appends are
 * group-committed: concurrent appends share one transaction and one fsync,
 * and each returns only once its own record is on disk. The audit walk of a
 * file database opens a third, private connection. ":memory:" has a single
 * connection for both roles.
 */
#ifndef SG_STORE_H
#define SG_STORE_H

#include "base/error.h"

#define SG_HASH_BYTES 32    /* BLAKE2b-256 digests: key hashes, audit chain */
#define SG_KEY_NAME_MAX 128 /* a stored name: a key's, a licensee's, a model's */

typedef struct sg_store sg_store;

/* Opens (creating if needed) the database at `path` and applies any pending
 * migrations. ":memory:" gives a private in-memory database. */
sg_error *sg_store_open(const char *path, sg_store **out) SG_MUST_CHECK;
void sg_store_close(sg_store *store);

/* The schema version of the open database (highest migration applied) and
 * the highest this program knows. */
int sg_store_schema_version(sg_store *store);
int sg_store_schema_latest(void);

#endif
