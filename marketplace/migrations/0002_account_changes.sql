-- Tokens end when the account changes: every access and refresh token carries the account's
-- token_version (claim `tv`) at issue; a password change, a reset, a change of role bumps it,
-- and a token whose version is not the account's current one is refused.
-- The `users` generation lets every process know, through NOTIFY, which cached user records
-- (user:<id> in Redis) predate a change, even when Redis missed the invalidation.
ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;
INSERT INTO cache_generations (name) VALUES ('users') ON CONFLICT (name) DO NOTHING;
