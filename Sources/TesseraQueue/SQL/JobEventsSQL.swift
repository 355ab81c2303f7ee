/// Statements on `tessera.job_events` (append-only; written only by the queue's functions).
enum JobEventsSQL {
    /// The timeline of one job, oldest first.
    static let timeline = """
        SELECT job_id, event_id, at, kind, from_state, to_state, attempt, worker_id, worker_host, error,
               timings, run_after
        FROM tessera.job_timeline WHERE job_id = $1 ORDER BY event_id
        """

    /// How many events of each kind there are: completions, failures and rescues for metrics.
    static let countsByKind = "SELECT kind, count(*) AS n FROM tessera.job_events GROUP BY kind"
}
