package dev.hybridsplit.demo

import org.json.JSONArray
import org.json.JSONObject
import java.io.Closeable
import java.io.File
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicInteger
import kotlin.system.exitProcess

/**
 * JVM driver for the app's pure Kotlin parts (tests/demos/test_android_jvm.py runs it on a freshly
 * exported bundle and compares every output with the Python client):
 *
 *   check <in dir> <out dir>   in: manifest.json, samples.json, features.bin (the device half's
 *                              int8 output per sample, from LiteRT in Python); out: parsed.json,
 *                              input.bin (quantized windows), wire.bin (messages), live.json, units.json
 *   manifest <manifest.json>   parse only: exit 0, or the app's error message and exit 2
 */
fun main(args: Array<String>) {
    try {
        when (args.getOrNull(0)) {
            "check" -> check(File(args[1]), File(args[2]))
            "manifest" -> println(BundleManifest.parse(File(args[1]).readText()).labels.size)
            else -> throw IllegalArgumentException("usage: check <in> <out> | manifest <file>")
        }
    } catch (e: ManifestError) {
        System.err.println("ManifestError: ${e.message}")
        exitProcess(2)
    }
}

private fun check(inDir: File, outDir: File) {
    outDir.mkdirs()
    val manifestBytes = File(inDir, "manifest.json").readBytes()
    val manifest = BundleManifest.parse(String(manifestBytes, Charsets.UTF_8))
    val samples = SampleSet.parse(File(inDir, "samples.json").readText(), manifest)
    val bundleId = WireFormat.bundleId(manifestBytes)
    val quantizer = InputQuantizer(manifest)
    val features = File(inDir, "features.bin").readBytes()
    val n = manifest.featureNumel
    require(features.size == n * samples.windows.size) { "features.bin holds ${features.size} bytes" }

    File(outDir, "input.bin").outputStream().use { out ->
        for (w in samples.windows) out.write(quantizer.quantize(w.x))
    }
    File(outDir, "wire.bin").outputStream().use { out ->
        for (i in samples.windows.indices) {
            val f = features.copyOfRange(i * n, (i + 1) * n)
            out.write(WireFormat.encodeInt8(f, manifest.featureShape, bundleId, manifest.featureScale, manifest.featureZeroPoint))
        }
    }
    File(outDir, "parsed.json").writeText(parsedJson(manifest, samples).toString(1))
    File(outDir, "live.json").writeText(liveJson(manifest).toString(1))
    File(outDir, "units.json").writeText(unitsJson().toString(1))
    File(outDir, "serial_worker.json").writeText(serialWorkerJson().toString(1))
}

private fun floats(a: FloatArray) = JSONArray().also { j -> a.forEach { j.put(it.toDouble()) } }
private fun ints(a: IntArray) = JSONArray().also { j -> a.forEach { j.put(it) } }
private fun strings(a: List<String>) = JSONArray().also { j -> a.forEach { j.put(it) } }

private fun parsedJson(m: BundleManifest, s: SampleSet) = JSONObject()
    .put("backbone", m.backbone).put("cut", m.cut)
    .put("input_shape", ints(m.inputShape)).put("layout", m.inputLayout)
    .put("mean", floats(m.mean)).put("std", floats(m.std)).put("axis", m.channelAxis)
    .put("input_scale", m.inputScale.toDouble()).put("input_zero_point", m.inputZeroPoint)
    .put("channels", strings(m.channels)).put("units", strings(m.units))
    .put("android_sensors", strings(m.androidSensors)).put("sample_rate_hz", m.sampleRateHz)
    .put("feature_shape", ints(m.featureShape)).put("feature_scale", m.featureScale.toDouble())
    .put("feature_zero_point", m.featureZeroPoint).put("feature_bytes", m.featureBytes)
    .put("labels", strings(m.labels)).put("model_sha256", m.modelSha256)
    .put("samples_bundle_id", s.bundleId)
    .put("sample_index", ints(s.windows.map { it.index }.toIntArray()))
    .put("sample_label", ints(s.windows.map { it.label }.toIntArray()))
    .put("sample_label_name", strings(s.windows.map { it.labelName }))
    .put("sample_x0", floats(s.windows[0].x))
    .put("live_unsupported", ImuWindow.unsupportedReason(m) ?: JSONObject.NULL)

