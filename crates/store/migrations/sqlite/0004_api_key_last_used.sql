-- When each API key was last used (0: never), so keys without an IP allowlist can stop working
-- after 90 idle days. Written at most once an hour per key. Keep in step with ../postgres.
ALTER TABLE api_keys ADD COLUMN last_used_ms INTEGER NOT NULL DEFAULT 0;
