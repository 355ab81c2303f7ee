/// Statements on `tessera.workers`.
enum WorkersSQL {
    static let register = "SELECT tessera.register_worker($1, $2, $3, $4::jsonb, $5::timestamptz) AS id"
    static let heartbeat = "SELECT tessera.worker_heartbeat($1, $2, $3::timestamptz)"
    static let reap = "SELECT tessera.reap_workers($1, $2::timestamptz) AS reaped"

    /// Workers and their current job, most recently started first; stopped ones only when asked.
    static let status = """
        SELECT worker_id, host, pid, version, capabilities, started_at, heartbeat_at, stopped_at, job_id, attempt,
               progress, stage
        FROM tessera.worker_status
        WHERE $1::bool OR stopped_at IS NULL
        ORDER BY worker_id DESC
        LIMIT $2
        """
}
