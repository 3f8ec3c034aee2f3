package dev.hybridsplit.demo

import org.json.JSONObject

/** One test-split window in raw sensor units, with its true label (from samples.json). */
class SampleWindow(val index: Int, val label: Int, val labelName: String, val x: FloatArray)

/**
 * samples.json, written by `hybridsplit demo samples` (and `make android-assets`): raw windows
 * from the bundle's test split, before normalisation, so the app preprocesses them exactly as
 * it does live sensor data.
 */
class SampleSet(val bundleId: String, val shape: IntArray, val windows: List<SampleWindow>) {
    companion object {
        fun parse(text: String, manifest: BundleManifest): SampleSet {
            val samples = JSONObject(text)
            val format = reqString(samples, "format")
            if (format != "hybridsplit-samples/1") throw ManifestError("samples.json has format '$format'")
            val shape = reqIntArray(samples, "shape")
            if (!shape.contentEquals(manifest.inputShape)) {
                throw ManifestError("samples.json has shape ${shape.toList()}, the model takes ${manifest.inputShape.toList()}; run `make android-assets` again")
            }
            val list = samples.getJSONArray("samples")
            val windows = List(list.length()) { i ->
                val sample = list.getJSONObject(i)
                SampleWindow(
                    index = reqInt(sample, "index"),
                    label = reqInt(sample, "label"),
                    labelName = reqString(sample, "label_name"),
                    x = reqFloatArray(sample, "x")
                )
            }
            return SampleSet(reqString(samples, "bundle_id"), shape, windows)
        }
    }
}
