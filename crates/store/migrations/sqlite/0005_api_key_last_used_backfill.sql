-- Keys that existed before last-use tracking count as used at upgrade time, so the 90-day idle
-- expiry never stops a key that was in use merely because its use was not recorded. Keep in step
-- with ../postgres.
UPDATE api_keys SET last_used_ms = CAST(strftime('%s', 'now') AS INTEGER) * 1000 WHERE last_used_ms = 0;
