-- CreateEnum
CREATE TYPE "operator_scope" AS ENUM ('read', 'dispatch', 'stop');

-- CreateTable
CREATE TABLE "operator_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "scopes" "operator_scope"[],
    "key_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "operator_keys_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "operator_keys_key_hash_key" ON "operator_keys"("key_hash");
