/* train_curve.h — a model's training curve as a standalone SVG, drawn from its
 * train_log.jsonl (no plotting library): train loss at every logged step and
 * held-out loss at every evaluation, against training tokens (step x tokens
 * per step), with axes, grid, legend, and a <title>/<desc> text alternative
 * that states the final figures for readers who cannot see the picture. */
#ifndef SG_TRAIN_CURVE_H
#define SG_TRAIN_CURVE_H

#include "base/error.h"

typedef struct {
    int points, evals;             /* logged steps, evaluations */
    double final_train, final_val; /* last train loss, last held-out loss (NAN if none) */
    double tokens;                 /* training tokens at the last step */
} sg_train_curve_info;

/* Reads log_path; *svg gets the malloc'd document. `title` names the model. */
sg_error *sg_train_curve_svg(const char *log_path, double tokens_per_step, const char *title, char **svg,
                             sg_train_curve_info *info) SG_MUST_CHECK;

#endif
