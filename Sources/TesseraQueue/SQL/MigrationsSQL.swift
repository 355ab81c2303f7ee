/// Statements on the migration ledger, `public.tessera_schema_migrations`. It sits outside the `tessera`
/// schema so that migrating down to version 0 keeps the record.
enum MigrationsSQL {
    /// A fixed advisory-lock key ("tessera migrate") so concurrent migrators take turns.
    static let lockKey: Int64 = 0x7465_7373_6d69_6772

    static let createLedger = """
        CREATE TABLE IF NOT EXISTS public.tessera_schema_migrations (
            version    integer PRIMARY KEY CHECK (version > 0),
            name       text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    static let lock = "SELECT pg_advisory_lock($1)"
    static let unlock = "SELECT pg_advisory_unlock($1)"
    static let ledgerExists = "SELECT to_regclass('public.tessera_schema_migrations') IS NOT NULL AS present"
    static let applied = "SELECT version, name FROM public.tessera_schema_migrations ORDER BY version"
    static let record = "INSERT INTO public.tessera_schema_migrations (version, name) VALUES ($1, $2)"
    static let forget = "DELETE FROM public.tessera_schema_migrations WHERE version = $1"
}

/// Statements the coordinator uses to elect its leader.
enum CoordinatorSQL {
    /// Held for the life of the leader's session ("tessera coordinator").
    static let leaderLockKey: Int64 = 0x7465_7373_636f_6f72
    static let tryLead = "SELECT pg_try_advisory_lock($1) AS leader"
    static let resign = "SELECT pg_advisory_unlock($1)"
}
