/* dnncost_cli: predicted latency for each row of a features CSV, one ms value a line.
 *
 *   adb push dnncost_cli features.csv /data/local/tmp/
 *   adb shell /data/local/tmp/dnncost_cli /data/local/tmp/features.csv
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

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s FEATURES.csv|-|--info\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "--info") == 0) return print_info();
    FILE *in = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
    if (in == NULL) {
        fprintf(stderr, "dnncost_cli: cannot open %s: %s\n", argv[1], strerror(errno));
        return 2;
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
