package dev.hybridsplit.demo

import android.hardware.Sensor
import android.hardware.SensorEvent
import android.hardware.SensorEventListener
import android.hardware.SensorManager
import android.os.Handler
import android.os.HandlerThread

/**
 * Live phone IMU -> windows in the manifest's layout (NCW: channels x time).
 *
 * Channels come from the manifest (`input/channels`, e.g. ax ay az wx wy wz): a* from the
 * accelerometer in g (the watch data's unit; Android reports m/s^2), w* from the gyroscope in
 * rad/s. The two sensors tick at their own rates, so a timer samples their latest values at
 * the manifest's `sample_rate_hz` and a window of inputShape[2] samples is emitted every
 * `strideSamples` ticks.
 */
class ImuWindow(
    private val sensors: SensorManager,
    private val manifest: BundleManifest,
    private val strideSamples: Int,
    private val onWindow: (FloatArray) -> Unit,
) : SensorEventListener {
    private class Source(val sensorType: Int, val axis: Int, val scale: Float)

    private val sources: List<Source> = manifest.channels.map { sourceOf(it) }
    private val latest = mapOf(
        Sensor.TYPE_ACCELEROMETER to FloatArray(3),
        Sensor.TYPE_GYROSCOPE to FloatArray(3),
    )
    private val steps = manifest.inputShape[2]
    private val ring = Array(sources.size) { FloatArray(steps) }
    private var filled = 0
    private var sinceLast = 0
    private var thread: HandlerThread? = null
    private var handler: Handler? = null
    private val periodMs = (1000.0 / manifest.sampleRateHz).toLong().coerceAtLeast(1)

    companion object {
        private const val G = 9.80665f

        /** Whether live mode can feed this model (an NCW model whose channels are all a*/w* axes). */
        fun supports(manifest: BundleManifest): Boolean =
            manifest.inputLayout == "NCW" && manifest.sampleRateHz > 0 && manifest.channels.size == manifest.inputShape[1] &&
                manifest.channels.all { it.length == 2 && it[0] in "aw" && it[1] in "xyz" }

        private fun sourceOf(name: String): Source {
            val axis = "xyz".indexOf(name[1])
            return if (name[0] == 'a') Source(Sensor.TYPE_ACCELEROMETER, axis, 1f / G)
            else Source(Sensor.TYPE_GYROSCOPE, axis, 1f)
        }
    }

    fun start(): Boolean {
        val acc = sensors.getDefaultSensor(Sensor.TYPE_ACCELEROMETER) ?: return false
        val gyro = sensors.getDefaultSensor(Sensor.TYPE_GYROSCOPE) ?: return false
        val t = HandlerThread("imu").also { it.start() }
        val h = Handler(t.looper)
        thread = t
        handler = h
        val periodUs = (1_000_000.0 / manifest.sampleRateHz).toInt()
        sensors.registerListener(this, acc, periodUs, h)
        sensors.registerListener(this, gyro, periodUs, h)
        filled = 0
        sinceLast = 0
        h.postDelayed(tick, periodMs)
        return true
    }

    fun stop() {
        sensors.unregisterListener(this)
        handler?.removeCallbacksAndMessages(null)
        thread?.quitSafely()
        thread = null
        handler = null
    }

    private val tick: Runnable = object : Runnable {
        override fun run() {
            for ((c, s) in sources.withIndex()) {
                val row = ring[c]
                System.arraycopy(row, 1, row, 0, steps - 1)
                row[steps - 1] = latest.getValue(s.sensorType)[s.axis] * s.scale
            }
            if (filled < steps) filled++
            sinceLast++
            if (filled == steps && sinceLast >= strideSamples) {
                sinceLast = 0
                val window = FloatArray(sources.size * steps)
                for (c in sources.indices) System.arraycopy(ring[c], 0, window, c * steps, steps)
                onWindow(window)
            }
            handler?.postDelayed(this, periodMs)
        }
    }

    override fun onSensorChanged(event: SensorEvent) {
        latest[event.sensor.type]?.let { dst -> System.arraycopy(event.values, 0, dst, 0, 3) }
    }

    override fun onAccuracyChanged(sensor: Sensor?, accuracy: Int) = Unit
}
