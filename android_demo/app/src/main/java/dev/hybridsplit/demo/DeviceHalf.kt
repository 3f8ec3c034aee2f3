package dev.hybridsplit.demo

import android.content.res.AssetManager
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import java.io.Closeable
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import java.security.MessageDigest
import java.util.Random
import kotlin.math.abs

/** The int8 features of one window and how long the device half took. */
class DeviceResult(val features: ByteArray, val deviceMs: Double)

/**
 * device.tflite (full int8: int8 input and output) in LiteRT's Interpreter, fed per the manifest:
 * normalise (x - mean[c]) / std[c], quantize q = round_half_even(n / scale) + zero_point, clip to int8.
 * All arithmetic is float32, as the Python reference (`hybridsplit.demos.samples.preprocess`) does.
 */
class DeviceHalf(assets: AssetManager, private val manifest: BundleManifest, threads: Int = 2) : Closeable {
    private val interpreter: Interpreter
    private val input: ByteBuffer = ByteBuffer.allocateDirect(manifest.inputNumel).order(ByteOrder.nativeOrder())
    private val output: ByteBuffer = ByteBuffer.allocateDirect(manifest.featureNumel).order(ByteOrder.nativeOrder())
    private val random = Random()

    init {
        val model = mapAsset(assets, Assets.MODEL)
        val digest = MessageDigest.getInstance("SHA-256").digest(model.duplicate().let { b -> ByteArray(b.remaining()).also { b.get(it) } })
        val hex = digest.joinToString("") { "%02x".format(it) }
        if (hex != manifest.modelSha256) {
            throw ManifestError("${Assets.MODEL} does not match the sha256 in manifest.json; copy both from one bundle (`make android-assets`)")
        }
        interpreter = Interpreter(model, Interpreter.Options().setNumThreads(threads))
        checkTensor("input", interpreter.getInputTensor(0).shape(), interpreter.getInputTensor(0).dataType(),
            interpreter.getInputTensor(0).quantizationParams().scale, interpreter.getInputTensor(0).quantizationParams().zeroPoint,
            manifest.inputShape, manifest.inputScale, manifest.inputZeroPoint)
        checkTensor("feature", interpreter.getOutputTensor(0).shape(), interpreter.getOutputTensor(0).dataType(),
            interpreter.getOutputTensor(0).quantizationParams().scale, interpreter.getOutputTensor(0).quantizationParams().zeroPoint,
            manifest.featureShape, manifest.featureScale, manifest.featureZeroPoint)
    }

    private fun checkTensor(what: String, shape: IntArray, type: DataType, scale: Float, zeroPoint: Int,
                            wantShape: IntArray, wantScale: Float, wantZero: Int) {
        if (!shape.contentEquals(wantShape) || type != DataType.INT8 ||
            abs(scale - wantScale) > 1e-6f * abs(wantScale) || zeroPoint != wantZero) {
            throw ManifestError("device.tflite's $what tensor is $type ${shape.toList()} (scale $scale, zero point $zeroPoint); " +
                "manifest.json says int8 ${wantShape.toList()} (scale $wantScale, zero point $wantZero)")
        }
    }

    /** Raw window (manifest layout, e.g. NCW flattened) -> the int8 tensor the model takes. */
    fun preprocess(raw: FloatArray): ByteArray {
        require(raw.size == manifest.inputNumel) { "window has ${raw.size} values; the model takes ${manifest.inputNumel}" }
        val shape = manifest.inputShape
        val axis = manifest.channelAxis
        var stride = 1
        for (d in axis + 1 until shape.size) stride *= shape[d]
        val channels = shape[axis]
        val out = ByteArray(raw.size)
        for (i in raw.indices) {
            val c = (i / stride) % channels
            val n: Float = (raw[i] - manifest.mean[c]) / manifest.std[c]
            val q = Math.rint((n / manifest.inputScale).toDouble()) + manifest.inputZeroPoint
            out[i] = q.coerceIn(-128.0, 127.0).toInt().toByte()
        }
        return out
    }

    /** Runs the device half; adds the manifest's feature noise (if any) in the dequantized domain. */
    fun run(quantized: ByteArray): DeviceResult {
        input.rewind()
        input.put(quantized)
        input.rewind()
        output.rewind()
        val t0 = System.nanoTime()
        interpreter.run(input, output)
        val deviceMs = (System.nanoTime() - t0) / 1e6
        output.rewind()
        val features = ByteArray(manifest.featureNumel)
        output.get(features)
        if (manifest.featureNoise > 0) {
            for (i in features.indices) {
                val f = (features[i] - manifest.featureZeroPoint) * manifest.featureScale +
                    (manifest.featureNoise * random.nextGaussian()).toFloat()
                val q = Math.rint((f / manifest.featureScale).toDouble()) + manifest.featureZeroPoint
                features[i] = q.coerceIn(-128.0, 127.0).toInt().toByte()
            }
        }
        return DeviceResult(features, deviceMs)
    }

    override fun close() = interpreter.close()

    companion object {
        /** Memory-maps an uncompressed asset (build.gradle.kts sets noCompress for .tflite). */
        fun mapAsset(assets: AssetManager, name: String): MappedByteBuffer {
            assets.openFd(name).use { fd ->
                FileInputStream(fd.fileDescriptor).use { stream ->
                    return stream.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                }
            }
        }
    }
}
