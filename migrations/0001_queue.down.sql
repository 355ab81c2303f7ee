-- 0001 queue, reversed: drops the whole schema and every job in it.
-- The roles tessera_worker and tessera_reader are cluster-wide and may serve other databases, so they
-- are kept; their privileges here go with the schema.
DROP SCHEMA tessera CASCADE;
REVOKE ALL ON public.tessera_schema_migrations FROM tessera_worker, tessera_reader;
