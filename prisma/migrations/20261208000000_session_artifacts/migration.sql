-- AlterEnum: (contract v3, 7.2) a callback that carries one file the session produced.
ALTER TYPE "session_event_type" ADD VALUE 'artifact';

-- CreateTable: each session's artifacts, one row per name, their contents beside the event log so that
-- event pages and streams carry only the artifact's name, size and hash.
CREATE TABLE "orchestrator_session_artifacts" (
    "session_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "media_type" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "sha256" TEXT NOT NULL,
    "truncated" BOOLEAN NOT NULL DEFAULT false,
    "content" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "orchestrator_session_artifacts_pkey" PRIMARY KEY ("session_id","name")
);

-- AddForeignKey
ALTER TABLE "orchestrator_session_artifacts" ADD CONSTRAINT "orchestrator_session_artifacts_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "orchestrator_sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
