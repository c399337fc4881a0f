/* adamw.c — AdamW and global-norm gradient clipping (see adamw.h). */
#include "train/adamw.h"

#include <math.h>
#include <stdlib.h>

sg_error *sg_adamw_init(sg_adamw *opt, const sg_adamw_config *cfg, const sg_gpt2_config *model) {
    *opt = (sg_adamw){.cfg = *cfg};
    if (!(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f) || !(cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f))
        return sg_error_new("adamw: beta1 %g and beta2 %g must be in [0, 1)", cfg->beta1, cfg->beta2);
    if (!(cfg->eps > 0.0f)) return sg_error_new("adamw: eps %g must be positive", cfg->eps);
    if (!(cfg->weight_decay >= 0.0f))
        return sg_error_new("adamw: weight_decay %g must be >= 0", cfg->weight_decay);
    int ns = sg_train_model_segments(model, NULL);
    sg_train_segment *seg = malloc(sizeof *seg * (size_t)ns);
    opt->n = sg_train_param_count(model);
    opt->m = calloc(opt->n, sizeof(float));
    opt->v = calloc(opt->n, sizeof(float));
    opt->decay = calloc(opt->n, sizeof(float));
    if (!seg || !opt->m || !opt->v || !opt->decay) {
        free(seg);
        sg_adamw_free(opt);
        return sg_error_new("adamw: out of memory for %zu parameters", opt->n);
    }
    sg_train_model_segments(model, seg);
    for (int s = 0; s < ns; s++)
        if (seg[s].is_matrix)
            for (size_t i = 0; i < seg[s].numel; i++) opt->decay[seg[s].offset + i] = 1.0f;
    free(seg);
    return NULL;
}

void sg_adamw_free(sg_adamw *opt) {
    free(opt->m);
    free(opt->v);
    free(opt->decay);
    free(opt->lr_scale);
    opt->m = opt->v = opt->decay = opt->lr_scale = NULL;
}

sg_error *sg_adamw_set_layer_lr(sg_adamw *opt, const sg_gpt2_config *model, float decay, int freeze) {
    if (!(decay > 0.0f && decay <= 1.0f))
        return sg_error_new("layer learning-rate decay %g must be in (0, 1]", decay);
    if (freeze < 0 || freeze > model->n_layer)
        return sg_error_new("--freeze-layers %d: the model has %d layers", freeze, model->n_layer);
    if (!opt->lr_scale && !(opt->lr_scale = malloc(opt->n * sizeof(float))))
        return sg_error_new("out of memory");
    int ns = sg_train_model_segments(model, NULL), L = model->n_layer;
    sg_train_segment *seg = malloc(sizeof *seg * (size_t)ns);
    if (!seg) return sg_error_new("out of memory");
    sg_train_model_segments(model, seg);
    for (int s = 0; s < ns; s++) {
        float scale;
        if (seg[s].layer >= 0)
            scale = seg[s].layer < freeze ? 0.0f : powf(decay, (float)(L - 1 - seg[s].layer));
        else if (seg[s].kind[0] == 'w') /* wte, wpe */
            scale = freeze > 0 ? 0.0f : powf(decay, (float)L);
        else
            scale = 1.0f;
        for (size_t i = 0; i < seg[s].numel; i++) opt->lr_scale[seg[s].offset + i] = scale;
    }
    free(seg);
    return NULL;
}

void sg_adamw_step(sg_adamw *opt, float *params, const float *grads, float lr) {
    opt->step++;
    const sg_adamw_config c = opt->cfg;
    float bc1 = 1.0f - powf(c.beta1, (float)opt->step), bc2 = 1.0f - powf(c.beta2, (float)opt->step);
    float *m = opt->m, *v = opt->v;
    const float *decay = opt->decay, *lrs = opt->lr_scale;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < opt->n; i++) {
        float a = lrs ? lr * lrs[i] : lr;
        if (a == 0.0f) continue;
        float g = grads[i];
        m[i] = c.beta1 * m[i] + (1.0f - c.beta1) * g;
        v[i] = c.beta2 * v[i] + (1.0f - c.beta2) * g * g;
        float mhat = m[i] / bc1, vhat = v[i] / bc2;
        params[i] -= a * (mhat / (sqrtf(vhat) + c.eps) + c.weight_decay * decay[i] * params[i]);
    }
}

float sg_clip_grad_norm(float *grads, size_t n, float clip) {
    double ss = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : ss)
    for (size_t i = 0; i < n; i++) ss += (double)grads[i] * grads[i];
    float norm = (float)sqrt(ss);
    if (clip > 0.0f && norm > clip) {
        float s = clip / (norm + 1e-6f);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) grads[i] *= s;
    }
    return norm;
}
