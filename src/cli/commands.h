/* commands.h — the subcommands of the `stagegate` program, one file each.
 * Each takes the arguments after its name (argv[0] is the subcommand) and
 * returns the process exit status. */
#ifndef SG_COMMANDS_H
#define SG_COMMANDS_H

#include "cli/cli_parse.h"

int sg_cmd_version(int argc, char **argv);
int sg_cmd_moderate(int argc, char **argv);
int sg_cmd_filter_eval(int argc, char **argv);
int sg_cmd_detect(int argc, char **argv);
int sg_cmd_watermark_eval(int argc, char **argv);
int sg_cmd_detect_eval(int argc, char **argv);
int sg_cmd_policy(int argc, char **argv);
int sg_cmd_tokenize(int argc, char **argv);
int sg_cmd_generate(int argc, char **argv);
int sg_cmd_logits(int argc, char **argv);
int sg_cmd_train(int argc, char **argv);
int sg_cmd_finetune(int argc, char **argv);
int sg_cmd_eval(int argc, char **argv);
int sg_cmd_tokenizer(int argc, char **argv);
int sg_cmd_checkpoint(int argc, char **argv);
int sg_cmd_keys(int argc, char **argv);
int sg_cmd_audit(int argc, char **argv);

int sg_cmd_stage(int argc, char **argv);
int sg_cmd_risk(int argc, char **argv);
int sg_cmd_signoff(int argc, char **argv);
int sg_cmd_incident(int argc, char **argv);
int sg_cmd_report(int argc, char **argv);
int sg_cmd_flags(int argc, char **argv);
int sg_cmd_card(int argc, char **argv);
int sg_cmd_datasheet(int argc, char **argv);
int sg_cmd_system_card(int argc, char **argv);
int sg_cmd_serve(int argc, char **argv);
/* `policy apply` (argv[0] = "apply"): implemented beside the server in
 * cmd_serve.c, with its options table. */
int sg_policy_apply(int argc, char **argv);
extern const sg_cli_cmd sg_policy_apply_cmd;
int sg_cmd_licensee(int argc, char **argv);
int sg_cmd_release(int argc, char **argv);
int sg_cmd_pack(int argc, char **argv);
int sg_cmd_unpack(int argc, char **argv);
int sg_cmd_verify(int argc, char **argv);
int sg_cmd_trace(int argc, char **argv);

#endif
