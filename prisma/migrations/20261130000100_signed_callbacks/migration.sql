-- AlterTable
ALTER TABLE "orchestrator_sessions" ADD COLUMN     "callbacks_signed" BOOLEAN NOT NULL DEFAULT false;
