/* cmd_serve.c — `stagegate serve`: runs the gated API server until SIGINT or
 * SIGTERM; SIGHUP reloads the policy (a broken one is refused and the running
 * one stays). Also `stagegate policy apply`, which checks the served policy
 * and signals the server through the pid file it keeps beside the database
 * ("DB.pid": the pid, then the policy path, one per line). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "cli/commands.h"
#include "release/policy.h"
#include "server/api.h"

static void usage(FILE *out) {
    fprintf(out, "usage: stagegate serve --policy FILE [--db PATH] [--listen HOST:PORT] [--port-file FILE]\n"
                 "\n"
                 "Serves the models of the release policy FILE over an OpenAI-compatible API:\n"
                 "POST /v1/completions, GET /v1/models, GET /healthz, GET /metrics. Callers\n"
                 "authenticate with keys from `stagegate keys create`; what each key may use\n"
                 "follows the release's current stage (`stagegate stage`), applied within a\n"
                 "second of a stage move or an incident. GET /v1/system-card, /v1/cards/MODEL\n"
                 "and /v1/datasheets/MODEL serve the release documents where the stage releases\n"
                 "them; a monitoring report goes to DB.reports/ every monitoring_frequency.\n"
                 "\n"
                 "  --policy FILE      the release policy (YAML)\n"
                 "  --db PATH          the store: keys, usage, audit log (default ./stagegate.db)\n"
                 "  --listen HOST:PORT address to listen on (default 127.0.0.1:8080; port 0 = any free)\n"
                 "  --port-file FILE   write the bound port to FILE once listening\n"
                 "\n"
                 "Signals: SIGHUP reloads the policy (`stagegate policy apply` sends it);\n"
                 "SIGINT/SIGTERM shut down gracefully. The pid is kept in PATH.pid.\n");
}

static char *pid_path_for(const char *db) {
    size_t n = strlen(db);
    char *p = malloc(n + 5);
    if (p) memcpy(p, db, n), memcpy(p + n, ".pid", 5);
    return p;
}

int sg_cmd_serve(int argc, char **argv) {
    const char *policy = NULL, *db = "stagegate.db", *listen = "127.0.0.1:8080", *port_file = NULL;
    static const struct option opts[] = {
        {"policy", required_argument, 0, 'p'}, {"db", required_argument, 0, 'd'},
        {"listen", required_argument, 0, 'l'}, {"port-file", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:d:l:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            policy = optarg;
            break;
        case 'd':
            db = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'f':
            port_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!policy || optind != argc) {
        fprintf(stderr, "stagegate serve: %s\n",
                policy ? "unexpected arguments" : "--policy FILE is required");
        usage(stderr);
        return 2;
    }
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
    const char *db = "stagegate.db";
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'h') {
            printf("usage: stagegate policy apply [--db PATH] [FILE]\n\n"
                   "Checks the policy served by the server running on the store PATH (default\n"
                   "./stagegate.db) and makes it reload it (SIGHUP to the pid in PATH.pid). FILE,\n"
                   "when given, must be that policy file. A broken policy is refused.\n");
            return 0;
        } else {
            fprintf(stderr, "usage: stagegate policy apply [--db PATH] [FILE]\n");
            return 2;
        }
    }
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
    if (optind < argc) {
        char abs[PATH_MAX];
        if (!realpath(argv[optind], abs) || strcmp(abs, served)) {
            fprintf(stderr,
                    "stagegate policy apply: the server serves %s, not %s; edit that file (or restart the "
                    "server)\n",
                    served, argv[optind]);
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
