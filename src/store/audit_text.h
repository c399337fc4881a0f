/* audit_text.h — how much of a request's text the audit log keeps: none,
 * hashed (BLAKE2b-256 digests only) or full (text and digests). Its own
 * header so that the release policy, which chooses the mode, need not see
 * the audit log or the rest of the store (store_audit.h owns the names and
 * the record that carries the mode; access/audit.h the log). */
#ifndef SG_AUDIT_TEXT_H
#define SG_AUDIT_TEXT_H

typedef enum {
    SG_AUDIT_TEXT_NONE,
    SG_AUDIT_TEXT_HASHED,
    SG_AUDIT_TEXT_FULL,
    SG_AUDIT_TEXT_UNKNOWN = -1 /* read back from a row whose text_mode is none of these */
} sg_audit_text_mode;

#endif
