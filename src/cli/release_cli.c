/* release_cli.c — shared helpers of the release subcommands (release_cli.h). */
#include "cli/release_cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int sg_cli_open(const char *cmd, const char *policy_path, const char *db, sg_policy **policy,
                sg_store **store) {
    if (policy) {
        *policy = NULL;
        if (!policy_path) {
            fprintf(stderr, "stagegate %s: --policy FILE is required\n", cmd);
            return 2;
        }
        sg_error *err = sg_policy_load(policy_path, policy);
        if (err) return sg_cli_fail(cmd, err);
        for (int i = 0; i < (*policy)->n_warnings; i++) fprintf(stderr, "%s\n", (*policy)->warnings[i]);
    }
    if (store) {
        sg_error *err = sg_store_open(db ? db : "./stagegate.db", store);
        if (err) {
            if (policy) {
                sg_policy_free(*policy);
                *policy = NULL;
            }
            return sg_cli_fail(cmd, err);
        }
    }
    return 0;
}

const char *sg_cli_actor(const char *by) {
    if (by && by[0]) return by;
    const char *u = getenv("USER");
    return u && u[0] ? u : "operator";
}

void sg_cli_time(long long ms, char *buf, size_t size) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm);
}

long long sg_cli_duration_ms(const char *text) {
    if (!text || !*text) return -1;
    char *end;
    double v = strtod(text, &end);
    if (end == text || v < 0) return -1;
    long long unit;
    if (!strcmp(end, "d"))
        unit = 86400000LL;
    else if (!strcmp(end, "h"))
        unit = 3600000LL;
    else if (!strcmp(end, "m"))
        unit = 60000LL;
    else if (!strcmp(end, "s"))
        unit = 1000LL;
    else
        return -1;
    return (long long)(v * (double)unit);
}
