/* schedule.h — the learning-rate schedule: linear warm-up from 0 to the peak
 * over `warmup` steps, then cosine annealing down to peak * floor_frac at
 * step `total`, flat afterwards. */
#ifndef SG_SCHEDULE_H
#define SG_SCHEDULE_H

typedef struct {
    float peak;       /* learning rate after warm-up */
    long warmup;      /* warm-up steps */
    long total;       /* step at which the cosine reaches the floor */
    float floor_frac; /* floor as a fraction of peak, in [0, 1] */
} sg_schedule;

/* The learning rate for update number `step` (0-based). */
float sg_schedule_lr(const sg_schedule *s, long step);

#endif
