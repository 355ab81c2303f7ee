/// Statements on `tessera.batches`. All SQL outside migrations/ lives in this folder, one file per table.
enum BatchesSQL {
    /// Insert a batch; with an idempotency key already used, insert nothing.
    static let insert = """
        INSERT INTO tessera.batches (name, idempotency_key, content_hash, job_count, created_at)
        VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now()))
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
        """

    /// The batch an idempotency key already made, to answer a repeated enqueue.
    static let byIdempotencyKey = """
        SELECT id, content_hash FROM tessera.batches WHERE idempotency_key = $1
        """

    /// Per-state counts of batches, newest first.
    static let summaries = """
        SELECT batch_id, name, idempotency_key, created_at, job_count, queued, running, succeeded, failed, cancelled
        FROM tessera.batch_summary
        WHERE ($1::bigint IS NULL OR batch_id = $1::bigint)
        ORDER BY batch_id DESC
        LIMIT $2
        """

    /// A batch id by name (the newest batch of that name).
    static let idByName = """
        SELECT id FROM tessera.batches WHERE name = $1 ORDER BY id DESC LIMIT 1
        """
}
