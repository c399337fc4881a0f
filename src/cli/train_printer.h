/* train_printer.h — what `stagegate train` and `finetune` show while a run
 * goes: the training library reports events (train/trainer.h) and this turns
 * them into stderr lines. On a terminal the step line is redrawn in place;
 * otherwise one line per log_interval steps (and at every evaluation and the
 * last step), so logs stay readable. */
#ifndef SG_TRAIN_PRINTER_H
#define SG_TRAIN_PRINTER_H

#include "train/trainer.h"

typedef struct {
    int tty;           /* stderr is a terminal */
    long log_interval; /* print every N-th step when not a terminal */
    int line_open;     /* a redrawn step line is on screen, not yet ended */
} sg_train_printer;

void sg_train_printer_init(sg_train_printer *p, long log_interval);

/* An sg_train_progress_fn; `printer` is an sg_train_printer. */
void sg_train_printer_event(const sg_train_event *ev, void *printer);

#endif
