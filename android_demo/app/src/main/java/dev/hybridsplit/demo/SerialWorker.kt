package dev.hybridsplit.demo

import java.io.Closeable
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/**
 * Owns a resource that is not thread-safe (LiteRT's Interpreter) and runs every job on it on one
 * thread, in order. close() queues the resource's close behind the jobs already accepted, so a
 * job in flight always finishes before the interpreter is freed; jobs offered after close() are
 * refused.
 */
class SerialWorker<R : Closeable>(name: String, private val resource: R) : Closeable {
    private val executor: ExecutorService = Executors.newSingleThreadExecutor { r -> Thread(r, name) }
    private var closed = false

    /** Queues `job`; false if the worker is closed. */
    fun submit(job: (R) -> Unit): Boolean = synchronized(this) {
        if (closed) return false
        executor.execute { job(resource) }
        true
    }

    override fun close() = synchronized(this) {
        if (!closed) {
            closed = true
            executor.execute { resource.close() }
            executor.shutdown()
        }
    }

    /** Waits for the queued jobs and the close (tests; the app never blocks its UI thread on it). */
    fun awaitClosed(timeoutMs: Long): Boolean = executor.awaitTermination(timeoutMs, TimeUnit.MILLISECONDS)
}
