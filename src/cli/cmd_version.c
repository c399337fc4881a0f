/* cmd_version.c — `stagegate version`. */
#include <stdio.h>

#include "cli/commands.h"

int sg_cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("stagegate 0.1.0\n");
    return 0;
}
