/* cmd_version.c — `stagegate version`. */
#include <stdio.h>

#include "cli/cli_parse.h"
#include "cli/commands.h"

int sg_cmd_version(int argc, char **argv) {
    static const sg_cli_opt table[] = {{0}};
    static const sg_cli_cmd cmd = {.name = "version", .summary = "print the version", .opts = table};
    int rc = sg_cli_parse(&cmd, argc, argv, NULL, NULL);
    if (rc >= 0) return rc;
    printf("stagegate 0.1.0\n");
    return 0;
}
