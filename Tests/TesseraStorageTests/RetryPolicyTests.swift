import Testing

@testable import TesseraStorage

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 4, baseDelay: 0.5, maxDelay: 3)

    @Test(arguments: [500, 502, 503, 504, 429])
    func serverErrorsAndThrottlingAreRetried(_ status: Int) {
        #expect(RetryPolicy.isRetryable(.http(status: status, code: "")))
    }

    @Test(arguments: [
        (400, ""), (401, ""), (403, "SignatureDoesNotMatch"), (403, "InvalidAccessKeyId"), (403, "AccessDenied"), (404, "NoSuchKey"),
        (409, "BucketAlreadyExists"), (400, "RequestTimeTooSkewed"),
    ])
    func clientErrorsAreFinal(_ status: Int, _ code: String) {
        #expect(!RetryPolicy.isRetryable(.http(status: status, code: code)))
    }

    @Test func s3SlowClientCodesAreRetriedWhateverTheStatus() {
        #expect(RetryPolicy.isRetryable(.http(status: 400, code: "RequestTimeout")))
        #expect(RetryPolicy.isRetryable(.http(status: 503, code: "SlowDown")))
    }

    @Test func networkErrorsAreRetriedOnlyWhenTransient() {
        #expect(RetryPolicy.isRetryable(.network(transient: true)))
        #expect(!RetryPolicy.isRetryable(.network(transient: false)))
    }

    @Test func attemptsAreCapped() {
        #expect(policy.shouldRetry(.http(status: 503, code: ""), after: 3))
        #expect(!policy.shouldRetry(.http(status: 503, code: ""), after: 4))
        #expect(!RetryPolicy(maxAttempts: 1, baseDelay: 1, maxDelay: 1).shouldRetry(.network(transient: true), after: 1))
    }

    @Test func delaysDoubleUpToTheCapWithEqualJitter() {
        // random = 1 gives the full exponential value, random = 0 half of it.
        #expect(policy.delay(after: 1, random: 1) == 0.5)
        #expect(policy.delay(after: 2, random: 1) == 1.0)
        #expect(policy.delay(after: 3, random: 1) == 2.0)
        #expect(policy.delay(after: 4, random: 1) == 3.0)
        #expect(policy.delay(after: 40, random: 1) == 3.0)
        #expect(policy.delay(after: 100, random: 0.5) == 2.25)
        #expect(policy.delay(after: 3, random: 0) == 1.0)
        for attempt in 1...10 {
            for random in stride(from: 0.0, to: 1.0, by: 0.1) {
                let delay = policy.delay(after: attempt, random: random)
                let full = min(3, 0.5 * Double(1 << (attempt - 1)))
                #expect(delay >= full / 2 && delay <= full)
            }
        }
    }

    @Test func retryAfterRaisesTheDelayWithinTheCap() {
        #expect(policy.delay(after: 1, random: 0, retryAfter: 2) == 2)
        #expect(policy.delay(after: 1, random: 0, retryAfter: 60) == 3)
        #expect(policy.delay(after: 3, random: 1, retryAfter: 0.1) == 2)
    }
}
