-- AlterTable: (contract v3) the agent that serves a task and the git repository it works on, as the
-- contract's agent and repository objects; NULL: the configured command agent, no repository.
ALTER TABLE "tasks" ADD COLUMN "agent" JSONB;
ALTER TABLE "tasks" ADD COLUMN "repository" JSONB;
