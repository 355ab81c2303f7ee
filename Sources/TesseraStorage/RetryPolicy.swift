/// When a failed request is tried again, and after how long: exponential backoff with jitter on server
/// errors (5xx), throttling (429, or S3's `SlowDown`/`RequestTimeout` codes) and network errors. Other 4xx
/// answers — above all 401/403, bad credentials — are final. Pure logic: the caller supplies the random
/// number, so tests need no sleeping.
public struct RetryPolicy: Sendable, Equatable {
    /// Tries in all, the first included (1 = never retry).
    public var maxAttempts: Int
    /// The delay before the second try, in seconds; it doubles for each further try.
    public var baseDelay: Double
    /// No delay exceeds this, in seconds (before jitter).
    public var maxDelay: Double

    /// 5 tries; 0.2 s doubling to 10 s — about 3 s of waiting in all when every try fails.
    public static let standard = RetryPolicy(maxAttempts: 5, baseDelay: 0.2, maxDelay: 10)

    public init(maxAttempts: Int, baseDelay: Double, maxDelay: Double) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = max(0, baseDelay)
        self.maxDelay = max(self.baseDelay, maxDelay)
    }

    /// What a try ended with, as far as retrying cares.
    public enum Outcome: Sendable, Equatable {
        /// An HTTP answer with its S3 error code (empty when the body had none, as for HEAD).
        case http(status: Int, code: String)
        /// No HTTP answer; `transient` when the cause may pass (refused, reset, timed out).
        case network(transient: Bool)
    }

    /// Whether an outcome is worth another try (ignoring how many were made).
    public static func isRetryable(_ outcome: Outcome) -> Bool {
        switch outcome {
        case .network(let transient): return transient
        case .http(let status, let code):
            if (200..<400).contains(status) { return false }
            if status == 429 || status >= 500 { return true }
            // S3 reports a client that sent too slowly, or too fast, as 400/503 with these codes.
            return ["RequestTimeout", "SlowDown", "Throttling", "ThrottlingException"].contains(code)
        }
    }

    /// Whether to try again after `attempt` (1-based) tries ended with `outcome`.
    public func shouldRetry(_ outcome: Outcome, after attempt: Int) -> Bool {
        attempt < maxAttempts && Self.isRetryable(outcome)
    }

    /// Seconds to wait before try `attempt + 1`: `baseDelay × 2^(attempt−1)`, capped at `maxDelay`, then
    /// "equal jitter" — half of it fixed, half scaled by `random` in [0, 1) — so clients that failed together
    /// spread out but none retries at once. A server's `Retry-After` raises the wait (still capped).
    public func delay(after attempt: Int, random: Double, retryAfter: Double? = nil) -> Double {
        let exponential = baseDelay * pow2(max(0, attempt - 1))
        let capped = min(maxDelay, exponential)
        let jittered = capped / 2 + capped / 2 * min(max(random, 0), 1)
        guard let retryAfter, retryAfter > jittered else { return jittered }
        return min(maxDelay, retryAfter)
    }

    private func pow2(_ n: Int) -> Double { n >= 62 ? Double.greatestFiniteMagnitude : Double(1 << n) }
}
