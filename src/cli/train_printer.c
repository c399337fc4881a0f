/* train_printer.c — training progress on stderr; see train_printer.h. */
#include "cli/train_printer.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "base/log.h"

void sg_train_printer_init(sg_train_printer *p, long log_interval) {
    p->tty = isatty(2);
    p->log_interval = log_interval > 0 ? log_interval : 1;
    p->line_open = 0;
}

/* Ends a redrawn step line before any other output. */
static void end_line(sg_train_printer *p) {
    if (p->line_open) fputc('\n', stderr);
    p->line_open = 0;
}

static void step_line(sg_train_printer *p, const sg_train_event *ev) {
    long done = ev->step - ev->start_step;
    double eta = done > 0 ? ev->elapsed_s / (double)done * (double)(ev->steps - ev->step) : 0.0;
    float loss = (float)ev->loss;
    if (p->tty) {
        fprintf(stderr, "\rstep %ld/%ld  loss %.4f  %.0f tok/s  ETA %dm%02ds   ", ev->step, ev->steps, loss,
                ev->tokens_per_s, (int)eta / 60, (int)eta % 60);
        p->line_open = 1;
    } else {
        fprintf(stderr, "step %ld/%ld loss %.4f %.0f tok/s eta %.0fs\n", ev->step, ev->steps, loss,
                ev->tokens_per_s, eta);
    }
}

void sg_train_printer_event(const sg_train_event *ev, void *printer) {
    sg_train_printer *p = printer;
    switch (ev->kind) {
    case SG_TRAIN_STEP:
        if (p->tty || ev->step % p->log_interval == 0 || ev->step == ev->steps || !isnan(ev->val_loss))
            step_line(p, ev);
        if (!isnan(ev->val_loss)) {
            end_line(p);
            sg_info("step %ld: val loss %.4f", ev->step, ev->val_loss);
        }
        return;
    case SG_TRAIN_STARTED:
        end_line(p);
        sg_info("training %zu parameters (%d layers, %d heads, %d wide, vocab %d, n_ctx %d) on %zu tokens; "
                "batch %d x %d x %d accumulation, %ld steps",
                ev->n_params, ev->model->n_layer, ev->model->n_head, ev->model->n_embd, ev->model->vocab_size,
                ev->model->n_ctx, ev->train_tokens, ev->batch, ev->context, ev->grad_accum, ev->steps);
        return;
    case SG_TRAIN_RESUMED:
        end_line(p);
        sg_info("resuming at step %ld", ev->step);
        return;
    case SG_TRAIN_SHORT_VAL:
        end_line(p);
        sg_warn("validation set has only %zu tokens (< context + 1): no validation loss", ev->val_tokens);
        return;
    case SG_TRAIN_STOPPED:
        end_line(p);
        sg_info("stopping after step %ld (stop_after)", ev->step);
        return;
    case SG_TRAIN_INTERRUPTED:
        end_line(p);
        sg_info("interrupted at step %ld", ev->step);
        return;
    case SG_TRAIN_SAVED:
        end_line(p);
        sg_info("saved checkpoint at step %ld to %s (%s)", ev->step, ev->dir, ev->why);
        return;
    }
}
