-- When each API key was last used (0: never), so keys without an IP allowlist can stop working
-- after 90 idle days. Written at most once an hour per key. Keep in step with ../sqlite.
ALTER TABLE api_keys ADD COLUMN last_used_ms BIGINT NOT NULL DEFAULT 0;
