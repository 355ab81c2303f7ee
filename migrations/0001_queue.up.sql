-- 0001 queue: the durable job queue.
-- Why: Tessera keeps every prompt job in PostgreSQL so that workers on any number of machines can claim
-- them safely (FOR UPDATE SKIP LOCKED), a killed worker's job is rescued, and operators can query the
-- whole history with plain SQL. This schema is a public interface: see docs/SCHEMA.md.
-- Workers never write tables directly: they call the SECURITY DEFINER functions below, each fenced by
-- (job, attempt, worker), so a worker whose lease was taken over changes nothing.

CREATE SCHEMA tessera;

-- Queue-wide knobs an operator may change with UPDATE (one row).
CREATE TABLE tessera.queue_settings (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    backoff_base_s   double precision NOT NULL DEFAULT 5   CHECK (backoff_base_s >= 0),
    backoff_max_s    double precision NOT NULL DEFAULT 600 CHECK (backoff_max_s >= backoff_base_s)
);
INSERT INTO tessera.queue_settings DEFAULT VALUES;

CREATE TABLE tessera.batches (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    idempotency_key  text UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    content_hash     text NOT NULL,
    job_count        integer NOT NULL CHECK (job_count >= 1),
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tessera.workers (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host             text NOT NULL CHECK (length(host) BETWEEN 1 AND 255),
    pid              integer NOT NULL CHECK (pid > 0),
    version          text NOT NULL,
    capabilities     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(capabilities) = 'object'),
    started_at       timestamptz NOT NULL,
    heartbeat_at     timestamptz NOT NULL,
    stopped_at       timestamptz,
    CHECK (heartbeat_at >= started_at),
    CHECK (stopped_at IS NULL OR stopped_at >= started_at)
);

CREATE TABLE tessera.jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id         bigint NOT NULL REFERENCES tessera.batches ON DELETE CASCADE,
    line             integer NOT NULL CHECK (line >= 1),
    prompt           text NOT NULL CHECK (length(prompt) BETWEEN 1 AND 2000),
    seed             bigint NOT NULL CHECK (seed >= 0),
    orientation      text NOT NULL CHECK (orientation IN ('landscape', 'portrait')),
    duration_s       double precision NOT NULL CHECK (duration_s >= 0 AND duration_s <= 60),
    fps              integer NOT NULL CHECK (fps BETWEEN 1 AND 60),
    width            integer NOT NULL CHECK (width BETWEEN 16 AND 4096 AND width % 2 = 0),
    height           integer NOT NULL CHECK (height BETWEEN 16 AND 4096 AND height % 2 = 0),
    prototype_width  integer NOT NULL CHECK (prototype_width BETWEEN 16 AND 4096 AND prototype_width <= width),
    prototype_height integer NOT NULL CHECK (prototype_height BETWEEN 16 AND 4096 AND prototype_height <= height),
    steps            integer NOT NULL CHECK (steps BETWEEN 1 AND 1000),
    guidance         double precision NOT NULL CHECK (guidance >= 0 AND guidance <= 30),
    refine_strength  double precision NOT NULL CHECK (refine_strength >= 0 AND refine_strength <= 1),
    prototype_only   boolean NOT NULL DEFAULT false,
    priority         integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
    worker_id        bigint REFERENCES tessera.workers,
    lease_expires_at timestamptz,
    run_after        timestamptz NOT NULL DEFAULT now(),
    cancel_requested boolean NOT NULL DEFAULT false,
    progress         real NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    stage            text,
    result           jsonb CHECK (result IS NULL OR jsonb_typeof(result) = 'object'),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    -- A job is owned by a worker exactly while it runs.
    CHECK ((state = 'running') = (worker_id IS NOT NULL)),
    CHECK ((state = 'running') = (lease_expires_at IS NOT NULL)),
    CHECK (state <> 'running' OR attempt >= 1),
    CHECK (attempt <= max_attempts),
    -- Terminal states, and only they, have a finish time.
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CHECK (state <> 'succeeded' OR (result IS NOT NULL AND progress = 1)),
    CHECK (state <> 'failed' OR last_error IS NOT NULL),
    UNIQUE (batch_id, line, orientation)
);

