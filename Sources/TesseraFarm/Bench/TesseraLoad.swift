import Foundation
import Synchronization
import TesseraPostgres
import TesseraQueue

/// What one timed run measured.
struct LoadSample: Sendable {
    /// Jobs claimed and completed per second over the timed window.
    var jobsPerSecond: Double
    var completed: Int
    /// The timed window: from the start signal until the last worker stopped.
    var seconds: Double
    /// Claim call durations in nanoseconds (Tessera side only).
    var claimNanoseconds: [UInt64]
    /// Whether a claim found the queue empty before the window ended (the run must be repeated with more jobs).
    var ranDry: Bool
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC), cheap enough to read around every claim.
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// The Tessera side: `workers` threads, each with its own connection, `JobQueue` and registered worker, loop
/// claim(limit 1) → complete on a seeded queue until the window ends or the queue is empty. Connecting and
/// registering happen before the start signal, outside the window (pgbench excludes connection time too).
enum TesseraLoad {
    /// Shared between the driving thread and the worker threads.
    private final class Control: Sendable {
        let ready = DispatchSemaphore(value: 0)
        let start = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        let startedAt = Atomic<UInt64>(0)
        let deadline = Atomic<UInt64>(0)
        let abort = Atomic<Bool>(false)
        let results = Mutex<[(completed: Int, endedAt: UInt64, claims: [UInt64], ranDry: Bool)]>([])
        let failures = Mutex<[String]>([])

        func fail(_ message: String) {
            abort.store(true, ordering: .relaxed)
            failures.withLock { $0.append(message) }
        }
    }

    static func run(conninfo: String, workers: Int, seconds: Double, lease: Double, interrupt: Interrupt) throws -> LoadSample {
        let control = Control()
        for index in 0..<workers {
            control.finished.enter()
            let thread = Thread {
                work(index: index, conninfo: conninfo, lease: lease, control: control, interrupt: interrupt)
                control.finished.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        for _ in 0..<workers { control.ready.wait() }
        let start = monotonicNanoseconds()
        control.startedAt.store(start, ordering: .relaxed)
        control.deadline.store(start + UInt64(seconds * 1e9), ordering: .relaxed)
        for _ in 0..<workers { control.start.signal() }
        control.finished.wait()

        if let first = control.failures.withLock({ $0.first }) {
            let count = control.failures.withLock { $0.count }
            throw BenchmarkError("the Tessera run with \(workers) workers failed (\(count) worker(s)): \(first)")
        }
        let results = control.results.withLock { $0 }
        let completed = results.reduce(0) { $0 + $1.completed }
        let end = results.map(\.endedAt).max() ?? start
        let window = Double(end - start) / 1e9
        return LoadSample(
            jobsPerSecond: window > 0 ? Double(completed) / window : 0, completed: completed, seconds: window,
            claimNanoseconds: results.flatMap(\.claims), ranDry: results.contains { $0.ranDry })
    }

    /// One worker thread. Its connection lives and dies on this thread (connections are not Sendable).
    private static func work(index: Int, conninfo: String, lease: Double, control: Control, interrupt: Interrupt) {
        let queue: JobQueue
        let workerID: Int64
        do {
            queue = JobQueue(connection: try PostgresConnection(conninfo, applicationName: "tessera-bench"))
            workerID = try queue.registerWorker(
                host: "tessera-bench", pid: Int(getpid()), version: "bench", capabilities: ["bench": "\(index)"])
        } catch {
            control.fail("worker \(index) could not connect: \(error)")
            control.ready.signal()
            control.start.wait()
            return
        }
        control.ready.signal()
        control.start.wait()
        guard !control.abort.load(ordering: .relaxed) else { return }

        let deadline = control.deadline.load(ordering: .relaxed)
        var claims: [UInt64] = []
        claims.reserveCapacity(1 << 14)
        var completed = 0
        var ranDry = false
        do {
            while monotonicNanoseconds() < deadline, !control.abort.load(ordering: .relaxed), !interrupt.requested {
                let before = monotonicNanoseconds()
                let jobs = try queue.claim(workerID: workerID, limit: 1, lease: lease)
                claims.append(monotonicNanoseconds() - before)
                guard let job = jobs.first else {
                    ranDry = true
                    break
                }
                let attempt = JobAttempt(jobID: job.id, attempt: job.attempt, workerID: workerID)
                guard try queue.complete(attempt, result: [:], timings: [:]) else {
                    throw BenchmarkError("\(attempt) lost its job right after claiming it")
                }
                completed += 1
            }
        } catch {
            control.fail("worker \(index): \(error)")
            return
        }
        let ended = monotonicNanoseconds()
        control.results.withLock { $0.append((completed, ended, claims, ranDry)) }
    }
}

/// Nearest-rank percentile (`p` in 0...100) of unsorted values; nil when empty.
func percentile(_ values: [UInt64], _ p: Double) -> UInt64? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// The median of a non-empty list (the mean of the two middle values for an even count).
func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
