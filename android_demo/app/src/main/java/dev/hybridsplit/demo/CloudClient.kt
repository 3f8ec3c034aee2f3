package dev.hybridsplit.demo

import org.json.JSONObject
import java.io.IOException
import java.net.HttpURLConnection
import java.net.URL

class CloudAnswer(val index: Int, val label: String, val probability: Double, val cloudMs: Double, val roundTripMs: Double)

/** POSTs a wire-format feature message to `hybridsplit serve` (POST /v1/predict, bearer token). */
class CloudClient(baseUrl: String, private val token: String) {
    private val predictUrl = URL(baseUrl.trimEnd('/') + "/v1/predict")

    fun predict(message: ByteArray): CloudAnswer {
        val t0 = System.nanoTime()
        val conn = predictUrl.openConnection() as HttpURLConnection
        try {
            conn.requestMethod = "POST"
            conn.connectTimeout = 5000
            conn.readTimeout = 10000
            conn.doOutput = true
            conn.setRequestProperty("Content-Type", WireFormat.CONTENT_TYPE)
            conn.setRequestProperty("Authorization", "Bearer $token")
            conn.setFixedLengthStreamingMode(message.size)
            conn.outputStream.use { it.write(message) }
            val code = conn.responseCode
            val body = (if (code in 200..299) conn.inputStream else conn.errorStream)?.bufferedReader()?.use { it.readText() } ?: ""
            if (code !in 200..299) {
                val detail = runCatching { JSONObject(body).optString("detail", body) }.getOrDefault(body)
                throw IOException("server answered $code: $detail")
            }
            val json = JSONObject(body)
            val first = json.getJSONArray("predictions").getJSONObject(0)
            val index = first.getInt("index")
            val probs = first.getJSONArray("probabilities")
            return CloudAnswer(index, first.getString("label"), probs.getDouble(index),
                json.optDouble("cloud_ms", Double.NaN), (System.nanoTime() - t0) / 1e6)
        } finally {
            conn.disconnect()
        }
    }
}
