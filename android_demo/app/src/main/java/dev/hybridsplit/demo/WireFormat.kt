package dev.hybridsplit.demo

import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.security.MessageDigest

/**
 * The feature message of hybridsplit's wire format v1 (src/hybridsplit/serving/wire.py), little-endian:
 *
 *   0  4   magic "HSF1"        5  1  dtype code (1 = int8)   7  1  flags (0)
 *   4  1   version (1)         6  1  ndim                    8  32 bundle id = sha256(manifest.json bytes)
 *   40 4   scale (float32)     44 4  zero_point (int32)      48 4*ndim dims (uint32), then the payload
 */
object WireFormat {
    const val CONTENT_TYPE = "application/x-hybridsplit-features"
    private val MAGIC = "HSF1".toByteArray(Charsets.US_ASCII)
    private const val VERSION: Byte = 1
    private const val DTYPE_INT8: Byte = 1
    const val HEADER_BYTES = 48

    fun bundleId(manifestBytes: ByteArray): ByteArray = MessageDigest.getInstance("SHA-256").digest(manifestBytes)

    fun encodeInt8(features: ByteArray, shape: IntArray, bundleId: ByteArray, scale: Float, zeroPoint: Int): ByteArray {
        require(bundleId.size == 32) { "bundle id must be the 32-byte sha256 of manifest.json" }
        require(shape.size in 1..8) { "1..8 dims" }
        require(shape.fold(1) { a, b -> a * b } == features.size) { "features do not fill shape ${shape.toList()}" }
        val buf = ByteBuffer.allocate(HEADER_BYTES + 4 * shape.size + features.size).order(ByteOrder.LITTLE_ENDIAN)
        buf.put(MAGIC).put(VERSION).put(DTYPE_INT8).put(shape.size.toByte()).put(0.toByte())
        buf.put(bundleId).putFloat(scale).putInt(zeroPoint)
        for (d in shape) buf.putInt(d)
        buf.put(features)
        return buf.array()
    }
}
