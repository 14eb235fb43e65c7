-- Operator keys' names tell actors apart in the event log: unique, and never
-- a name the log gives others (the administrator's token, the API's own
-- cancels and kills). Keys that break either rule keep working under their
-- name with their id appended; the oldest key of a repeated name keeps it.
UPDATE "operator_keys" AS "key"
   SET "name" = "key"."name" || ' (' || "key"."id"::text || ')'
 WHERE lower(btrim("key"."name")) IN ('admin', 'budget', 'reconciliation')
    OR EXISTS (SELECT 1 FROM "operator_keys" AS "older"
                WHERE "older"."name" = "key"."name"
                  AND ("older"."created_at", "older"."id") < ("key"."created_at", "key"."id"));

-- CreateIndex
CREATE UNIQUE INDEX "operator_keys_name_key" ON "operator_keys"("name");