-- The claim query walks this index in order; only queued rows are in it.
CREATE INDEX jobs_claimable ON tessera.jobs (priority DESC, run_after, id) WHERE state = 'queued';
-- The rescuer looks for expired leases among running jobs.
CREATE INDEX jobs_leases ON tessera.jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_batch ON tessera.jobs (batch_id);
CREATE INDEX jobs_finished ON tessera.jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Append-only: one row per state change (and per cancel request).
CREATE TABLE tessera.job_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id           bigint NOT NULL REFERENCES tessera.jobs ON DELETE CASCADE,
    at               timestamptz NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('enqueued', 'claimed', 'succeeded', 'retry_scheduled', 'failed',
                         'rescued', 'released', 'cancel_requested', 'cancelled', 'retried')),
    from_state       text CHECK (from_state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    to_state         text NOT NULL CHECK (to_state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    worker_id        bigint REFERENCES tessera.workers,
    attempt          integer NOT NULL CHECK (attempt >= 0),
    error            text,
    timings          jsonb CHECK (timings IS NULL OR jsonb_typeof(timings) = 'object'),
    run_after        timestamptz
);
CREATE INDEX job_events_job ON tessera.job_events (job_id, id);

CREATE FUNCTION tessera.refuse_event_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tessera.job_events is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER job_events_append_only BEFORE UPDATE ON tessera.job_events
    FOR EACH ROW EXECUTE FUNCTION tessera.refuse_event_update();

-- Wake idle workers (LISTEN tessera_jobs) when jobs become claimable. Polling is the fallback.
CREATE FUNCTION tessera.notify_claimable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE state = 'queued') THEN
        PERFORM pg_notify('tessera_jobs', '');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON tessera.jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera.notify_claimable();
CREATE TRIGGER jobs_notify_update AFTER UPDATE ON tessera.jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera.notify_claimable();

-- Delay before retry number `attempt` (1-based): exponential with equal jitter, in [d/2, d].
CREATE FUNCTION tessera.retry_delay(attempt integer) RETURNS interval LANGUAGE sql VOLATILE AS $$
    SELECT make_interval(secs => d * (0.5 + random() / 2))
    FROM (SELECT least(s.backoff_max_s, s.backoff_base_s * power(2, greatest(attempt - 1, 0))) AS d
          FROM tessera.queue_settings s) AS delay
$$;

------------------------------------------------------------------------------------------------------
-- Worker functions. Each takes `p_now` (NULL = the server's clock) so tests can drive time.
------------------------------------------------------------------------------------------------------

CREATE FUNCTION tessera.register_worker(p_host text, p_pid integer, p_version text, p_capabilities jsonb,
                                        p_now timestamptz DEFAULT NULL)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
    INSERT INTO tessera.workers (host, pid, version, capabilities, started_at, heartbeat_at)
    VALUES (p_host, p_pid, p_version, coalesce(p_capabilities, '{}'), coalesce(p_now, now()), coalesce(p_now, now()))
    RETURNING id
$$;

CREATE FUNCTION tessera.worker_heartbeat(p_worker bigint, p_stopping boolean DEFAULT false,
                                         p_now timestamptz DEFAULT NULL)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
    UPDATE tessera.workers
    SET heartbeat_at = greatest(heartbeat_at, coalesce(p_now, now())),
        -- A worker the coordinator marked stopped while it was silent is alive again when it beats.
        stopped_at = CASE WHEN p_stopping THEN greatest(started_at, coalesce(p_now, now())) ELSE NULL END
    WHERE id = p_worker
$$;

-- Claim up to p_limit ready jobs, highest priority first, then oldest.
-- The candidates are locked in a sub-select whose ids the UPDATE looks up by primary key: joining the
-- UPDATE to a CTE let the planner (which cannot see p_limit inside the function) scan the whole table,
-- history included, on every claim.
CREATE FUNCTION tessera.claim_jobs(p_worker bigint, p_limit integer, p_lease_s double precision,
                                   p_now timestamptz DEFAULT NULL)
RETURNS SETOF tessera.jobs LANGUAGE sql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
    WITH claimed AS (
        UPDATE tessera.jobs j
        SET state = 'running', attempt = j.attempt + 1, worker_id = p_worker,
            lease_expires_at = coalesce(p_now, now()) + make_interval(secs => p_lease_s),
            started_at = coalesce(j.started_at, coalesce(p_now, now())), progress = 0, stage = NULL
        WHERE j.id = ANY (ARRAY(
            SELECT id FROM tessera.jobs
            WHERE state = 'queued' AND run_after <= coalesce(p_now, now())
            ORDER BY priority DESC, run_after, id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED))
        RETURNING j.*
    ), logged AS (
        INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, worker_id, attempt)
        SELECT id, coalesce(p_now, now()), 'claimed', 'queued', 'running', p_worker, attempt FROM claimed
    )
    SELECT * FROM claimed ORDER BY priority DESC, run_after, id
