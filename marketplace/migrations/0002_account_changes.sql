-- Tokens end when the account changes: every access and refresh token carries the account's
-- token_version (claim `tv`) at issue; a password change, a reset, a change of role bumps it,
-- and a token whose version is not the account's current one is refused.
-- The `users` generation lets every process know, through NOTIFY, which cached user records
-- (user:<id> in Redis) predate a change, even when Redis missed the invalidation.
ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;
INSERT INTO cache_generations (name) VALUES ('users') ON CONFLICT (name) DO NOTHING;

-- Changes made outside the service (an operator's UPDATE or DELETE in psql) must end tokens
-- too: every update or removal of a user bumps the `users` generation and notifies every
-- process on the channel marketplace/generations.py listens on, with the user's id. (The
-- service's own writes bump it as well; one more bump changes nothing.)
CREATE FUNCTION users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    generation bigint;
BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'users'
        RETURNING value INTO generation;
    PERFORM pg_notify('marketplace_generations', 'users:' || generation || ':' || OLD.id);
    RETURN NULL;
END $$;
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_changed();
