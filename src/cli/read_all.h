/* read_all.h — reading a whole stream (stdin, an opened file) into memory, for
 * the commands that take text on standard input (detect, moderate, tokenize). */
#ifndef SG_READ_ALL_H
#define SG_READ_ALL_H

#include <stddef.h>
#include <stdio.h>

/* Reads f to its end into a malloc'd, NUL-terminated buffer (length in *len,
 * not counting the NUL). NULL when out of memory. A read error ends the read
 * early: check ferror(f) when it matters. */
char *sg_read_stream(FILE *f, size_t *len);

#endif
