package dev.hybridsplit.demo

import java.util.Random

/**
 * Raw window (manifest layout, e.g. NCW flattened) -> the int8 tensor device.tflite takes:
 * normalise (x - mean[c]) / std[c], quantize q = round_half_even(n / scale) + zero_point, clip
 * to int8. All arithmetic is float32, as the Python reference
 * (`hybridsplit.demos.samples.preprocess`) does; the JVM tests compare the bytes.
 */
class InputQuantizer(private val manifest: BundleManifest) {
    private val stride: Int
    private val channels: Int = manifest.inputShape[manifest.channelAxis]

    init {
        var s = 1
        for (d in manifest.channelAxis + 1 until manifest.inputShape.size) s *= manifest.inputShape[d]
        stride = s
    }

    fun quantize(raw: FloatArray): ByteArray {
        require(raw.size == manifest.inputNumel) { "window has ${raw.size} values; the model takes ${manifest.inputNumel}" }
        val out = ByteArray(raw.size)
        for (i in raw.indices) {
            val c = (i / stride) % channels
            val n: Float = (raw[i] - manifest.mean[c]) / manifest.std[c]
            val q = Math.rint((n / manifest.inputScale).toDouble()) + manifest.inputZeroPoint
            out[i] = q.coerceIn(-128.0, 127.0).toInt().toByte()
        }
        return out
    }
}

/** The manifest's run-time feature noise (std in the dequantized domain), added in place; 0 = none. */
fun addFeatureNoise(features: ByteArray, manifest: BundleManifest, random: Random) {
    if (manifest.featureNoise <= 0) return
    for (i in features.indices) {
        val f = (features[i] - manifest.featureZeroPoint) * manifest.featureScale +
            (manifest.featureNoise * random.nextGaussian()).toFloat()
        val q = Math.rint((f / manifest.featureScale).toDouble()) + manifest.featureZeroPoint
        features[i] = q.coerceIn(-128.0, 127.0).toInt().toByte()
    }
}
