package dev.hybridsplit.demo

import android.content.Context
import android.hardware.SensorManager
import android.os.Bundle
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicBoolean

/**
 * Loads device.tflite + manifest.json (+ samples.json) from assets, runs the device half on a
 * sample window or on live IMU, sends the int8 features (wire format v1, bearer token) to the
 * cloud half and shows the prediction with the on-device latency.
 *
 * Threads: the interpreter runs only on `device` (one SerialWorker thread), HTTP on `network`,
 * views on the UI thread. Live IMU runs between onResume and onPause only.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var manifest: BundleManifest
    private lateinit var bundleId: ByteArray
    private var device: SerialWorker<DeviceHalf>? = null
    private val network: ExecutorService = Executors.newSingleThreadExecutor()
    private var samples: SampleSet? = null
    private var nextSample = 0
    private var imu: ImuWindow? = null
    /** The user asked for live mode; onResume/onPause start and stop the sensors accordingly. */
    private var liveWanted = false
    /** A live window is being classified: newer windows are dropped rather than queued. */
    private val liveBusy = AtomicBoolean(false)

    private lateinit var serverUrl: EditText
    private lateinit var token: EditText
    private lateinit var prediction: TextView
    private lateinit var details: TextView
    private lateinit var liveButton: Button

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        serverUrl = findViewById(R.id.serverUrl)
        token = findViewById(R.id.token)
        prediction = findViewById(R.id.prediction)
        details = findViewById(R.id.details)
        liveButton = findViewById(R.id.live)
        val prefs = getSharedPreferences("demo", Context.MODE_PRIVATE)
        serverUrl.setText(prefs.getString("server", "http://10.0.2.2:8000"))  // 10.0.2.2 = the host, from the emulator
        token.setText(prefs.getString("token", ""))

        try {
            val manifestBytes = assets.open(Assets.MANIFEST).use { it.readBytes() }
            manifest = BundleManifest.parse(String(manifestBytes, Charsets.UTF_8))
            bundleId = WireFormat.bundleId(manifestBytes)
            device = SerialWorker("device-half", DeviceHalf(assets, manifest))
            samples = runCatching { assets.open(Assets.SAMPLES).use { SampleSet.parse(String(it.readBytes(), Charsets.UTF_8), manifest) } }
                .getOrNull()
        } catch (e: Exception) {
            prediction.text = "Bundle not usable"
            details.text = "${e.message}\n\nCopy a bundle into the app: make android-assets BUNDLE=bundles/default"
            findViewById<Button>(R.id.runSample).isEnabled = false
            liveButton.isEnabled = false
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
        val unsupported = ImuWindow.unsupportedReason(manifest)
        liveButton.isEnabled = unsupported == null
        if (unsupported != null) details.text = "Live IMU is off: $unsupported"
        liveButton.setOnClickListener { toggleLive() }
    }

    override fun onResume() {
        super.onResume()
        if (liveWanted) startLive()
    }

    override fun onPause() {
        stopLive()
        super.onPause()
    }

    private fun runNextSample() {
        val set = samples ?: return
        val w = set.windows[nextSample % set.windows.size]
        nextSample++
        classify(w.x, "sample #${w.index} (true: ${w.labelName})", null)
    }

    private fun toggleLive() {
        liveWanted = !liveWanted
        if (liveWanted) startLive() else stopLive()
        liveButton.setText(if (liveWanted) R.string.live_stop else R.string.live_start)
    }

    private fun startLive() {
        if (imu != null) return
        val sensors = getSystemService(Context.SENSOR_SERVICE) as SensorManager
        val stride = (manifest.sampleRateHz / 2).toInt().coerceAtLeast(1)  // a new window every 0.5 s
        val live = ImuWindow(sensors, manifest, stride) { window ->
            if (liveBusy.compareAndSet(false, true)) {
                runOnUiThread { classify(window, getString(R.string.live_note), liveBusy) }
            }
        }
        if (!live.start()) {
            liveWanted = false
            liveButton.setText(R.string.live_start)
            details.text = "This phone lacks an accelerometer or gyroscope."
            return
        }
        imu = live
    }

    private fun stopLive() {
        imu?.stop()
        imu = null
    }

    /** Device half on the interpreter thread, then HTTP on the network thread, then the views. */
    private fun classify(raw: FloatArray, source: String, busy: AtomicBoolean?) {
        val url = serverUrl.text.toString().trim()
        val bearer = token.text.toString().trim()
        getSharedPreferences("demo", Context.MODE_PRIVATE).edit().putString("server", url).putString("token", bearer).apply()
        val accepted = device?.submit { half ->
            val result = try {
                half.run(half.preprocess(raw))
            } catch (e: Exception) {  // an exception on this thread would kill the app
                runOnUiThread {
                    details.text = "$source\ndevice half: ${e.message}"
                    busy?.set(false)
                }
                return@submit
            }
            val message = WireFormat.encodeInt8(result.features, manifest.featureShape, bundleId,
                manifest.featureScale, manifest.featureZeroPoint)
            val header = "$source\non-device ${"%.2f".format(result.deviceMs)} ms, sent ${message.size} bytes " +
                "(${result.features.size} feature bytes vs ${4 * manifest.inputNumel} raw)"
            network.execute {
                val shown = try {
                    val answer = CloudClient(url, bearer).predict(message)
                    "${answer.label}  (${"%.0f".format(100 * answer.probability)} %)" to
                        "$header\ncloud ${"%.2f".format(answer.cloudMs)} ms, round trip ${"%.1f".format(answer.roundTripMs)} ms"
                } catch (e: Exception) {
                    "—" to "$header\ncloud: ${e.message}"
                }
                runOnUiThread {
                    prediction.text = shown.first
                    details.text = shown.second
                    busy?.set(false)
                }
            }
        } ?: false
        if (!accepted) busy?.set(false)
    }

    override fun onDestroy() {
        stopLive()
        device?.close()  // the interpreter is closed after the job in flight, on its own thread
        network.shutdown()
        super.onDestroy()
    }
}
