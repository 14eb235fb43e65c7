-- Wake-ups for the API's live streams (contract section 4, v2). Each API
-- instance LISTENs on these channels; the rows stay the truth, a notification
-- only says which session to read again. Statement-level triggers, so that a
-- batch of callbacks costs one trigger call, and every writer (any API
-- instance, a migration, an operator's SQL) wakes the streams alike.
-- PostgreSQL folds identical notifications of one transaction into one.

-- A session with new stored events: payload its id.
CREATE FUNCTION "mosaic_notify_session_events"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mosaic_session_events', "session_id"::text) FROM (SELECT DISTINCT "session_id" FROM "new_events") AS "sessions";
  RETURN NULL;
END $$;

CREATE TRIGGER "orchestrator_session_events_notify"
  AFTER INSERT ON "orchestrator_session_events"
  REFERENCING NEW TABLE AS "new_events"
  FOR EACH STATEMENT EXECUTE FUNCTION "mosaic_notify_session_events"();

-- A session created, or changed in what a live list shows (not on every event's sequence bump): payload its id.
CREATE FUNCTION "mosaic_notify_sessions_created"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mosaic_sessions', "id"::text) FROM "new_sessions";
  RETURN NULL;
END $$;

CREATE FUNCTION "mosaic_notify_sessions_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mosaic_sessions', "after"."id"::text)
     FROM "new_sessions" AS "after" JOIN "old_sessions" AS "before" ON "before"."id" = "after"."id"
    WHERE ("after"."status", "after"."node", "after"."queue_position", "after"."error", "after"."exit_code", "after"."orchestrator_session_id")
          IS DISTINCT FROM ("before"."status", "before"."node", "before"."queue_position", "before"."error", "before"."exit_code", "before"."orchestrator_session_id");
  RETURN NULL;
END $$;

CREATE TRIGGER "orchestrator_sessions_notify_created"
  AFTER INSERT ON "orchestrator_sessions"
  REFERENCING NEW TABLE AS "new_sessions"
  FOR EACH STATEMENT EXECUTE FUNCTION "mosaic_notify_sessions_created"();

CREATE TRIGGER "orchestrator_sessions_notify_changed"
  AFTER UPDATE ON "orchestrator_sessions"
  REFERENCING OLD TABLE AS "old_sessions" NEW TABLE AS "new_sessions"
  FOR EACH STATEMENT EXECUTE FUNCTION "mosaic_notify_sessions_changed"();