$$;

-- Renew the lease and record progress. Returns 'ok', 'cancel' (stop: an operator cancelled the job)
-- or 'lost' (this attempt no longer owns the job: change nothing more).
CREATE FUNCTION tessera.heartbeat_job(p_job bigint, p_attempt integer, p_worker bigint, p_progress real,
                                      p_stage text, p_lease_s double precision, p_now timestamptz DEFAULT NULL)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
DECLARE
    v_cancel boolean;
BEGIN
    UPDATE tessera.jobs
    SET lease_expires_at = coalesce(p_now, now()) + make_interval(secs => p_lease_s),
        progress = least(greatest(coalesce(p_progress, progress), 0), 1), stage = coalesce(p_stage, stage)
    WHERE id = p_job AND attempt = p_attempt AND worker_id = p_worker AND state = 'running'
    RETURNING cancel_requested INTO v_cancel;
    IF NOT FOUND THEN
        RETURN 'lost';
    END IF;
    UPDATE tessera.workers SET heartbeat_at = greatest(heartbeat_at, coalesce(p_now, now())), stopped_at = NULL
    WHERE id = p_worker;
    RETURN CASE WHEN v_cancel THEN 'cancel' ELSE 'ok' END;
END $$;

-- Record success. Idempotent for the attempt that succeeded (a retried call after a lost reply is fine).
CREATE FUNCTION tessera.complete_job(p_job bigint, p_attempt integer, p_worker bigint, p_result jsonb,
                                     p_timings jsonb, p_now timestamptz DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
BEGIN
    UPDATE tessera.jobs
    SET state = 'succeeded', result = coalesce(p_result, '{}'), progress = 1, stage = 'done', worker_id = NULL,
        lease_expires_at = NULL, finished_at = coalesce(p_now, now()), cancel_requested = false
    WHERE id = p_job AND attempt = p_attempt AND worker_id = p_worker AND state = 'running';
    IF FOUND THEN
        INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, worker_id, attempt, timings)
        VALUES (p_job, coalesce(p_now, now()), 'succeeded', 'running', 'succeeded', p_worker, p_attempt, p_timings);
        RETURN true;
    END IF;
    RETURN EXISTS (SELECT 1 FROM tessera.job_events
                   WHERE job_id = p_job AND kind = 'succeeded' AND attempt = p_attempt AND worker_id = p_worker);
END $$;

-- Record a failed attempt. Returns 'retry_scheduled' (queued again after a backoff), 'failed' (no
-- attempts left, or not retryable), 'cancelled' (a cancel was pending) or 'lost' (this attempt no
-- longer owns the job).
CREATE FUNCTION tessera.fail_job(p_job bigint, p_attempt integer, p_worker bigint, p_error text,
                                 p_retryable boolean, p_timings jsonb, p_now timestamptz DEFAULT NULL)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
DECLARE
    v_job tessera.jobs;
    v_now timestamptz := coalesce(p_now, now());
    v_run_after timestamptz;
BEGIN
    SELECT * INTO v_job FROM tessera.jobs
    WHERE id = p_job AND attempt = p_attempt AND worker_id = p_worker AND state = 'running' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'lost';
    END IF;
    IF v_job.cancel_requested THEN
        -- The operator asked for a cancel: the failure ends the job as cancelled, its error kept.
        UPDATE tessera.jobs SET state = 'cancelled', worker_id = NULL, lease_expires_at = NULL, finished_at = v_now,
            last_error = p_error
        WHERE id = p_job;
        INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, worker_id, attempt, error, timings)
        VALUES (p_job, v_now, 'cancelled', 'running', 'cancelled', p_worker, p_attempt, p_error, p_timings);
        RETURN 'cancelled';
    END IF;
    IF p_retryable AND v_job.attempt < v_job.max_attempts THEN
        v_run_after := v_now + tessera.retry_delay(v_job.attempt);
        UPDATE tessera.jobs SET state = 'queued', worker_id = NULL, lease_expires_at = NULL, run_after = v_run_after,
            last_error = p_error, progress = 0, stage = NULL
        WHERE id = p_job;
        INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, worker_id, attempt, error, timings, run_after)
        VALUES (p_job, v_now, 'retry_scheduled', 'running', 'queued', p_worker, p_attempt, p_error, p_timings, v_run_after);
        RETURN 'retry_scheduled';
    END IF;
    UPDATE tessera.jobs SET state = 'failed', worker_id = NULL, lease_expires_at = NULL, finished_at = v_now,
        last_error = p_error
    WHERE id = p_job;
    INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, worker_id, attempt, error, timings)
    VALUES (p_job, v_now, 'failed', 'running', 'failed', p_worker, p_attempt, p_error, p_timings);
    RETURN 'failed';
