/* log.h — leveled logging to stderr; one line per message with a timestamp. */
#ifndef SG_LOG_H
#define SG_LOG_H

#include "base/error.h"

typedef enum { SG_LOG_DEBUG, SG_LOG_INFO, SG_LOG_WARN, SG_LOG_ERROR } sg_log_level;

void sg_log_set_level(sg_log_level level);
void sg_log(sg_log_level level, const char *fmt, ...) SG_PRINTF(2, 3);

#define sg_debug(...) sg_log(SG_LOG_DEBUG, __VA_ARGS__)
#define sg_info(...) sg_log(SG_LOG_INFO, __VA_ARGS__)
#define sg_warn(...) sg_log(SG_LOG_WARN, __VA_ARGS__)

/* Wall-clock milliseconds since the Unix epoch, and a monotonic clock in seconds. */
long long sg_now_ms(void);
double sg_monotonic_s(void);

#endif
