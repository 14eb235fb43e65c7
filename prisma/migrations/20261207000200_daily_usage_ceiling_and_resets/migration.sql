-- AlterTable: what sessions spent past their share of the day (SESSION_SPEND_CEILING_USD or their task's
-- max_cost_usd): recorded, but not counted against MOSAIC_DAILY_COST_LIMIT_USD.
ALTER TABLE "daily_usage" ADD COLUMN "uncounted_cost_usd" DECIMAL(20,6) NOT NULL DEFAULT 0;

-- CreateTable: every reset of a day's counter by the administrator, with what it cleared.
CREATE TABLE "daily_usage_resets" (
    "id" BIGSERIAL NOT NULL,
    "day" DATE NOT NULL,
    "actor" TEXT NOT NULL,
    "input_tokens" BIGINT NOT NULL,
    "output_tokens" BIGINT NOT NULL,
    "cost_usd" DECIMAL(20,6) NOT NULL,
    "uncounted_cost_usd" DECIMAL(20,6) NOT NULL,
    "reset_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "daily_usage_resets_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "daily_usage_resets_day_reset_at_idx" ON "daily_usage_resets"("day", "reset_at");
