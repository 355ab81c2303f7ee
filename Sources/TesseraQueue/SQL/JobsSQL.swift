/// Statements on `tessera.jobs`. Worker writes go through the fenced functions from migration 0001.
enum JobsSQL {
    /// The columns every job read returns, in the shape `Job(row:)` expects.
    static let columns = """
        id, batch_id, line, prompt, seed, orientation, duration_s, fps, steps, guidance, refine_strength,
        prototype_only, priority, max_attempts, state, attempt, worker_id, lease_expires_at, run_after,
        cancel_requested, progress, stage, result, last_error, created_at, started_at, finished_at
        """

    /// Insert every job of a batch in one statement from parallel arrays, logging one `enqueued` event each.
    static let insertBatch = """
        WITH input AS (
            SELECT * FROM unnest($2::int[], $3::text[], $4::bigint[], $5::text[], $6::float8[], $7::int[],
                                 $8::int[], $9::int[], $10::int[], $11::int[], $12::int[], $13::float8[],
                                 $14::float8[], $15::bool[], $16::int[], $17::int[])
                AS t(line, prompt, seed, orientation, duration_s, fps, width, height, prototype_width,
                     prototype_height, steps, guidance, refine_strength, prototype_only, priority, max_attempts)
        ), inserted AS (
            INSERT INTO tessera.jobs (batch_id, line, prompt, seed, orientation, duration_s, fps, width, height,
                prototype_width, prototype_height, steps, guidance, refine_strength, prototype_only, priority,
                max_attempts, created_at, run_after)
            SELECT $1, line, prompt, seed, orientation, duration_s, fps, width, height, prototype_width,
                prototype_height, steps, guidance, refine_strength, prototype_only, priority, max_attempts,
                coalesce($18::timestamptz, now()), coalesce($18::timestamptz, now())
            FROM input
            RETURNING id, created_at
        ), logged AS (
            INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, attempt)
            SELECT id, created_at, 'enqueued', NULL, 'queued', 0 FROM inserted
        )
        SELECT id FROM inserted ORDER BY id
        """

    static let idsOfBatch = "SELECT id FROM tessera.jobs WHERE batch_id = $1 ORDER BY id"

    static let claim = "SELECT \(columns) FROM tessera.claim_jobs($1, $2, $3, $4::timestamptz)"
    static let heartbeat = "SELECT tessera.heartbeat_job($1, $2, $3, $4::real, $5, $6, $7::timestamptz) AS outcome"
    static let complete = "SELECT tessera.complete_job($1, $2, $3, $4::jsonb, $5::jsonb, $6::timestamptz) AS ok"
    static let fail = "SELECT tessera.fail_job($1, $2, $3, $4, $5, $6::jsonb, $7::timestamptz) AS outcome"
    static let release = "SELECT tessera.release_job($1, $2, $3, $4, $5::timestamptz) AS ok"
    static let acknowledgeCancel = "SELECT tessera.acknowledge_cancel($1, $2, $3, $4::timestamptz) AS ok"
    static let cancel = "SELECT job_id, outcome FROM tessera.cancel_jobs($1::bigint[], $2::timestamptz)"
    static let retry = "SELECT job_id, outcome FROM tessera.retry_jobs($1::bigint[], $2::timestamptz)"
    static let rescue = "SELECT job_id, outcome FROM tessera.rescue_expired($1, $2::timestamptz)"
    static let prune = "SELECT tessera.prune_history($1::timestamptz) AS pruned"

    static let byID = "SELECT \(columns) FROM tessera.jobs WHERE id = $1"

    /// Jobs matching optional filters, newest first.
    static let list = """
        SELECT \(columns) FROM tessera.jobs
        WHERE ($1::text IS NULL OR state = $1)
          AND ($2::bigint IS NULL OR batch_id = $2)
          AND ($3::timestamptz IS NULL OR created_at >= $3)
          AND ($4::timestamptz IS NULL OR created_at < $4)
        ORDER BY id DESC
        LIMIT $5
        """

    /// Job counts by state (all five states, zero included), and how many queued jobs are ready now.
    static let depth = "SELECT state, jobs, ready FROM tessera.queue_depth"

    /// Running jobs with their worker, for metrics.
    static let running = """
        SELECT id, worker_id, progress FROM tessera.jobs WHERE state = 'running' ORDER BY id
        """
}
