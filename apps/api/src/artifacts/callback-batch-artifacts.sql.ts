/*
 * The artifacts of the callback batch (callbacks/callback-batch.sql.ts): a CTE that reads the batch's `input` rows
 * and the CTEs named in its header.
 */

/**
 * Store artifact: the content of each new `artifact` event, by (session, name), replacing what an earlier event of
 * that name stored (an orchestrator that restarts sends its artifacts again, under new event ids). A redelivered
 * event is no new event, so it stores nothing again. Its event keeps the rest of `data` (name, media type, size, hash).
 * Input: owned (n, id), inserted (session_id), input (type, data, content_base64).
 * Output: none; `orchestrator_session_artifacts` changed.
 */
export const STORE_ARTIFACT = `artifact_stored AS (
      INSERT INTO orchestrator_session_artifacts AS a (session_id, name, media_type, size, sha256, truncated, content)
      SELECT o.id, i.data->>'name', i.data->>'media_type', (i.data->>'size')::bigint, i.data->>'sha256',
             (i.data->>'truncated')::boolean, decode(i.content_base64, 'base64')
        FROM owned AS o JOIN input AS i ON i.n = o.n JOIN inserted ON inserted.session_id = o.id
       WHERE i.type = 'artifact'
      ON CONFLICT (session_id, name) DO UPDATE
         SET media_type = EXCLUDED.media_type, size = EXCLUDED.size, sha256 = EXCLUDED.sha256, truncated = EXCLUDED.truncated,
             content = EXCLUDED.content, created_at = now()
    )`;
