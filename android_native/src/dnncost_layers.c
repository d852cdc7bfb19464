/* The agg-v2 features of a network's layer table, and predictions from layer tables.
 *
 * The same function as dnncost.learn.features.agg_features and the exported ONNX graph:
 * rows of the lt-v1 encoding (14 floats a layer, see include/dnncost.h), summed in
 * double (exact for integers below 2^53), log1p of the sums, cast to float. A fused
 * activation counts as one more activation row over the op's output. See
 * dnncost/encoding.py and learn/features.py for what each column and feature holds.
 */
#include "dnncost.h"

#include <math.h>
#include <string.h>

enum { COL_OP, COL_IN_H, COL_IN_W, COL_OUT_H, COL_OUT_W, COL_CIN, COL_COUT, COL_KERNEL,
       COL_STRIDE, COL_PADDING, COL_GROUPS, COL_ACT, COL_MACS, COL_PARAMS };
enum { OP_CONV = 1, OP_DWCONV = 2, OP_FC = 3, OP_RELU = 6, OP_SIGMOID = 9, OP_LAST = 12 };
enum { CLASS_CONV1X1, CLASS_CONVKXK, CLASS_DWCONV, CLASS_FC, CLASS_ADD, CLASS_MUL, CLASS_ACT,
       CLASS_POOL, N_CLASSES };
enum { HEAD = 12, PAD_CHANNELS = 4 };

/* The class of each op code (conv is split by its kernel below); 0 is no layer. */
static const int CLASS_OF_OP[OP_LAST + 1] = {
    CLASS_ACT, CLASS_CONV1X1, CLASS_DWCONV, CLASS_FC, CLASS_ADD, CLASS_MUL,
    CLASS_ACT, CLASS_ACT, CLASS_ACT, CLASS_ACT, CLASS_POOL, CLASS_ACT, CLASS_ACT};

/* x rounded up to a multiple of PAD_CHANNELS (learn/features.py PAD_CHANNELS). */
static double up(double x)
{
    return ceil(x / PAD_CHANNELS) * PAD_CHANNELS;
}

/* The MACs a layer's GEMM adds with depth and width rounded up to multiples of
 * PAD_CHANNELS (learn/features.py padding_macs). */
static double padding_macs(int op, const float *r)
{
    double hw = (double)r[COL_OUT_H] * (double)r[COL_OUT_W], k = r[COL_KERNEL];
    double cin = r[COL_CIN], cout = r[COL_COUT];
    if (op == OP_CONV) {
        double g = r[COL_GROUPS] > 1.0f ? (double)r[COL_GROUPS] : 1.0;
        double depth = k * k * cin / g, width = cout / g;
        return hw * g * (up(depth) * up(width) - depth * width);
    }
    if (op == OP_DWCONV) return hw * k * k * (up(cout) - cout);
    if (op == OP_FC) return up(cin) * up(cout) - cin * cout;
    return 0.0;
}

int dnncost_layer_features(const float *rows, int n_rows, float *features)
{
    if (rows == NULL || features == NULL || n_rows < 0) {
        return -1;
    }
    double per_class[N_CLASSES][3];
    double params = 0.0, stride2 = 0.0, dw_k3 = 0.0, dw_k5 = 0.0, lowres = 0.0, padding = 0.0;
    double max_channels = 0.0, pixels = 0.0;
    memset(per_class, 0, sizeof per_class);
    for (int i = 0; i < n_rows; ++i) {
        const float *r = rows + (size_t)i * DNNCOST_LAYER_COLUMNS;
        int op = (int)r[COL_OP];
        if (op < 0 || op > OP_LAST) {
            return -1;
        }
        if (i == 0) {
            pixels = (double)r[COL_IN_H] * (double)r[COL_IN_W];
        }
        if (op == 0) {
            continue;
        }
        double kernel = r[COL_KERNEL], out_h = r[COL_OUT_H], macs = r[COL_MACS];
        double out_el = out_h * (double)r[COL_OUT_W] * (double)r[COL_COUT];
        double in_el = (double)r[COL_IN_H] * (double)r[COL_IN_W] * (double)r[COL_CIN];
        int cls = op == OP_CONV && kernel > 1.0 ? CLASS_CONVKXK : CLASS_OF_OP[op];
        per_class[cls][0] += 1.0;
        per_class[cls][1] += macs;
        per_class[cls][2] += in_el + out_el;
        if (r[COL_ACT] > 0.0f && !(op >= OP_RELU && op <= OP_SIGMOID)) {
            per_class[CLASS_ACT][0] += 1.0;
            per_class[CLASS_ACT][1] += out_el;
            per_class[CLASS_ACT][2] += 2.0 * out_el;
        }
        params += r[COL_PARAMS];
        if ((op == OP_CONV || op == OP_DWCONV) && r[COL_STRIDE] >= 2.0f) stride2 += macs;
        if (op == OP_DWCONV) {
            if (kernel <= 3.0) dw_k3 += macs; else dw_k5 += macs;
        }
        if (op == OP_CONV && out_h != 0.0 && out_h <= 14.0) lowres += macs;
        padding += padding_macs(op, r);
        if (r[COL_COUT] > max_channels) max_channels = r[COL_COUT];
    }
    double count = 0.0, macs_total = 0.0, traffic = 0.0;
    for (int c = 0; c < N_CLASSES; ++c) {
        count += per_class[c][0];
        macs_total += per_class[c][1];
        traffic += per_class[c][2];
    }
    const double head[HEAD] = {
        log1p(macs_total), log1p(params), log1p(traffic), count, log1p(pixels),
        log1p(macs_total / (traffic > 1.0 ? traffic : 1.0)), log1p(stride2), log1p(dw_k3),
        log1p(dw_k5), log1p(max_channels), log1p(lowres), log1p(padding)};
    for (int f = 0; f < HEAD; ++f) {
        features[f] = (float)head[f];
    }
    for (int c = 0; c < N_CLASSES; ++c) {
        features[HEAD + 3 * c] = (float)per_class[c][0];
        features[HEAD + 3 * c + 1] = (float)log1p(per_class[c][1]);
        features[HEAD + 3 * c + 2] = (float)log1p(per_class[c][2]);
    }
    return 0;
}

int dnncost_predict_layers_with(const dnncost_model *model, const float *rows,
                                const int64_t *network_index, int n_rows, float *out_ms,
                                int n_networks)
{
    if (model == NULL || n_rows < 0 || n_networks < 0 ||
        (n_rows > 0 && (rows == NULL || network_index == NULL || out_ms == NULL)) ||
        model->n_features != DNNCOST_AGG_FEATURES ||
        strcmp(model->feature_set, "agg-v2") != 0) {
        return -1;
    }
    float features[DNNCOST_AGG_FEATURES];
    int start = 0;
    while (start < n_rows) {
        int64_t network = network_index[start];
        int end = start;
        while (end < n_rows && network_index[end] == network) ++end;
        if (network < 0 || network >= n_networks) {
            return -1;
        }
        if (dnncost_layer_features(rows + (size_t)start * DNNCOST_LAYER_COLUMNS, end - start,
                                   features) != 0 ||
            dnncost_predict_with(model, features, 1, out_ms + network) != 0) {
            return -1;
        }
        start = end;
    }
    return 0;
}

int dnncost_predict_layers(const float *rows, const int64_t *network_index, int n_rows,
                           float *out_ms, int n_networks)
{
    return dnncost_predict_layers_with(&dnncost_default_model, rows, network_index, n_rows,
                                       out_ms, n_networks);
}
