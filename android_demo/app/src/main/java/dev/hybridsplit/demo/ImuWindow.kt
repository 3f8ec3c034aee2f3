package dev.hybridsplit.demo

import android.hardware.Sensor
import android.hardware.SensorEvent
import android.hardware.SensorEventListener
import android.hardware.SensorManager
import android.os.Handler
import android.os.HandlerThread
import android.os.SystemClock

/**
 * Live phone IMU -> windows in the manifest's layout (NCW: channels x time).
 *
 * Which sensor axis feeds which channel, with which sign and unit, comes from the manifest
 * (ChannelMap). The two sensors tick at their own rates, so a fixed-rate timer (FixedRateClock:
 * tick k at start + k / sample_rate_hz, no drift) samples their latest values, and a window of
 * inputShape[2] samples is emitted every `strideSamples` ticks. MainActivity starts it in
 * onResume and stops it in onPause: Android stops sensor events to apps in the background, and
 * windows of frozen values must not be sent.
 */
class ImuWindow(
    private val sensors: SensorManager,
    private val manifest: BundleManifest,
    strideSamples: Int,
    private val onWindow: (FloatArray) -> Unit
) : SensorEventListener {
    private val map = ChannelMap.fromManifest(manifest)
    private val assembler = WindowAssembler(map.sources.size, manifest.inputShape[2], strideSamples)
    private val accel = FloatArray(3)
    private val gyro = FloatArray(3)
    private val sample = FloatArray(map.sources.size)
    private var thread: HandlerThread? = null
    // set on the UI thread, read by the tick on the sensor thread
    @Volatile private var handler: Handler? = null
    @Volatile private var clock: FixedRateClock? = null
    private var tickIndex = 0L

    companion object {
        /** Why live mode cannot feed this model, or null if it can (an NCW model with a sensor map). */
        fun unsupportedReason(manifest: BundleManifest): String? = when {
            manifest.inputLayout != "NCW" -> "the model's input is ${manifest.inputLayout}, not an NCW sensor window"
            manifest.sampleRateHz <= 0 -> "the bundle records no sample rate"
            manifest.channels.size != manifest.inputShape[1] -> "the bundle names ${manifest.channels.size} channels for ${manifest.inputShape[1]}"
            else -> runCatching { ChannelMap.fromManifest(manifest) }.exceptionOrNull()?.message
        }
    }

    /** Registers the listeners and starts the timer; false if the phone lacks a sensor. */
    fun start(): Boolean {
        if (thread != null) return true
        val acc = sensors.getDefaultSensor(Sensor.TYPE_ACCELEROMETER) ?: return false
        val gyr = sensors.getDefaultSensor(Sensor.TYPE_GYROSCOPE) ?: return false
        val t = HandlerThread("imu")
        t.start()
        val h = Handler(t.looper)
        thread = t
        handler = h
        val periodUs = (1_000_000.0 / manifest.sampleRateHz).toInt()
        sensors.registerListener(this, acc, periodUs, h)
        sensors.registerListener(this, gyr, periodUs, h)
        assembler.reset()
        tickIndex = 1
        val c = FixedRateClock(SystemClock.uptimeMillis(), manifest.sampleRateHz)
        clock = c
        h.postAtTime(tick, c.dueMs(tickIndex))
        return true
    }

    fun stop() {
        sensors.unregisterListener(this)
        handler?.removeCallbacksAndMessages(null)
        thread?.quitSafely()
        thread = null
        handler = null
        clock = null
    }

    private val tick: Runnable = object : Runnable {
        override fun run() {
            val h = handler ?: return
            val c = clock ?: return
            map.sample(accel, gyro, sample)
            assembler.push(sample)?.let(onWindow)
            tickIndex++
            h.postAtTime(this, c.dueMs(tickIndex))
        }
    }

    override fun onSensorChanged(event: SensorEvent) {
        val dst = when (event.sensor.type) {
            Sensor.TYPE_ACCELEROMETER -> accel
            Sensor.TYPE_GYROSCOPE -> gyro
            else -> return
        }
        System.arraycopy(event.values, 0, dst, 0, 3)
    }

    override fun onAccuracyChanged(sensor: Sensor?, accuracy: Int) = Unit
}
