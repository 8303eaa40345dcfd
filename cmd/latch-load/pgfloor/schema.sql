-- The tables a passkey sign-in touches, as store/postgres creates them, with
-- 1,000 accounts of one passkey each: the floor benchmark's database.
CREATE TABLE users (id bytea PRIMARY KEY, handle bytea NOT NULL UNIQUE, rec bytea NOT NULL);
CREATE TABLE credentials (id bytea PRIMARY KEY, user_id bytea NOT NULL REFERENCES users (id) ON DELETE CASCADE, rec bytea NOT NULL);
CREATE INDEX ON credentials (user_id);
CREATE TABLE totp (user_id bytea PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE, rec bytea NOT NULL);
CREATE TABLE signin_failures (user_id bytea PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE, rec bytea NOT NULL);
CREATE TABLE sessions (id bytea PRIMARY KEY, user_id bytea NOT NULL, expires_ns bigint, rec bytea NOT NULL);
CREATE INDEX ON sessions (user_id);
CREATE INDEX ON sessions (expires_ns) WHERE expires_ns IS NOT NULL;
CREATE UNLOGGED TABLE pending (id bytea PRIMARY KEY, expires_ns bigint NOT NULL, rec bytea NOT NULL);
CREATE INDEX ON pending (expires_ns);
CREATE TABLE spent (key bytea PRIMARY KEY, until_ns bigint NOT NULL);
CREATE INDEX ON spent (until_ns);
CREATE TABLE audit_queue (id bigserial PRIMARY KEY, rec bytea NOT NULL);
INSERT INTO users SELECT int8send(i), int8send(-i), convert_to(repeat('u', 200), 'UTF8') FROM generate_series(1, 1000) i;
INSERT INTO credentials SELECT int8send(i), int8send(i), convert_to(repeat('c', 300), 'UTF8') FROM generate_series(1, 1000) i;
