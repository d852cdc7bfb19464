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

    /** Prints the predicted ms of each line of a features CSV (a quick check). */
    public static void main(String[] args) throws IOException {
        List<Float> values = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new FileReader(args[0]))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) continue;
                for (String field : line.split(",", -1)) {
                    String text = field.trim();
                    boolean missing = text.isEmpty() || text.equalsIgnoreCase("nan");
                    values.add(missing ? Float.NaN : Float.parseFloat(text));
                }
            }
        }
        float[] features = new float[values.size()];
        for (int i = 0; i < features.length; i++) features[i] = values.get(i);
        for (float ms : predictMs(features)) System.out.println(ms);
    }
}
