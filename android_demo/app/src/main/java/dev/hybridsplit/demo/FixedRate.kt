package dev.hybridsplit.demo

/**
 * Tick k is due at start + k / rate, computed from k rather than by adding a period to the last
 * tick, so rounding and late ticks never accumulate: 50 Hz stays 50 Hz over a long session.
 */
class FixedRateClock(private val startMs: Long, private val rateHz: Double) {
    init {
        require(rateHz > 0) { "sample rate must be positive" }
    }

    fun dueMs(tick: Long): Long = startMs + Math.round(tick * 1000.0 / rateHz)
}

/**
 * Channels x steps windows (NCW, channel-major) from one sample per tick: after the first full
 * window, one every `stride` ticks.
 */
class WindowAssembler(private val channels: Int, private val steps: Int, private val stride: Int) {
    private val ring = Array(channels) { FloatArray(steps) }
    private var filled = 0
    private var sinceLast = 0

    init {
        require(channels > 0 && steps > 0 && stride > 0) { "channels, steps and stride must be positive" }
    }

    fun reset() {
        filled = 0
        sinceLast = 0
    }

    /** Adds one sample (one value per channel); returns a new window when one is due, else null. */
    fun push(sample: FloatArray): FloatArray? {
        require(sample.size == channels) { "sample has ${sample.size} values for $channels channels" }
        for (c in 0 until channels) {
            val row = ring[c]
            System.arraycopy(row, 1, row, 0, steps - 1)
            row[steps - 1] = sample[c]
        }
        if (filled < steps) filled++
        sinceLast++
        if (filled < steps || sinceLast < stride) return null
        sinceLast = 0
        val window = FloatArray(channels * steps)
        for (c in 0 until channels) System.arraycopy(ring[c], 0, window, c * steps, steps)
        return window
    }
}
