-- Revoking an operator key ends the live streams it holds on every API
-- instance: each LISTENs on this channel (payload the key's id), as for its
-- session streams. A trigger, so that every revoke (any instance, an
-- operator's SQL) is heard alike.
CREATE FUNCTION "mosaic_notify_operator_key_revoked"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mosaic_operator_keys_revoked', NEW."id"::text);
  RETURN NULL;
END $$;

CREATE TRIGGER "operator_keys_notify_revoked"
  AFTER UPDATE OF "revoked_at" ON "operator_keys"
  FOR EACH ROW WHEN (OLD."revoked_at" IS NULL AND NEW."revoked_at" IS NOT NULL)
  EXECUTE FUNCTION "mosaic_notify_operator_key_revoked"();
