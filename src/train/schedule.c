/* schedule.c — linear warm-up then cosine decay to a floor. */
#include "train/schedule.h"

#include <math.h>

float sg_schedule_lr(const sg_schedule *s, long step) {
    if (step < s->warmup) return s->peak * (float)(step + 1) / (float)s->warmup;
    float lo = s->peak * s->floor_frac;
    if (step >= s->total || s->total <= s->warmup) return lo;
    double t = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    return lo + (float)(0.5 * (1.0 + cos(M_PI * t))) * (s->peak - lo);
}
