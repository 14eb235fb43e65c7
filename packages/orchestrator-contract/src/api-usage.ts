import { z } from 'zod';

/** (v2) `GET /usage/today`: what all agents spent today (UTC), against MOSAIC_DAILY_COST_LIMIT_USD. */
export const dailyUsageSchema = z
  .object({
    day: z.iso.date().meta({ example: '2026-12-01' }),
    input_tokens: z.int().min(0).meta({ example: 120000 }),
    output_tokens: z.int().min(0).meta({ example: 30000 }),
    cost_usd: z.number().min(0).meta({
      description: "US dollars counted against the limit: each session up to SESSION_SPEND_CEILING_USD or its task's max_cost_usd",
      example: 0.81,
    }),
    uncounted_cost_usd: z
      .number()
      .min(0)
      .meta({ description: 'US dollars sessions reported past their share, recorded but not counted against the limit', example: 0 }),
    last_reset: z
      .object({
        at: z.iso.datetime(),
        by: z.string().meta({ description: 'the actor: `admin`' }),
        cleared_cost_usd: z.number().min(0).meta({ description: 'the `cost_usd` the reset set to 0' }),
      })
      .nullable()
      .meta({ description: "the administrator's last reset of the day's counter; `null` without one" }),
    daily_cost_limit_usd: z
      .number()
      .positive()
      .nullable()
      .meta({ description: 'MOSAIC_DAILY_COST_LIMIT_USD; `null` without one', example: 50 }),
  })
  .meta({ description: 'what all agents spent today (UTC), against the daily limit' });
export type DailyUsage = z.infer<typeof dailyUsageSchema>;
