package org.dnncost;

import java.io.BufferedReader;
import java.io.FileReader;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Predicted latency of neural networks from the dnncost model compiled into
 * libdnncost_jni.so (android_native/). Rows hold {@link #numFeatures()} features each,
 * in the order of the model's feature names.
 */
public final class CostModel {
    static {
        System.loadLibrary("dnncost_jni");
    }

    private CostModel() {}

    /** Features per row the model takes. */
    public static native int numFeatures();

    private static native int nativePredict(float[] features, int n, float[] outMs);

    /** Predicted latency in ms for each row of {@code features} (row-major, n * F). */
    public static float[] predictMs(float[] features) {
        int f = numFeatures();
        if (f <= 0 || features.length % f != 0) {
            throw new IllegalArgumentException(
                "features length " + features.length + " is not a multiple of " + f);
        }
        float[] out = new float[features.length / f];
        if (nativePredict(features, out.length, out) != 0) {
            throw new IllegalStateException("dnncost_predict failed");
        }
        return out;
    }

    private static native int nativePredictLayers(float[] layers, long[] networkIndex,
                                                  int nRows, float[] outMs, int nNetworks);

    /** Columns of a layer row (the lt-v1 encoding, see include/dnncost.h). */
    public static final int LAYER_COLUMNS = 14;

    /**
     * Predicted latency in ms of each network from its layer table: {@code layers} holds
     * 14 floats per layer (row-major), {@code networkIndex} each layer's network 0..N-1,
     * a network's layers together and in execution order.
     */
    public static float[] predictLayersMs(float[] layers, long[] networkIndex) {
        int nRows = networkIndex.length;
        if (layers.length != nRows * LAYER_COLUMNS) {
            throw new IllegalArgumentException("layers length " + layers.length + " is not "
                + LAYER_COLUMNS + " x " + nRows + " rows");
        }
        int nNetworks = nRows == 0 ? 0 : (int) networkIndex[nRows - 1] + 1;
        float[] out = new float[nNetworks];
        if (nativePredictLayers(layers, networkIndex, nRows, out, nNetworks) != 0) {
            throw new IllegalStateException("dnncost_predict_layers failed (bad rows, or a "
                + "model of other features)");
        }
        return out;
    }

    /**
     * Prints the predicted ms of each line of a features CSV, or with {@code --layers}
     * of each network of a layers CSV (network, then 14 numbers per line): a quick check.
     * A missing file or a bad line is one line on stderr and exit status 2.
     */
    public static void main(String[] args) {
        try {
            run(args);
        } catch (IOException | IllegalArgumentException | IllegalStateException e) {
            System.err.println("dnncost: error: " + e.getMessage());
            System.exit(2);
        }
    }

    private static void run(String[] args) throws IOException {
        if (args.length == 0) {
            throw new IllegalArgumentException("pass a features CSV, or --layers LAYERS_CSV");
        }
        boolean layers = args.length == 2 && args[0].equals("--layers");
        List<Float> values = new ArrayList<>();
        List<Long> index = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new FileReader(args[layers ? 1 : 0]))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) continue;
                String[] fields = line.split(",", -1);
                for (int i = 0; i < fields.length; i++) {
                    String text = fields[i].trim();
                    if (layers && i == 0) {
                        index.add(Long.parseLong(text));
                        continue;
                    }
                    boolean missing = text.isEmpty() || text.equalsIgnoreCase("nan");
                    values.add(missing ? Float.NaN : Float.parseFloat(text));
                }
            }
        }
        float[] numbers = new float[values.size()];
        for (int i = 0; i < numbers.length; i++) numbers[i] = values.get(i);
        long[] networkIndex = new long[index.size()];
        for (int i = 0; i < networkIndex.length; i++) networkIndex[i] = index.get(i);
        float[] predicted = layers ? predictLayersMs(numbers, networkIndex) : predictMs(numbers);
        for (float ms : predicted) System.out.println(ms);
    }
}
