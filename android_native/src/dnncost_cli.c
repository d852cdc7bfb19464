/* dnncost_cli: predicted latency from layer tables or feature rows, one ms value a line.
 *
 *   adb push dnncost_cli layers.csv /data/local/tmp/
 *   adb shell /data/local/tmp/dnncost_cli --layers /data/local/tmp/layers.csv
 *
 * --layers: each line is one layer, `network,` then its 14 lt-v1 numbers (see
 * include/dnncost.h); a network's layers on consecutive lines, networks numbered 0, 1,
 * ...; prints one ms per network, in order. Without --layers, each line is a row of
 * features:
 *
 * Each line holds the model's F features, comma-separated, in the order of the
 * model's feature names (`dnncost_cli --info` lists them); an empty field or "nan" is
 * missing (the trees take their default branch; a layer-cost term counts it as 0, so
 * give such models complete rows). A first line that does not start with a number is
 * a header and skipped.
 */
#include "dnncost.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_CHARS 65536

static int parse_row(char *line, float *row, int n_features)
{
    int count = 0;
    char *cursor = line;
    for (;;) {
        char *end = cursor;
        while (*end == ' ' || *end == '\t') ++end;
        if (*end == ',' || *end == '\0' || *end == '\n' || *end == '\r') {
            if (count < n_features) row[count] = NAN;
            ++count;
        } else {
            errno = 0;
            float value = strtof(end, &end);
            if (errno != 0 && value != 0.0f && !isinf(value)) return -1;
            while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') ++end;
            if (*end != ',' && *end != '\0') return -1;
            if (count < n_features) row[count] = value;
            ++count;
        }
        while (*end != ',' && *end != '\0') ++end;
        if (*end != ',') break;
        cursor = end + 1;
    }
    return count;
}

static int print_info(void)
{
    const dnncost_model *model = &dnncost_default_model;
    printf("feature_set %s\nn_features %d\nn_terms %d\n", model->feature_set,
           (int)model->n_features, (int)model->n_terms);
    for (int32_t i = 0; i < model->n_features; ++i) {
        printf("feature %d %s\n", (int)i, model->feature_names[i]);
    }
    return 0;
}

/* --layers: read every layer line (network, then 14 numbers), predict each network. */
static int predict_layer_file(FILE *in, const char *name)
{
    size_t capacity = 256, n_rows = 0;
    float *rows = malloc(capacity * DNNCOST_LAYER_COLUMNS * sizeof(float));
    int64_t *index = malloc(capacity * sizeof(int64_t));
    float fields[1 + DNNCOST_LAYER_COLUMNS];
    static char line[LINE_MAX_CHARS];
    long line_no = 0;
    int status = 0;
    while (rows != NULL && index != NULL && fgets(line, sizeof line, in) != NULL) {
        ++line_no;
        if (line[0] == '\n' || line[0] == '\r' || line[0] == '\0') continue;
        int count = parse_row(line, fields, 1 + DNNCOST_LAYER_COLUMNS);
        if (count < 0 && line_no == 1) continue; /* header */
        if (count != 1 + DNNCOST_LAYER_COLUMNS || isnan(fields[0]) || fields[0] < 0 ||
            (n_rows > 0 && (int64_t)fields[0] < index[n_rows - 1])) {
            fprintf(stderr, "dnncost_cli: %s:%ld: expected a network number (not below the "
                    "previous line's) and %d layer numbers\n", name, line_no,
                    DNNCOST_LAYER_COLUMNS);
            status = 2;
            break;
        }
        if (n_rows == capacity) {
            capacity *= 2;
            float *grown_rows = realloc(rows, capacity * DNNCOST_LAYER_COLUMNS * sizeof(float));
            int64_t *grown_index = realloc(index, capacity * sizeof(int64_t));
            if (grown_rows != NULL) rows = grown_rows;
            if (grown_index != NULL) index = grown_index;
            if (grown_rows == NULL || grown_index == NULL) break;
        }
        index[n_rows] = (int64_t)fields[0];
        memcpy(rows + n_rows * DNNCOST_LAYER_COLUMNS, fields + 1,
               DNNCOST_LAYER_COLUMNS * sizeof(float));
        ++n_rows;
    }
    int n_networks = n_rows ? (int)index[n_rows - 1] + 1 : 0;
    float *out = malloc(sizeof(float) * (size_t)(n_networks > 0 ? n_networks : 1));
    if (rows == NULL || index == NULL || out == NULL) {
        fprintf(stderr, "dnncost_cli: out of memory\n");
        status = 2;
    } else if (status == 0) {
        if (dnncost_predict_layers(rows, index, (int)n_rows, out, n_networks) != 0) {
            fprintf(stderr, "dnncost_cli: %s: not layer rows of an agg-v2 model (unknown op "
                    "code, or a model of other features)\n", name);
            status = 2;
        } else {
            for (int i = 0; i < n_networks; ++i) printf("%.9g\n", out[i]);
        }
    }
    free(rows);
    free(index);
    free(out);
    return status;
}

int main(int argc, char **argv)
{
    int layers = argc == 3 && strcmp(argv[1], "--layers") == 0;
    if ((argc != 2 && !layers) || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s --layers LAYERS.csv|-  |  FEATURES.csv|-  |  --info\n",
                argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "--info") == 0) return print_info();
    const char *path = argv[layers ? 2 : 1];
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "dnncost_cli: cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    if (layers) {
        int status = predict_layer_file(in, path);
        if (in != stdin) fclose(in);
        return status;
    }
    int n_features = dnncost_num_features();
    float *row = malloc(sizeof(float) * (size_t)(n_features > 0 ? n_features : 1));
    static char line[LINE_MAX_CHARS];
    long line_no = 0;
    int status = 0;
    while (row != NULL && fgets(line, sizeof line, in) != NULL) {
        ++line_no;
        if (line[0] == '\n' || line[0] == '\r' || line[0] == '\0') continue;
        int count = parse_row(line, row, n_features);
        if (count < 0 && line_no == 1) continue; /* header */
        if (count != n_features) {
            fprintf(stderr, "dnncost_cli: %s:%ld: expected %d numbers, got %s%d; write "
                    "one row of model features per line\n", argv[1], line_no, n_features,
                    count < 0 ? "non-numbers, " : "", count < 0 ? 0 : count);
            status = 2;
            break;
        }
        float ms;
        dnncost_predict(row, 1, &ms);
        printf("%.9g\n", ms);
    }
    if (row == NULL) {
        fprintf(stderr, "dnncost_cli: out of memory\n");
        status = 2;
    }
    free(row);
    if (in != stdin) fclose(in);
    return status;
}
