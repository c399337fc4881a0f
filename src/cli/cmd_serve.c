/* cmd_serve.c — `stagegate serve`: runs the gated API server until SIGINT or
 * SIGTERM; SIGHUP reloads the policy (a broken one is refused and the running
 * one stays). Also `stagegate policy apply`, which checks the served policy
 * and signals the server through the pid file it keeps beside the database
 * ("DB.pid": the pid, then the policy path, one per line). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "release/policy.h"
#include "server/api.h"

typedef struct {
    const char *policy, *db, *listen, *port_file;
} serve_opts;

static const sg_cli_opt serve_table[] = {
    {"policy", 'p', SG_CLI_STRING, offsetof(serve_opts, policy), .arg = "FILE",
     .help = "the release policy (YAML)", .required = 1},
    {"db", 'd', SG_CLI_STRING, offsetof(serve_opts, db), .arg = "PATH",
     .help = "the store: keys, usage, audit log"},
    {"listen", 'l', SG_CLI_STRING, offsetof(serve_opts, listen), .arg = "HOST:PORT",
     .help = "address to listen on (port 0 = any free)"},
    {"port-file", 'f', SG_CLI_STRING, offsetof(serve_opts, port_file), .arg = "FILE",
     .help = "write the bound port to FILE once listening"},
    {0},
};
static const sg_cli_cmd serve_cmd = {
    .name = "serve",
    .summary = "run the gated API server (OpenAI-compatible)",
    .opts = serve_table,
    .description = "Serves the models of the release policy FILE over an OpenAI-compatible API:\n"
                   "POST /v1/completions, GET /v1/models, GET /healthz, GET /metrics. Callers\n"
                   "authenticate with keys from `stagegate keys create`; what each key may use\n"
                   "follows the release's current stage (`stagegate stage`), applied within a\n"
                   "second of a stage move or an incident. GET /v1/system-card, /v1/cards/MODEL\n"
                   "and /v1/datasheets/MODEL serve the release documents where the stage releases\n"
                   "them; a monitoring report goes to DB.reports/ every monitoring_frequency.\n"
                   "\n"
                   "Signals: SIGHUP reloads the policy (`stagegate policy apply` sends it);\n"
                   "SIGINT/SIGTERM shut down gracefully. The pid is kept in PATH.pid.\n",
};

typedef struct {
    const char *db;
} apply_opts;
static const sg_cli_opt apply_table[] = {
    {"db", 'd', SG_CLI_STRING, offsetof(apply_opts, db), .arg = "PATH",
     .help = "the store of the running server"},
    {0},
};
const sg_cli_cmd sg_policy_apply_cmd = {
    .name = "policy apply",
    .summary = "make the running server reload its policy (checked first; a broken one is refused)",
    .args = "[FILE]",
    .max_args = 1,
    .opts = apply_table,
    .description = "Checks the policy served by the server running on the store PATH and makes it reload it\n"
                   "(SIGHUP to the pid in PATH.pid). FILE, when given, must be that policy file.\n",
};

static char *pid_path_for(const char *db) {
    size_t n = strlen(db);
    char *p = malloc(n + 5);
    if (p) memcpy(p, db, n), memcpy(p + n, ".pid", 5);
    return p;
}

int sg_cmd_serve(int argc, char **argv) {
    serve_opts so = {.db = "stagegate.db", .listen = "127.0.0.1:8080"};
    int rc = sg_cli_parse(&serve_cmd, argc, argv, &so, NULL);
    if (rc >= 0) return rc;
    const char *policy = so.policy, *db = so.db, *listen = so.listen, *port_file = so.port_file;
    char host[64];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || (size_t)(colon - listen) >= sizeof host || colon == listen || *end || port < 0 ||
        port > 65535 || !colon[1]) {
        fprintf(stderr, "stagegate serve: --listen wants HOST:PORT (e.g. 127.0.0.1:8080), got '%s'\n",
                listen);
        return 2;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;

    /* Signals are handled by this thread alone (sigwait): block them before
     * any other thread starts, so every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    sg_server_options o = {.policy_path = policy, .db_path = db, .host = host, .port = (int)port};
    sg_server *srv;
    sg_error *err = sg_server_start(&o, &srv);
    if (err) {
        fprintf(stderr, "stagegate serve: %s\n", sg_error_message(err));
        sg_error_free(err);
        return 1;
    }
    int bound = sg_server_port(srv);
    char *pid_path = pid_path_for(db);
    char abs_policy[PATH_MAX];
    if (!realpath(policy, abs_policy)) snprintf(abs_policy, sizeof abs_policy, "%s", policy);
    char line[PATH_MAX + 32];
    int n = snprintf(line, sizeof line, "%ld\n%s\n", (long)getpid(), abs_policy);
    if (pid_path) {
        err = sg_file_write_atomic(pid_path, line, (size_t)n);
        if (err) sg_warn("cannot write %s: %s", pid_path, sg_error_message(err)), sg_error_free(err);
    }
    if (port_file) {
        n = snprintf(line, sizeof line, "%d\n", bound);
        err = sg_file_write_atomic(port_file, line, (size_t)n);
        if (err) sg_warn("cannot write %s: %s", port_file, sg_error_message(err)), sg_error_free(err);
    }
    sg_info("stagegate serving %s on http://%s:%d (db %s, pid %ld)", policy, host, bound, db, (long)getpid());

    for (;;) {
        int sig;
        if (sigwait(&set, &sig)) continue;
        if (sig == SIGHUP) {
            err = sg_server_reload(srv);
            if (err) {
                sg_log(SG_LOG_ERROR, "%s", sg_error_message(err));
                sg_error_free(err);
            }
            continue;
        }
        sg_info("signal %d: shutting down", sig);
        break;
    }
    sg_server_stop(srv);
    if (pid_path) unlink(pid_path);
    free(pid_path);
    sg_info("stopped");
    return 0;
}

/* `stagegate policy apply [--db PATH] [FILE]`: the running server reloads its
 * policy. The file is checked here first, so a broken policy is reported to
 * the operator (the server would refuse it too and keep the old one). */