END $$;

-- Hand a job back without counting the attempt (graceful shutdown). Returns false when not the owner.
CREATE FUNCTION tessera.release_job(p_job bigint, p_attempt integer, p_worker bigint, p_reason text,
                                    p_now timestamptz DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
BEGIN
    UPDATE tessera.jobs SET state = 'queued', worker_id = NULL, lease_expires_at = NULL, attempt = attempt - 1,
        run_after = coalesce(p_now, now()), progress = 0, stage = NULL
    WHERE id = p_job AND attempt = p_attempt AND worker_id = p_worker AND state = 'running' AND NOT cancel_requested;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, worker_id, attempt, error)
    VALUES (p_job, coalesce(p_now, now()), 'released', 'running', 'queued', p_worker, p_attempt, p_reason);
    RETURN true;
END $$;

-- The worker stopped because the job was cancelled: record it. Returns false when not the owner.
CREATE FUNCTION tessera.acknowledge_cancel(p_job bigint, p_attempt integer, p_worker bigint,
                                           p_now timestamptz DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
BEGIN
    UPDATE tessera.jobs SET state = 'cancelled', worker_id = NULL, lease_expires_at = NULL,
        finished_at = coalesce(p_now, now())
    WHERE id = p_job AND attempt = p_attempt AND worker_id = p_worker AND state = 'running' AND cancel_requested;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, worker_id, attempt)
    VALUES (p_job, coalesce(p_now, now()), 'cancelled', 'running', 'cancelled', p_worker, p_attempt);
    RETURN true;
END $$;

------------------------------------------------------------------------------------------------------
-- Operator and coordinator functions.
------------------------------------------------------------------------------------------------------

-- Cancel: queued jobs at once, running ones by request (the worker stops at its next heartbeat).
CREATE FUNCTION tessera.cancel_jobs(p_ids bigint[], p_now timestamptz DEFAULT NULL)
RETURNS TABLE (job_id bigint, outcome text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
DECLARE
    v_job tessera.jobs;
    v_now timestamptz := coalesce(p_now, now());
BEGIN
    FOR v_job IN SELECT * FROM tessera.jobs WHERE id = ANY (p_ids) ORDER BY id FOR UPDATE LOOP
        job_id := v_job.id;
        IF v_job.state = 'queued' THEN
            UPDATE tessera.jobs SET state = 'cancelled', finished_at = v_now WHERE id = v_job.id;
            INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, attempt)
            VALUES (v_job.id, v_now, 'cancelled', 'queued', 'cancelled', v_job.attempt);
            outcome := 'cancelled';
        ELSIF v_job.state = 'running' AND NOT v_job.cancel_requested THEN
            UPDATE tessera.jobs SET cancel_requested = true WHERE id = v_job.id;
            INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, worker_id, attempt)
            VALUES (v_job.id, v_now, 'cancel_requested', 'running', 'running', v_job.worker_id, v_job.attempt);
            outcome := 'cancel_requested';
        ELSIF v_job.state = 'running' THEN
            outcome := 'cancel_requested';
        ELSE
            outcome := 'unchanged: ' || v_job.state;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;

