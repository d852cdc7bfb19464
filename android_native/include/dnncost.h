/* dnncost: a dependency-free C99 predictor for exported tree-ensemble cost models.
 *
 * A model is the data file `dnncost export MODEL_DIR --format c -o model.c` writes;
 * link it in and call dnncost_predict. Prediction, per row of F network features:
 *
 *   log_ms = bias_log_ms + sum_terms weight * link(base_margin + sum_trees leaf(x, device))
 *          + cost_sum.weight * (log(max(sum_i ms_per_unit[i] * amount_i(x), DNNCOST_FLOOR_MS))
 *                               + smoother(x))
 *   ms     = exp(log_ms)
 *
 * where amount_i(x) = expm1(x[columns[i]]) for a logged column, else x[columns[i]], and 0
 * when missing (the optional layer-cost term; cost_sum is NULL in models without one),
 * and smoother(x) = sum_j w_j values[j] / sum_j w_j with w_j = exp(-|z - anchor_j|^2 /
 * bandwidth), z = (x - centre) / scale (0 where x is missing), or 0 when NULL.
 *
 * A tree node goes left when x[feature] < threshold (float32 compare, as XGBoost), and
 * a missing value (NaN) goes to its default side. Features at index >= F are the
 * term's device vector, folded in at export time.
 */
#ifndef DNNCOST_H
#define DNNCOST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { DNNCOST_LINK_IDENTITY = 0, DNNCOST_LINK_EXP = 1 };

typedef struct {
    double weight;            /* this term's share of the log latency */
    float base_margin;        /* XGBoost base score, in margin space */
    int32_t link;             /* DNNCOST_LINK_IDENTITY or DNNCOST_LINK_EXP */
    int32_t n_device;         /* length of device[] */
    const float *device;      /* device vector: feature F + i reads device[i] */
    int32_t n_trees;
    const int32_t *roots;     /* root node of each tree */
    const int32_t *feature;   /* per node: feature index of the split */
    const float *threshold;   /* per node: split value; for a leaf, its value */
    const int32_t *left;      /* per node: left child, -1 for a leaf */
    const int32_t *right;     /* per node: right child */
    const uint8_t *default_left; /* per node: 1 when a missing value goes left */
} dnncost_term;

#define DNNCOST_FLOOR_MS 1e-6

typedef struct {
    int32_t n_anchors;        /* M training networks */
    const double *centre;     /* [F] */
    const double *scale;      /* [F] */
    const double *anchors;    /* [M * F], standardised, row-major */
    double bandwidth;
    const double *values;     /* [M] log residual at each anchor */
} dnncost_smoother;

typedef struct {
    double weight;            /* this term's share of the log latency */
    int32_t n;                /* number of amounts */
    const int32_t *columns;   /* feature column of each amount */
    const uint8_t *logged;    /* 1 when the column holds log1p(amount) */
    const double *ms_per_unit; /* the device's cost of one unit of each amount */
    const dnncost_smoother *smoother; /* residual correction, or NULL */
} dnncost_cost_sum;

typedef struct {
    int32_t n_features;       /* F: features per row the caller passes */
    int32_t n_terms;
    const dnncost_term *terms;
    const dnncost_cost_sum *cost_sum; /* layer-cost term, or NULL */
    double bias_log_ms;
    const char *feature_set;  /* which feature function computes the rows */
    const char *const *feature_names;
} dnncost_model;

/* The model linked in from the generated data file. */
extern const dnncost_model dnncost_default_model;

/* Predict latency in ms for n rows of F features (row-major, features[n*F]) with the
 * linked-in model. Returns 0, or -1 on bad arguments (NULL pointers, n < 0). */
int dnncost_predict(const float *features, int n, float *out_ms);

/* The same with an explicit model. */
int dnncost_predict_with(const dnncost_model *model, const float *features, int n,
                         float *out_ms);

/* F of the linked-in model. */
int dnncost_num_features(void);

/* ---- from the layer table ------------------------------------------------------------
 * A network is its layer table in the lt-v1 encoding (dnncost/encoding.py, the input of
 * every exported .onnx): per layer, in execution order, 14 floats
 *   op (1 conv, 2 dwconv, 3 fc, 4 add, 5 mul, 6 relu, 7 relu6, 8 hswish, 9 sigmoid,
 *   10 pool, 11 concat, 12 other; 0 no layer), in_h, in_w, out_h, out_w, cin, cout,
 *   kernel, stride, padding, groups, activation fused into the layer (0 none, 1 relu,
 *   2 relu6, 3 hswish, 4 sigmoid, 5 other), macs, params.
 * The predictor computes the model's agg-v2 features from it, as dnncost does. */
#define DNNCOST_LAYER_COLUMNS 14
#define DNNCOST_AGG_FEATURES 36

/* The agg-v2 features (DNNCOST_AGG_FEATURES floats) of one network's n_rows layer rows.
 * Returns 0, or -1 on bad arguments or an unknown op code. */
int dnncost_layer_features(const float *rows, int n_rows, float *features);

/* Predict latency in ms of n_networks networks from their layer rows: rows[n_rows * 14],
 * network_index[n_rows] the network (0 .. n_networks - 1) of each row, a network's rows
 * together and in order; out_ms[network] is set for every network that has rows.
 * Returns 0, or -1 on bad arguments or a model not of agg-v2 features. */
int dnncost_predict_layers(const float *rows, const int64_t *network_index, int n_rows,
                           float *out_ms, int n_networks);

/* The same with an explicit model. */
int dnncost_predict_layers_with(const dnncost_model *model, const float *rows,
                                const int64_t *network_index, int n_rows, float *out_ms,
                                int n_networks);

#ifdef __cplusplus
}
#endif

#endif /* DNNCOST_H */
