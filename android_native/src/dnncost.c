/* dnncost tree-ensemble (+ layer-cost) evaluator (C99, libm only). See include/dnncost.h. */
#include "dnncost.h"

#include <math.h>
#include <stddef.h>

static float feature_value(const float *row, int32_t n_features, const dnncost_term *term,
                           int32_t index)
{
    return index < n_features ? row[index] : term->device[index - n_features];
}

static double term_value(const dnncost_term *term, const float *row, int32_t n_features)
{
    double margin = term->base_margin;
    for (int32_t t = 0; t < term->n_trees; ++t) {
        int32_t node = term->roots[t];
        while (term->left[node] >= 0) {
            float x = feature_value(row, n_features, term, term->feature[node]);
            int go_left = isnan(x) ? term->default_left[node] != 0 : x < term->threshold[node];
            node = go_left ? term->left[node] : term->right[node];
        }
        margin += term->threshold[node];
    }
    return term->link == DNNCOST_LINK_EXP ? exp(margin) : margin;
}

static double squared_distance(const dnncost_smoother *sm, const float *row,
                               int32_t n_features, int32_t anchor)
{
    double total = 0.0;
    for (int32_t f = 0; f < n_features; ++f) {
        double z = isnan(row[f]) ? 0.0 : ((double)row[f] - sm->centre[f]) / sm->scale[f];
        double d = z - sm->anchors[(size_t)anchor * (size_t)n_features + (size_t)f];
        total += d * d;
    }
    return total;
}

/* Kernel average of the anchors' values in one pass: a running softmax that rescales
 * its sums whenever a larger logit appears (no allocation). */
static double smoothed(const dnncost_smoother *sm, const float *row, int32_t n_features)
{
    double best = -INFINITY, weights = 0.0, total = 0.0;
    for (int32_t j = 0; j < sm->n_anchors; ++j) {
        double logit = -squared_distance(sm, row, n_features, j) / sm->bandwidth;
        if (logit > best) {
            double rescale = exp(best - logit); /* 0 on the first anchor */
            weights = weights * rescale + 1.0;
            total = total * rescale + sm->values[j];
            best = logit;
        } else {
            double w = exp(logit - best);
            weights += w;
            total += w * sm->values[j];
        }
    }
    return weights > 0.0 ? total / weights : 0.0;
}

static double cost_sum_log_ms(const dnncost_cost_sum *cost, const float *row,
                              int32_t n_features)
{
    double total_ms = 0.0;
    for (int32_t i = 0; i < cost->n; ++i) {
        double x = row[cost->columns[i]];
        if (isnan(x)) {
            continue; /* a missing amount counts as 0 */
        }
        total_ms += cost->ms_per_unit[i] * (cost->logged[i] ? expm1(x) : x);
    }
    double log_ms = log(total_ms > DNNCOST_FLOOR_MS ? total_ms : DNNCOST_FLOOR_MS);
    return cost->smoother != NULL ? log_ms + smoothed(cost->smoother, row, n_features) : log_ms;
}

int dnncost_predict_with(const dnncost_model *model, const float *features, int n,
                         float *out_ms)
{
    if (model == NULL || n < 0 || (n > 0 && (features == NULL || out_ms == NULL))) {
        return -1;
    }
    for (int i = 0; i < n; ++i) {
        const float *row = features + (size_t)i * (size_t)model->n_features;
        double log_ms = model->bias_log_ms;
        for (int32_t j = 0; j < model->n_terms; ++j) {
            const dnncost_term *term = &model->terms[j];
            log_ms += term->weight * term_value(term, row, model->n_features);
        }
        if (model->cost_sum != NULL) {
            const dnncost_cost_sum *cost = model->cost_sum;
            log_ms += cost->weight * cost_sum_log_ms(cost, row, model->n_features);
        }
        out_ms[i] = (float)exp(log_ms);
    }
    return 0;
}

int dnncost_predict(const float *features, int n, float *out_ms)
{
    return dnncost_predict_with(&dnncost_default_model, features, n, out_ms);
}

int dnncost_num_features(void)
{
    return dnncost_default_model.n_features;
}
