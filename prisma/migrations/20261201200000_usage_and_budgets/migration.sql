-- AlterEnum
ALTER TYPE "session_event_type" ADD VALUE 'usage';

-- AlterTable: what a session spent (sums of its usage events), and when it passed its task's budget.
ALTER TABLE "orchestrator_sessions" ADD COLUMN "input_tokens" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN "output_tokens" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN "cost_usd" DECIMAL(20,6) NOT NULL DEFAULT 0,
ADD COLUMN "budget_exceeded_at" TIMESTAMPTZ(3);

-- AlterTable: a task's budget, per session.
ALTER TABLE "tasks" ADD COLUMN "budget_max_tokens" BIGINT,
ADD COLUMN "budget_max_cost_usd" DECIMAL(20,6),
ADD COLUMN "budget_max_duration_s" INTEGER;

-- CreateTable: what all agents spent per day (UTC), for MOSAIC_DAILY_COST_LIMIT_USD.
CREATE TABLE "daily_usage" (
    "day" DATE NOT NULL,
    "input_tokens" BIGINT NOT NULL DEFAULT 0,
    "output_tokens" BIGINT NOT NULL DEFAULT 0,
    "cost_usd" DECIMAL(20,6) NOT NULL DEFAULT 0,

    CONSTRAINT "daily_usage_pkey" PRIMARY KEY ("day")
);

-- Live lists show usage: a change of it wakes their streams too.
CREATE OR REPLACE FUNCTION "mosaic_notify_sessions_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mosaic_sessions', "after"."id"::text)
     FROM "new_sessions" AS "after" JOIN "old_sessions" AS "before" ON "before"."id" = "after"."id"
    WHERE ("after"."status", "after"."node", "after"."queue_position", "after"."error", "after"."exit_code", "after"."orchestrator_session_id",
           "after"."input_tokens", "after"."output_tokens", "after"."cost_usd")
          IS DISTINCT FROM ("before"."status", "before"."node", "before"."queue_position", "before"."error", "before"."exit_code", "before"."orchestrator_session_id",
           "before"."input_tokens", "before"."output_tokens", "before"."cost_usd");
  RETURN NULL;
END $$;
