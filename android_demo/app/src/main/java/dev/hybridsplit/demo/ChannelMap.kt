package dev.hybridsplit.demo

/**
 * Phone sensors -> the model's channels, as the manifest says (`input/android_sensors`,
 * `input/units`, recorded at export from the dataset).
 *
 * Android's sensor frame: x to the right of the screen, y up the screen, z out of the screen;
 * the accelerometer reads +9.81 m/s^2 on the axis pointing up at rest, the gyroscope rad/s,
 * counter-clockwise positive. Each channel names the Android axis that measures it and the
 * sign that turns Android's convention into the recording device's, e.g. `-accelerometer.z`
 * for the watch data (Core Motion reads -1 g upward at rest), and its unit says how to scale.
 */
class ChannelSource(val sensor: Int, val axis: Int, val factor: Float)

class ChannelMap(val sources: List<ChannelSource>) {
    companion object {
        /** android.hardware.Sensor.TYPE_ACCELEROMETER and TYPE_GYROSCOPE (the same constants). */
        const val ACCELEROMETER = 1
        const val GYROSCOPE = 4
        /** SensorManager.STANDARD_GRAVITY, m/s^2 per g. */
        const val STANDARD_GRAVITY = 9.80665f

        /** The map for this manifest, or a ManifestError saying why live sensors cannot feed it. */
        fun fromManifest(manifest: BundleManifest): ChannelMap {
            val n = manifest.channels.size
            if (manifest.androidSensors.size != n || manifest.units.size != n) {
                throw ManifestError("the bundle does not say which phone sensor feeds each of its $n channels " +
                    "(input.android_sensors / input.units); live mode needs a bundle exported from IMU data")
            }
            return ChannelMap(List(n) { source(manifest.androidSensors[it], manifest.units[it]) })
        }

        private fun source(spec: String, unit: String): ChannelSource {
            val m = Regex("""([+-])(accelerometer|gyroscope)\.([xyz])""").matchEntire(spec)
                ?: throw ManifestError("input.android_sensors entry '$spec' is not [+-](accelerometer|gyroscope).(x|y|z)")
            val sign = if (m.groupValues[1] == "-") -1f else 1f
            val accel = m.groupValues[2] == "accelerometer"
            val scale = when {
                accel && unit == "g" -> 1f / STANDARD_GRAVITY
                accel && unit == "m/s^2" -> 1f
                !accel && unit == "rad/s" -> 1f
                !accel && unit == "deg/s" -> (180.0 / Math.PI).toFloat()
                else -> throw ManifestError("channel unit '$unit' cannot be read from the ${m.groupValues[2]}")
            }
            return ChannelSource(if (accel) ACCELEROMETER else GYROSCOPE, "xyz".indexOf(m.groupValues[3]), sign * scale)
        }
    }

    /** One sample of every channel from the latest Android readings (m/s^2 and rad/s). */
    fun sample(accelerometer: FloatArray, gyroscope: FloatArray, out: FloatArray) {
        for ((c, s) in sources.withIndex()) {
            out[c] = (if (s.sensor == ACCELEROMETER) accelerometer else gyroscope)[s.axis] * s.factor
        }
    }
}
