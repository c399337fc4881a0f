/* eval_safety.h — the safety team's evaluation suites (src/safety) as
 * entries of the evaluation registry (evals.h): "filter" (the content
 * filter's recall, evasions, false positives; no model needed), "watermark"
 * (tpr, fpr, perplexity cost; the key from the store beside the database) and
 * "detection" (zero-shot detection AUROC and tpr at 1% fpr). Each runs the
 * suite of src/safety and stores every number of its "metrics" object. */
#ifndef SG_EVAL_SAFETY_H
#define SG_EVAL_SAFETY_H

#include "eval/evals.h"

extern const sg_eval_suite sg_eval_suite_filter;
extern const sg_eval_suite sg_eval_suite_watermark;
extern const sg_eval_suite sg_eval_suite_detection;

#endif