-- Retry failed or cancelled jobs with a fresh set of attempts.
CREATE FUNCTION tessera.retry_jobs(p_ids bigint[], p_now timestamptz DEFAULT NULL)
RETURNS TABLE (job_id bigint, outcome text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
DECLARE
    v_job tessera.jobs;
    v_now timestamptz := coalesce(p_now, now());
BEGIN
    FOR v_job IN SELECT * FROM tessera.jobs WHERE id = ANY (p_ids) ORDER BY id FOR UPDATE LOOP
        job_id := v_job.id;
        IF v_job.state IN ('failed', 'cancelled') THEN
            UPDATE tessera.jobs SET state = 'queued', attempt = 0, finished_at = NULL, run_after = v_now,
                cancel_requested = false, progress = 0, stage = NULL
            WHERE id = v_job.id;
            INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, attempt)
            VALUES (v_job.id, v_now, 'retried', v_job.state, 'queued', 0);
            outcome := 'queued';
        ELSE
            outcome := 'unchanged: ' || v_job.state;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;

-- Rescue running jobs whose lease expired: cancelled if a cancel was requested, queued again after a
-- backoff if attempts remain, failed otherwise (the last error says why).
CREATE FUNCTION tessera.rescue_expired(p_limit integer, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (job_id bigint, outcome text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
DECLARE
    v_job tessera.jobs;
    v_now timestamptz := coalesce(p_now, now());
    v_error text;
    v_run_after timestamptz;
BEGIN
    FOR v_job IN SELECT * FROM tessera.jobs WHERE state = 'running' AND lease_expires_at < v_now
                 ORDER BY lease_expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
        job_id := v_job.id;
        v_error := format('lease expired: worker %s stopped heartbeating during attempt %s', v_job.worker_id, v_job.attempt);
        IF v_job.cancel_requested THEN
            UPDATE tessera.jobs SET state = 'cancelled', worker_id = NULL, lease_expires_at = NULL, finished_at = v_now
            WHERE id = v_job.id;
            outcome := 'cancelled';
            v_run_after := NULL;
        ELSIF v_job.attempt < v_job.max_attempts THEN
            v_run_after := v_now + tessera.retry_delay(v_job.attempt);
            UPDATE tessera.jobs SET state = 'queued', worker_id = NULL, lease_expires_at = NULL, run_after = v_run_after,
                last_error = v_error, progress = 0, stage = NULL
            WHERE id = v_job.id;
            outcome := 'queued';
        ELSE
            UPDATE tessera.jobs SET state = 'failed', worker_id = NULL, lease_expires_at = NULL, finished_at = v_now,
                last_error = v_error
            WHERE id = v_job.id;
            outcome := 'failed';
            v_run_after := NULL;
        END IF;
        INSERT INTO tessera.job_events (job_id, at, kind, from_state, to_state, worker_id, attempt, error, run_after)
        VALUES (v_job.id, v_now, 'rescued', 'running', outcome, v_job.worker_id, v_job.attempt, v_error, v_run_after);
        RETURN NEXT;
    END LOOP;
END $$;

-- Mark workers that stopped heartbeating (killed, machine lost) as stopped, once they own no job.
CREATE FUNCTION tessera.reap_workers(p_silent_s double precision, p_now timestamptz DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE tessera.workers w SET stopped_at = w.heartbeat_at
    WHERE w.stopped_at IS NULL
      AND w.heartbeat_at < coalesce(p_now, now()) - make_interval(secs => p_silent_s)
      AND NOT EXISTS (SELECT 1 FROM tessera.jobs j WHERE j.worker_id = w.id);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END $$;

-- Delete finished jobs (and their events) that finished before p_before, then empty batches.
CREATE FUNCTION tessera.prune_history(p_before timestamptz)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = tessera, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    DELETE FROM tessera.jobs WHERE finished_at < p_before AND state IN ('succeeded', 'failed', 'cancelled');
    GET DIAGNOSTICS v_count = ROW_COUNT;
    DELETE FROM tessera.batches b WHERE NOT EXISTS (SELECT 1 FROM tessera.jobs j WHERE j.batch_id = b.id);
    DELETE FROM tessera.workers w WHERE stopped_at < p_before
        AND NOT EXISTS (SELECT 1 FROM tessera.jobs j WHERE j.worker_id = w.id)
        AND NOT EXISTS (SELECT 1 FROM tessera.job_events e WHERE e.worker_id = w.id);
    RETURN v_count;
END $$;

------------------------------------------------------------------------------------------------------
-- Views: the documented way to read history (docs/SCHEMA.md).
------------------------------------------------------------------------------------------------------

CREATE VIEW tessera.job_history AS
SELECT j.id AS job_id, j.batch_id, b.name AS batch_name, j.line, j.prompt, j.seed, j.orientation, j.duration_s,
       j.fps, j.width, j.height, j.priority, j.state, j.attempt, j.max_attempts, j.progress, j.stage,
       j.created_at, j.started_at, j.finished_at,
       j.finished_at - j.started_at AS run_time,
       j.started_at - j.created_at AS queue_wait,
       j.result, j.last_error,
       (SELECT count(*) FROM tessera.job_events e WHERE e.job_id = j.id AND e.kind = 'claimed') AS claims
FROM tessera.jobs j JOIN tessera.batches b ON b.id = j.batch_id;

CREATE VIEW tessera.job_timeline AS
SELECT e.job_id, e.id AS event_id, e.at, e.kind, e.from_state, e.to_state, e.attempt, e.worker_id,
       w.host AS worker_host, w.pid AS worker_pid, e.error, e.timings, e.run_after
FROM tessera.job_events e LEFT JOIN tessera.workers w ON w.id = e.worker_id;

CREATE VIEW tessera.queue_depth AS
SELECT s.state,
       count(j.id) AS jobs,
       count(j.id) FILTER (WHERE j.state = 'queued' AND j.run_after <= now()) AS ready
FROM (VALUES ('queued'), ('running'), ('succeeded'), ('failed'), ('cancelled')) AS s(state)
LEFT JOIN tessera.jobs j ON j.state = s.state
GROUP BY s.state;

CREATE VIEW tessera.batch_summary AS
SELECT b.id AS batch_id, b.name, b.idempotency_key, b.created_at, b.job_count,
       count(j.id) FILTER (WHERE j.state = 'queued') AS queued,
       count(j.id) FILTER (WHERE j.state = 'running') AS running,
       count(j.id) FILTER (WHERE j.state = 'succeeded') AS succeeded,
       count(j.id) FILTER (WHERE j.state = 'failed') AS failed,
       count(j.id) FILTER (WHERE j.state = 'cancelled') AS cancelled,
       max(j.finished_at) AS last_finished_at
FROM tessera.batches b LEFT JOIN tessera.jobs j ON j.batch_id = b.id
GROUP BY b.id;

CREATE VIEW tessera.worker_status AS
SELECT w.id AS worker_id, w.host, w.pid, w.version, w.capabilities, w.started_at, w.heartbeat_at, w.stopped_at,
       j.id AS job_id, j.attempt, j.progress, j.stage
FROM tessera.workers w LEFT JOIN tessera.jobs j ON j.worker_id = w.id AND j.state = 'running';

------------------------------------------------------------------------------------------------------
-- Least privilege. Roles are cluster-wide, so they are created once and kept by the down migration.
--   tessera_worker: may call the worker functions and read jobs; cannot write tables, history or schema.
--   tessera_reader: may read the history views (dashboards, operators' ad-hoc SQL).
------------------------------------------------------------------------------------------------------

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tessera_worker') THEN
        CREATE ROLE tessera_worker NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tessera_reader') THEN
        CREATE ROLE tessera_reader NOLOGIN;
    END IF;
END $$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tessera FROM PUBLIC;
GRANT USAGE ON SCHEMA tessera TO tessera_worker, tessera_reader;
GRANT SELECT ON tessera.jobs, tessera.batches, tessera.queue_settings TO tessera_worker;
GRANT EXECUTE ON FUNCTION
    tessera.register_worker(text, integer, text, jsonb, timestamptz),
    tessera.worker_heartbeat(bigint, boolean, timestamptz),
    tessera.claim_jobs(bigint, integer, double precision, timestamptz),
    tessera.heartbeat_job(bigint, integer, bigint, real, text, double precision, timestamptz),
    tessera.complete_job(bigint, integer, bigint, jsonb, jsonb, timestamptz),
    tessera.fail_job(bigint, integer, bigint, text, boolean, jsonb, timestamptz),
    tessera.release_job(bigint, integer, bigint, text, timestamptz),
    tessera.acknowledge_cancel(bigint, integer, bigint, timestamptz)
TO tessera_worker;
GRANT SELECT ON tessera.job_history, tessera.job_timeline, tessera.queue_depth, tessera.batch_summary,
    tessera.worker_status TO tessera_reader;
-- Every tessera process checks the schema version at start (a newer database is refused).
GRANT SELECT ON public.tessera_schema_migrations TO tessera_worker, tessera_reader;
