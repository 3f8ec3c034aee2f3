package dev.hybridsplit.demo

import android.content.Context
import android.hardware.SensorManager
import android.os.Bundle
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/**
 * Loads device.tflite + manifest.json (+ samples.json) from assets, runs the device half on a
 * sample window or on live IMU, sends the int8 features (wire format v1, bearer token) to the
 * cloud half and shows the prediction with the on-device latency.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var manifest: BundleManifest
    private lateinit var bundleId: ByteArray
    private lateinit var device: DeviceHalf
    private var samples: SampleSet? = null
    private var nextSample = 0
    private var imu: ImuWindow? = null

    private lateinit var serverUrl: EditText
    private lateinit var token: EditText
    private lateinit var prediction: TextView
    private lateinit var details: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        serverUrl = findViewById(R.id.serverUrl)
        token = findViewById(R.id.token)
        prediction = findViewById(R.id.prediction)
        details = findViewById(R.id.details)
        val prefs = getSharedPreferences("demo", Context.MODE_PRIVATE)
        serverUrl.setText(prefs.getString("server", "http://10.0.2.2:8000"))  // 10.0.2.2 = the host, from the emulator
        token.setText(prefs.getString("token", ""))

        try {
            val manifestBytes = assets.open(Assets.MANIFEST).use { it.readBytes() }
            manifest = BundleManifest.parse(String(manifestBytes, Charsets.UTF_8))
            bundleId = WireFormat.bundleId(manifestBytes)
            device = DeviceHalf(assets, manifest)
            samples = runCatching { assets.open(Assets.SAMPLES).use { SampleSet.parse(String(it.readBytes(), Charsets.UTF_8), manifest) } }
                .getOrNull()
        } catch (e: Exception) {
            prediction.text = "Bundle not usable"
            details.text = "${e.message}\n\nCopy a bundle into the app: make android-assets BUNDLE=bundles/default"
            findViewById<Button>(R.id.runSample).isEnabled = false
            findViewById<Button>(R.id.live).isEnabled = false
            return
        }
        findViewById<TextView>(R.id.bundleInfo).text =
            "${manifest.backbone} cut at ${manifest.cut}: input ${manifest.inputShape.toList()} ${manifest.inputLayout} -> " +
                "int8 features ${manifest.featureShape.toList()} (${manifest.featureBytes} bytes per inference)\n" +
                "bundle ${bundleId.joinToString("") { "%02x".format(it) }.take(16)}…, " +
                "${samples?.windows?.size ?: 0} sample windows"

        findViewById<Button>(R.id.runSample).apply {
            isEnabled = samples?.windows?.isNotEmpty() == true
            setOnClickListener { runNextSample() }
        }
        findViewById<Button>(R.id.live).apply {
            isEnabled = ImuWindow.supports(manifest)
            setOnClickListener { toggleLive(this) }
        }
    }

    private fun runNextSample() {
        val set = samples ?: return
        val w = set.windows[nextSample % set.windows.size]
        nextSample++
        classify(w.x, "sample #${w.index} (true: ${w.labelName})")
    }

    private fun toggleLive(button: Button) {
        imu?.let {
            it.stop()
            imu = null
            button.setText(R.string.live_start)
            return
        }
        val sensors = getSystemService(Context.SENSOR_SERVICE) as SensorManager
        val stride = (manifest.sampleRateHz / 2).toInt().coerceAtLeast(1)  // a new window every 0.5 s
        val live = ImuWindow(sensors, manifest, stride) { window -> runOnUiThread { classify(window, "live IMU") } }
        if (!live.start()) {
            details.text = "This phone lacks an accelerometer or gyroscope."
            return
        }
        imu = live
        button.setText(R.string.live_stop)
    }

    private fun classify(raw: FloatArray, source: String) {
        val url = serverUrl.text.toString().trim()
        val bearer = token.text.toString().trim()
        getSharedPreferences("demo", Context.MODE_PRIVATE).edit().putString("server", url).putString("token", bearer).apply()
        lifecycleScope.launch {
            val result = withContext(Dispatchers.Default) { device.run(device.preprocess(raw)) }
            val message = WireFormat.encodeInt8(result.features, manifest.featureShape, bundleId,
                manifest.featureScale, manifest.featureZeroPoint)
            val header = "$source\non-device ${"%.2f".format(result.deviceMs)} ms, sent ${message.size} bytes " +
                "(${result.features.size} feature bytes vs ${4 * manifest.inputNumel} raw)"
            try {
                val answer = withContext(Dispatchers.IO) { CloudClient(url, bearer).predict(message) }
                prediction.text = "${answer.label}  (${"%.0f".format(100 * answer.probability)} %)"
                details.text = "$header\ncloud ${"%.2f".format(answer.cloudMs)} ms, round trip ${"%.1f".format(answer.roundTripMs)} ms"
            } catch (e: Exception) {
                prediction.text = "—"
                details.text = "$header\ncloud: ${e.message}"
            }
        }
    }

    override fun onDestroy() {
        imu?.stop()
        if (::device.isInitialized) device.close()
        super.onDestroy()
    }
}
