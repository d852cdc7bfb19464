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
