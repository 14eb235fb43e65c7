-- CreateEnum
CREATE TYPE "task_status" AS ENUM ('open', 'spawning', 'pending', 'running', 'completed', 'failed', 'killed');

-- CreateEnum
CREATE TYPE "task_priority" AS ENUM ('low', 'normal', 'high', 'urgent');

-- CreateEnum
CREATE TYPE "session_status" AS ENUM ('spawning', 'pending', 'running', 'completed', 'failed', 'killed');

-- CreateEnum
CREATE TYPE "session_event_type" AS ENUM ('status', 'progress', 'log', 'result');

-- CreateTable
CREATE TABLE "tasks" (
    "id" UUID NOT NULL,
    "title" TEXT NOT NULL,
    "description" TEXT,
    "status" "task_status" NOT NULL DEFAULT 'open',
    "priority" "task_priority" NOT NULL DEFAULT 'normal',
    "labels" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "tasks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "orchestrator_sessions" (
    "id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "active_task_id" UUID,
    "orchestrator_session_id" TEXT,
    "status" "session_status" NOT NULL DEFAULT 'spawning',
    "attempt" INTEGER NOT NULL DEFAULT 1,
    "requested_by" TEXT,
    "last_sequence" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "exit_code" INTEGER,
    "callback_token_hash" TEXT NOT NULL,
    "callback_token_expires_at" TIMESTAMPTZ(3) NOT NULL,
    "started_at" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),
    "last_event_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "orchestrator_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "orchestrator_session_events" (
    "id" BIGSERIAL NOT NULL,
    "session_id" UUID NOT NULL,
    "event_id" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "type" "session_event_type" NOT NULL,
    "status" "session_status",
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "orchestrator_session_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "tasks_created_at_id_idx" ON "tasks"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "orchestrator_sessions_active_task_id_key" ON "orchestrator_sessions"("active_task_id");

-- CreateIndex
CREATE UNIQUE INDEX "orchestrator_sessions_orchestrator_session_id_key" ON "orchestrator_sessions"("orchestrator_session_id");

-- CreateIndex
CREATE INDEX "orchestrator_sessions_status_created_at_id_idx" ON "orchestrator_sessions"("status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "orchestrator_sessions_created_at_id_idx" ON "orchestrator_sessions"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "orchestrator_sessions_task_id_created_at_idx" ON "orchestrator_sessions"("task_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "orchestrator_session_events_session_id_sequence_idx" ON "orchestrator_session_events"("session_id", "sequence");

-- CreateIndex
CREATE UNIQUE INDEX "orchestrator_session_events_session_id_event_id_key" ON "orchestrator_session_events"("session_id", "event_id");

-- AddForeignKey
ALTER TABLE "orchestrator_sessions" ADD CONSTRAINT "orchestrator_sessions_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "orchestrator_session_events" ADD CONSTRAINT "orchestrator_session_events_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "orchestrator_sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
