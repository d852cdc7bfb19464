/* JNI bridge for org.dnncost.CostModel: predictions from Java/Kotlin apps. */
#include <jni.h>

#include "dnncost.h"

JNIEXPORT jint JNICALL Java_org_dnncost_CostModel_numFeatures(JNIEnv *env, jclass cls)
{
    (void)env;
    (void)cls;
    return (jint)dnncost_num_features();
}

JNIEXPORT jint JNICALL Java_org_dnncost_CostModel_nativePredict(
    JNIEnv *env, jclass cls, jfloatArray features, jint n, jfloatArray out_ms)
{
    (void)cls;
    jfloat *rows = (*env)->GetFloatArrayElements(env, features, NULL);
    jfloat *out = (*env)->GetFloatArrayElements(env, out_ms, NULL);
    int status = -1;
    if (rows != NULL && out != NULL) status = dnncost_predict(rows, (int)n, out);
    if (out != NULL) (*env)->ReleaseFloatArrayElements(env, out_ms, out, 0);
    if (rows != NULL) (*env)->ReleaseFloatArrayElements(env, features, rows, JNI_ABORT);
    return (jint)status;
}

JNIEXPORT jint JNICALL Java_org_dnncost_CostModel_nativePredictLayers(
    JNIEnv *env, jclass cls, jfloatArray layers, jlongArray network_index, jint n_rows,
    jfloatArray out_ms, jint n_networks)
{
    (void)cls;
    jfloat *rows = (*env)->GetFloatArrayElements(env, layers, NULL);
    jlong *index = (*env)->GetLongArrayElements(env, network_index, NULL);
    jfloat *out = (*env)->GetFloatArrayElements(env, out_ms, NULL);
    int status = -1;
    if (rows != NULL && index != NULL && out != NULL && sizeof(jlong) == sizeof(int64_t)) {
        status = dnncost_predict_layers(rows, (const int64_t *)index, (int)n_rows, out,
                                        (int)n_networks);
    }
    if (out != NULL) (*env)->ReleaseFloatArrayElements(env, out_ms, out, 0);
    if (index != NULL) (*env)->ReleaseLongArrayElements(env, network_index, index, JNI_ABORT);
    if (rows != NULL) (*env)->ReleaseFloatArrayElements(env, layers, rows, JNI_ABORT);
    return (jint)status;
}
