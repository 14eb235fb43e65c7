-- AlterEnum
ALTER TYPE "task_status" ADD VALUE 'cancelled';

-- AlterEnum
ALTER TYPE "session_status" ADD VALUE 'cancelled';

-- AlterTable
ALTER TABLE "orchestrator_sessions" ADD COLUMN     "node" TEXT,
ADD COLUMN     "queue_position" INTEGER;
