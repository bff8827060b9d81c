-- Keys that existed before last-use tracking count as used at upgrade time, so the 90-day idle
-- expiry never stops a key that was in use merely because its use was not recorded. Keep in step
-- with ../sqlite.
UPDATE api_keys SET last_used_ms = CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT) WHERE last_used_ms = 0;
