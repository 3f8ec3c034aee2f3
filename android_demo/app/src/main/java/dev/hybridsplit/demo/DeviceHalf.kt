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
 * device.tflite (full int8: int8 input and output) in LiteRT's Interpreter, fed per the manifest
 * (InputQuantizer in Preprocess.kt does the normalisation and quantization).
 */
class DeviceHalf(assets: AssetManager, private val manifest: BundleManifest, threads: Int = 2) : Closeable {
    private val interpreter: Interpreter
    private val input: ByteBuffer = ByteBuffer.allocateDirect(manifest.inputNumel).order(ByteOrder.nativeOrder())
    private val output: ByteBuffer = ByteBuffer.allocateDirect(manifest.featureNumel).order(ByteOrder.nativeOrder())
    private val random = Random()
    private val quantizer = InputQuantizer(manifest)

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
    fun preprocess(raw: FloatArray): ByteArray = quantizer.quantize(raw)

    /**
     * Runs the device half; adds the manifest's feature noise (if any) in the dequantized domain.
     * Not thread-safe (LiteRT's Interpreter is not): MainActivity calls it only on its SerialWorker.
     */
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
        addFeatureNoise(features, manifest, random)
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