int sg_policy_apply(int argc, char **argv) {
    apply_opts ao = {.db = "stagegate.db"};
    int n_args, rc = sg_cli_parse(&sg_policy_apply_cmd, argc, argv, &ao, &n_args);
    if (rc >= 0) return rc;
    const char *db = ao.db;
    char *pid_path = pid_path_for(db);
    char *text = NULL;
    size_t size;
    sg_error *err = pid_path ? sg_file_read(pid_path, &text, &size) : sg_error_new("out of memory");
    if (err) {
        fprintf(stderr, "stagegate policy apply: no server is running on %s (%s)\n", db,
                sg_error_message(err));
        sg_error_free(err);
        free(pid_path);
        return 1;
    }
    free(pid_path);
    char *nl = strchr(text, '\n');
    char *served = nl ? nl + 1 : NULL;
    if (served) served[strcspn(served, "\n")] = 0;
    long pid = strtol(text, NULL, 10);
    if (pid <= 1 || !served || !*served) {
        fprintf(stderr, "stagegate policy apply: malformed pid file for %s\n", db);
        free(text);
        return 1;
    }
    if (n_args) {
        char abs[PATH_MAX];
        if (!realpath(argv[1], abs) || strcmp(abs, served)) {
            fprintf(stderr,
                    "stagegate policy apply: the server serves %s, not %s; edit that file (or restart the "
                    "server)\n",
                    served, argv[1]);
            free(text);
            return 1;
        }
    }
    sg_policy *p;
    err = sg_policy_load(served, &p);
    if (err) {
        fprintf(stderr, "%s\nstagegate policy apply: refused, the server keeps its running policy\n",
                sg_error_message(err));
        sg_error_free(err);
        free(text);
        return 1;
    }
    printf("policy %s: current stage '%s'\n", served, p->stages[p->current_stage].name);
    sg_policy_free(p);
    if (kill((pid_t)pid, SIGHUP)) {
        fprintf(stderr, "stagegate policy apply: cannot signal server pid %ld: %s\n", pid, strerror(errno));
        free(text);
        return 1;
    }
    printf("server pid %ld reloads it\n", pid);
    free(text);
    return 0;
}