/** The channels the app computes for phone poses whose Android readings the SDK documents. */
private fun liveJson(m: BundleManifest): JSONObject {
    val out = JSONObject()
    val map = try {
        ChannelMap.fromManifest(m)
    } catch (e: ManifestError) {
        return out.put("channel_map_error", e.message)
    }
    val g = ChannelMap.STANDARD_GRAVITY
    val poses = linkedMapOf(
        "flat_face_up" to floatArrayOf(0f, 0f, g),
        "upright_portrait" to floatArrayOf(0f, g, 0f),
        "left_edge_down" to floatArrayOf(g, 0f, 0f)
    )
    val channels = map.sources.size
    val sample = FloatArray(channels)
    for ((name, accel) in poses) {
        map.sample(accel, floatArrayOf(0f, 0f, 0f), sample)
        out.put(name, floats(sample))
    }
    map.sample(floatArrayOf(0f, 0f, 0f), floatArrayOf(0.5f, -1f, 2f), sample)
    out.put("gyro_0.5_-1_2", floats(sample))

    // Windows from a fixed-rate tick: sample t carries t + c/10 in channel c.
    val steps = m.inputShape[2]
    val stride = (m.sampleRateHz / 2).toInt()
    val assembler = WindowAssembler(channels, steps, stride)
    val emitted = JSONArray()
    var last: FloatArray? = null
    for (t in 0 until steps + 2 * stride) {
        val w = assembler.push(FloatArray(channels) { c -> t + c / 10f })
        if (w != null) {
            emitted.put(t)
            last = w
        }
    }
    out.put("windows_at_ticks", emitted).put("stride", stride).put("last_window", floats(last!!))
    val clock = FixedRateClock(1000L, m.sampleRateHz)
    out.put("due_ms", JSONArray(listOf(0L, 1L, 2L, 3L, 1_000_000L, 180_000L * m.sampleRateHz.toLong()).map { clock.dueMs(it) }))
    out.put("due_ms_30hz", JSONArray(listOf(1L, 2L, 3L, 30L, 3_000_000L).map { FixedRateClock(0L, 30.0).dueMs(it) }))
    return out
}

/** Four threads submit jobs at once; records overlap, order and when/where the resource closed. */
private fun serialWorkerJson(): JSONObject {
    val active = AtomicInteger()
    val maxActive = AtomicInteger()
    val done = AtomicInteger()
    val threads = java.util.Collections.synchronizedSet(HashSet<String>())
    val closedAfter = AtomicInteger(-1)
    val closeThread = arrayOfNulls<String>(1)
    val resource = Closeable {
        closedAfter.set(done.get())
        closeThread[0] = Thread.currentThread().name
    }
    val worker = SerialWorker("interpreter", resource)
    val go = CountDownLatch(1)
    val submitters = List(4) {
        Thread {
            go.await()
            repeat(25) {
                worker.submit {
                    val now = active.incrementAndGet()
                    maxActive.accumulateAndGet(now) { a, b -> maxOf(a, b) }
                    threads.add(Thread.currentThread().name)
                    Thread.sleep(1)
                    done.incrementAndGet()
                    active.decrementAndGet()
                }
            }
        }.also { t -> t.start() }
    }
    go.countDown()
    submitters.forEach { it.join() }
    worker.close()
    val acceptedAfterClose = worker.submit { }
    val terminated = worker.awaitClosed(30_000)
    return JSONObject().put("jobs_done", done.get()).put("max_concurrent", maxActive.get())
        .put("job_threads", JSONArray(threads.toList())).put("closed_after_jobs", closedAfter.get())
        .put("close_thread", closeThread[0]).put("accepted_after_close", acceptedAfterClose)
        .put("terminated", terminated)
}

/** What each supported unit turns 1 Android unit into (m/s^2 -> g, rad/s -> deg/s, ...). */
private fun unitsJson(): JSONObject {
    val out = JSONObject()
    for ((spec, unit) in listOf("+accelerometer.x" to "g", "+accelerometer.x" to "m/s^2",
                                "+gyroscope.x" to "rad/s", "+gyroscope.x" to "deg/s")) {
        val m = manifestWith(listOf(spec), listOf(unit))
        val s = FloatArray(1)
        ChannelMap.fromManifest(m).sample(floatArrayOf(1f, 0f, 0f), floatArrayOf(1f, 0f, 0f), s)
        out.put("$spec $unit", s[0].toDouble())
    }
    for ((spec, unit) in listOf("accelerometer.x" to "g", "+gyroscope.x" to "g", "+magnetometer.x" to "uT")) {
        val err = runCatching { ChannelMap.fromManifest(manifestWith(listOf(spec), listOf(unit))) }.exceptionOrNull()
        out.put("error $spec $unit", err?.message ?: JSONObject.NULL)
    }
    return out
}

private fun manifestWith(sensors: List<String>, units: List<String>) = BundleManifest(
    1, "b", "c", intArrayOf(1, sensors.size, 4), "NCW", FloatArray(sensors.size), FloatArray(sensors.size) { 1f }, 1,
    1f, 0, List(sensors.size) { "c$it" }, units, sensors, 50.0, intArrayOf(1, 1), "int8", 1f, 0, 0.0, 1,
    listOf("a"), "")
