/* train_curve.c — the training curve as SVG; see train_curve.h. */
#include "eval/train_curve.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/fileio.h"

enum { W = 720, H = 400, LEFT = 64, RIGHT = 20, TOP = 40, BOTTOM = 52 };

/* A "nice" step (1, 2 or 5 times a power of ten) giving about n ticks over span. */
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* Escapes &, <, > and " for SVG text. */
static sg_error *put_text(sg_buf *b, const char *s) {
    sg_error *err = NULL;
    for (; *s && !err; s++) {
        const char *e = *s == '&'   ? "&amp;"
                        : *s == '<' ? "&lt;"
                        : *s == '>' ? "&gt;"
                        : *s == '"' ? "&quot;"
                                    : NULL;
        err = e ? sg_buf_puts(b, e) : sg_buf_putc(b, *s);
    }
    return err;
}

static void fmt_tokens(double t, char *out, size_t n) {
    if (t >= 1e6)
        snprintf(out, n, "%gM", t / 1e6);
    else if (t >= 1e3)
        snprintf(out, n, "%gk", t / 1e3);
    else
        snprintf(out, n, "%g", t);
}

sg_error *sg_train_curve_svg(const char *log_path, double tokens_per_step, const char *title, char **svg,
                             sg_train_curve_info *info) {
    *svg = NULL;
    memset(info, 0, sizeof *info);
    info->final_train = info->final_val = NAN;
    if (!(tokens_per_step > 0)) return sg_error_new("tokens per step must be positive");
    char *text = NULL;
    size_t len = 0;
    sg_error *err = sg_file_read(log_path, &text, &len);
    if (err) return err;
    size_t cap = 1024, n = 0;
    double *x = malloc(cap * sizeof *x), *tr = malloc(cap * sizeof *tr), *va = malloc(cap * sizeof *va);
    if (!x || !tr || !va) err = sg_error_new("out of memory");
    int line = 0;
    for (char *s = text; !err && s && s < text + len;) {
        char *nl = memchr(s, '\n', (size_t)(text + len - s));
        size_t l = nl ? (size_t)(nl - s) : (size_t)(text + len - s);
        line++;
        if (l) {
            json_error_t je;
            json_t *o = json_loadb(s, l, 0, &je);
            json_t *st = json_object_get(o, "step"), *tl = json_object_get(o, "train_loss"),
                   *vl = json_object_get(o, "val_loss");
            if (!o || !json_is_number(st))
                err = sg_error_new("%s:%d: not a training log record (%s)", log_path, line,
                                   o ? "no step" : je.text);
            if (!err && n == cap) {
                cap *= 2;
                double *a = realloc(x, cap * sizeof *x), *b = a ? realloc(tr, cap * sizeof *tr) : NULL,
                       *c = b ? realloc(va, cap * sizeof *va) : NULL;
                if (a) x = a;
                if (b) tr = b;
                if (c) va = c;
                if (!c) err = sg_error_new("out of memory");
            }
            if (!err) {
                x[n] = json_number_value(st) * tokens_per_step;
                tr[n] = json_is_number(tl) ? json_number_value(tl) : NAN;
                va[n] = json_is_number(vl) ? json_number_value(vl) : NAN;
                n++;
            }
            json_decref(o);
        }
        s = nl ? nl + 1 : NULL;
    }
    free(text);
    if (!err && !n) err = sg_error_new("%s: no records", log_path);
    sg_buf b;
    sg_buf_init(&b, 0);
    if (!err) {
        double xmax = x[n - 1], ymin = INFINITY, ymax = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            if (!isnan(tr[i])) {
                ymin = fmin(ymin, tr[i]), ymax = fmax(ymax, tr[i]);
                info->points++, info->final_train = tr[i];
            }
            if (!isnan(va[i])) {
                ymin = fmin(ymin, va[i]), ymax = fmax(ymax, va[i]);
                info->evals++, info->final_val = va[i];
            }
        }
        info->tokens = xmax;
        if (!isfinite(ymin)) ymin = 0, ymax = 1;
        double ys = nice_step(ymax - ymin > 0 ? ymax - ymin : 1, 6);
        ymin = floor(ymin / ys) * ys, ymax = ceil(ymax / ys) * ys;
        if (ymax <= ymin) ymax = ymin + ys;
        double xs = nice_step(xmax > 0 ? xmax : 1, 6), xtop = xmax > 0 ? ceil(xmax / xs) * xs : 1;
        double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
#define PX(v) (LEFT + (v) / xtop * pw)
#define PY(v) (TOP + (ymax - (v)) / (ymax - ymin) * ph)
        char desc[512], tk[32];
        fmt_tokens(xmax, tk, sizeof tk);
        int dl = snprintf(desc, sizeof desc,
                          "Training curve of %s: loss in nats per token against training tokens. ", title);
        if (dl > 0 && (size_t)dl < sizeof desc)
            dl += snprintf(desc + dl, sizeof desc - (size_t)dl,
                           "Train loss %.3f at %s tokens (%d logged steps)", info->final_train, tk,
                           info->points);
        if (dl > 0 && (size_t)dl < sizeof desc && info->evals)
            snprintf(desc + dl, sizeof desc - (size_t)dl,
                     "; held-out loss %.3f at the last of %d evaluations.", info->final_val, info->evals);
        else if (dl > 0 && (size_t)dl < sizeof desc)
            snprintf(desc + dl, sizeof desc - (size_t)dl, "; no held-out evaluations logged.");
        err = sg_buf_printf(
            &b,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 "
            "%d %d\" role=\"img\" aria-labelledby=\"t d\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n<title id=\"t\">",
            W, H, W, H);
        if (!err) err = put_text(&b, title);
        if (!err) err = sg_buf_puts(&b, ": training curve</title>\n<desc id=\"d\">");
        if (!err) err = put_text(&b, desc);
        if (!err)
            err = sg_buf_printf(&b, "</desc>\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
        if (!err) {
            err = sg_buf_printf(&b, "<text x=\"%d\" y=\"24\" font-size=\"15\">", LEFT);
            if (!err) err = put_text(&b, title);
            if (!err) err = sg_buf_puts(&b, ": loss (nats/token) against training tokens</text>\n");
        }
        /* grid and ticks */
        for (double v = ymin; !err && v <= ymax + ys / 2; v += ys)
            err = sg_buf_printf(&b,
                                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                                LEFT, PY(v), W - RIGHT, PY(v), LEFT - 6, PY(v) + 4, v);
        for (double v = 0; !err && v <= xtop + xs / 2; v += xs) {
            fmt_tokens(v, tk, sizeof tk);
            err = sg_buf_printf(&b,
                                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                                PX(v), TOP, PX(v), H - BOTTOM, PX(v), H - BOTTOM + 16, tk);
        }
        if (!err)
            err =
                sg_buf_printf(&b,
                              "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                              "stroke=\"#333\"/>\n<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">training "
                              "tokens</text>\n<text x=\"16\" y=\"%.0f\" text-anchor=\"middle\" "
                              "transform=\"rotate(-90 16 %.0f)\">loss (nats/token)</text>\n",
                              LEFT, TOP, pw, ph, LEFT + pw / 2, H - 12, TOP + ph / 2, TOP + ph / 2);
        /* train loss */
        if (!err)
            err =
                sg_buf_puts(&b, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.2\" points=\"");
        for (size_t i = 0; i < n && !err; i++)
            if (!isnan(tr[i])) err = sg_buf_printf(&b, "%.1f,%.1f ", PX(x[i]), PY(tr[i]));
        if (!err) err = sg_buf_puts(&b, "\"/>\n");
        /* held-out loss: line and dots */
        if (!err && info->evals) {
            err = sg_buf_puts(&b, "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"");
            for (size_t i = 0; i < n && !err; i++)
                if (!isnan(va[i])) err = sg_buf_printf(&b, "%.1f,%.1f ", PX(x[i]), PY(va[i]));
            if (!err) err = sg_buf_puts(&b, "\"/>\n");
            for (size_t i = 0; i < n && !err; i++)
                if (!isnan(va[i]))
                    err = sg_buf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d62728\"/>\n",
                                        PX(x[i]), PY(va[i]));
        }
        /* legend */
        if (!err)
            err = sg_buf_printf(
                &b,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
                "<text x=\"%d\" y=\"%d\">train loss</text>\n"
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d62728\" stroke-width=\"2\"/>"
                "<text x=\"%d\" y=\"%d\">held-out loss</text>\n</svg>\n",
                W - RIGHT - 210, TOP + 16, W - RIGHT - 186, TOP + 16, W - RIGHT - 180, TOP + 20,
                W - RIGHT - 210, TOP + 34, W - RIGHT - 186, TOP + 34, W - RIGHT - 180, TOP + 38);
#undef PX
#undef PY
    }
    free(x);
    free(tr);
    free(va);
    size_t out_len;
    if (!err) err = sg_buf_take(&b, svg, &out_len);
    sg_buf_free(&b);
    return err;
}
