package dev.hybridsplit.demo

import org.json.JSONArray
import org.json.JSONObject

/** Names of the files the app reads from its assets (`make android-assets BUNDLE=...` copies them). */
object Assets {
    const val MODEL = "device.tflite"
    const val MANIFEST = "manifest.json"
    const val SAMPLES = "samples.json"
}

class ManifestError(message: String) : Exception(message)

/**
 * The part of the bundle's manifest.json the app needs; nothing about the model is hard-coded.
 *
 * Every value is read through the req* helpers with a '/'-separated path *literal* and the
 * name of the document it is read from (`manifest`, `samples` or `sample`). The static check
 * (`hybridsplit demo android-check`, run by tests/demos/test_android_static.py) finds these
 * calls and checks each path and its type against a freshly exported bundle, so keep the
 * paths as literals in these calls.
 */
class BundleManifest(
    val schemaVersion: Int,
    val backbone: String,
    val cut: String,
    val inputShape: IntArray,
    val inputLayout: String,
    val mean: FloatArray,
    val std: FloatArray,
    val channelAxis: Int,
    val inputScale: Float,
    val inputZeroPoint: Int,
    val channels: List<String>,
    val units: List<String>,
    val androidSensors: List<String>,
    val sampleRateHz: Double,
    val featureShape: IntArray,
    val featureDtype: String,
    val featureScale: Float,
    val featureZeroPoint: Int,
    val featureNoise: Double,
    val featureBytes: Int,
    val labels: List<String>,
    val modelSha256: String
) {
    companion object {
        const val SCHEMA_VERSION = 1

        fun parse(text: String): BundleManifest {
            val manifest = JSONObject(text)
            val version = reqInt(manifest, "schema_version")
            if (version != SCHEMA_VERSION) {
                throw ManifestError("manifest.json has schema_version $version; this app reads $SCHEMA_VERSION. Re-export the bundle.")
            }
            val m = BundleManifest(
                schemaVersion = version,
                backbone = reqString(manifest, "backbone"),
                cut = reqString(manifest, "cut"),
                inputShape = reqIntArray(manifest, "input/shape"),
                inputLayout = reqString(manifest, "input/layout"),
                mean = reqFloatArray(manifest, "input/normalisation/mean"),
                std = reqFloatArray(manifest, "input/normalisation/std"),
                channelAxis = reqInt(manifest, "input/normalisation/axis"),
                inputScale = reqDouble(manifest, "input/quantization/scale").toFloat(),
                inputZeroPoint = reqInt(manifest, "input/quantization/zero_point"),
                channels = reqStringArray(manifest, "input/channels"),
                units = optStringArray(manifest, "input/units"),
                androidSensors = optStringArray(manifest, "input/android_sensors"),
                sampleRateHz = optDouble(manifest, "input/sample_rate_hz", 0.0),
                featureShape = reqIntArray(manifest, "feature/shape"),
                featureDtype = reqString(manifest, "feature/dtype"),
                featureScale = reqDouble(manifest, "feature/scale").toFloat(),
                featureZeroPoint = reqInt(manifest, "feature/zero_point"),
                featureNoise = reqDouble(manifest, "feature/noise"),
                featureBytes = reqInt(manifest, "feature/bytes_per_inference"),
                labels = reqStringArray(manifest, "labels"),
                modelSha256 = reqString(manifest, "files/device.tflite/sha256")
            )
            if (m.featureDtype != "int8") {
                throw ManifestError("feature dtype is ${m.featureDtype}; this app sends the int8 features of the full-int8 device.tflite")
            }
            if (m.mean.size != m.inputShape[m.channelAxis] || m.std.size != m.inputShape[m.channelAxis]) {
                throw ManifestError("normalisation has ${m.mean.size} means for ${m.inputShape[m.channelAxis]} channels")
            }
            return m
        }
    }

    val inputNumel: Int get() = inputShape.fold(1) { a, b -> a * b }
    val featureNumel: Int get() = featureShape.fold(1) { a, b -> a * b }
}

// ---- path helpers: '/'-separated keys into a JSON document ----------------------------------

private fun node(root: JSONObject, path: String): Any {
    var cur: Any = root
    for (key in path.split('/')) {
        val obj = cur as? JSONObject ?: throw ManifestError("'$path': '$key' is not inside an object")
        if (!obj.has(key) || obj.isNull(key)) {
            throw ManifestError("the bundle lacks '$path'; re-export it and run `make android-assets`")
        }
        cur = obj.get(key)
    }
    return cur
}

private fun reqArray(root: JSONObject, path: String): JSONArray =
    node(root, path) as? JSONArray ?: throw ManifestError("'$path' is not a list")

fun reqInt(root: JSONObject, path: String): Int =
    (node(root, path) as? Number)?.toInt() ?: throw ManifestError("'$path' is not a number")

fun reqDouble(root: JSONObject, path: String): Double =
    (node(root, path) as? Number)?.toDouble() ?: throw ManifestError("'$path' is not a number")

/** An optional number (null or absent -> default); the static check still wants the key in the schema. */
fun optDouble(root: JSONObject, path: String, default: Double): Double =
    (runCatching { node(root, path) }.getOrNull() as? Number)?.toDouble() ?: default

fun reqString(root: JSONObject, path: String): String =
    node(root, path) as? String ?: throw ManifestError("'$path' is not a string")

fun reqIntArray(root: JSONObject, path: String): IntArray {
    val a = reqArray(root, path)
    return IntArray(a.length()) { a.getInt(it) }
}

/** Numbers are parsed as double and rounded once to float32, as numpy's float32 cast does. */
fun reqFloatArray(root: JSONObject, path: String): FloatArray {
    val a = reqArray(root, path)
    return FloatArray(a.length()) { a.getDouble(it).toFloat() }
}

fun reqStringArray(root: JSONObject, path: String): List<String> {
    val a = reqArray(root, path)
    return List(a.length()) { a.getString(it) }
}

/** An optional list of strings (absent -> empty): fields added to the schema after version 1. */
fun optStringArray(root: JSONObject, path: String): List<String> {
    if (runCatching { node(root, path) }.isFailure) return emptyList()
    val a = reqArray(root, path)
    return List(a.length()) { a.getString(it) }
}
