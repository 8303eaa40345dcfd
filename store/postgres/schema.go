package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/latchid/latch/store"
)

// migrationLock is the pg_advisory_lock key under which Open migrates, so
// that nodes starting together migrate once ("latch" in ASCII).
const migrationLock int64 = 0x6c61746368

// migrations are applied in order, each once, each in a transaction that
// also records it in latch_schema_migrations. A released migration is never
// edited: a change is a new one appended.
var migrations = []string{
	// 1: the first schema. Keys and ids are bytea (the store's keys are
	// bytes: ordering is byte order, as in the bbolt file, and no id can
	// fail to be text); times that are compared in SQL are Unix
	// nanoseconds; rec is the record itself, JSON with a "v" field.
	`
CREATE TABLE latch_meta (
	name  text PRIMARY KEY,
	value bytea NOT NULL
);
CREATE TABLE users (
	id       bytea PRIMARY KEY,
	username bytea NOT NULL CONSTRAINT users_username_key UNIQUE,
	handle   bytea NOT NULL CONSTRAINT users_handle_key UNIQUE,
	rec      bytea NOT NULL
);
CREATE TABLE credentials (
	id      bytea PRIMARY KEY,
	user_id bytea NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	rec     bytea NOT NULL
);
CREATE INDEX credentials_user_id ON credentials (user_id);
CREATE TABLE totp (
	user_id bytea PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	rec     bytea NOT NULL
);
CREATE TABLE recovery_codes (
	user_id bytea PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	rec     bytea NOT NULL
);
CREATE TABLE signin_failures (
	user_id bytea PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	rec     bytea NOT NULL
);
CREATE TABLE sessions (
	id         bytea PRIMARY KEY,
	user_id    bytea NOT NULL,
	expires_ns bigint,
	rec        bytea NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_ns) WHERE expires_ns IS NOT NULL;
CREATE TABLE refresh_tokens (
	hash     bytea PRIMARY KEY,
	sweep_ns bigint,
	rec      bytea NOT NULL
);
CREATE INDEX refresh_tokens_sweep ON refresh_tokens (sweep_ns) WHERE sweep_ns IS NOT NULL;
CREATE TABLE revoked (
	key      bytea PRIMARY KEY,
	until_ns bigint NOT NULL,
	rec      bytea NOT NULL
);
CREATE INDEX revoked_until ON revoked (until_ns);
CREATE TABLE ceremonies (
	id         bytea PRIMARY KEY,
	expires_ns bigint NOT NULL,
	rec        bytea NOT NULL
);
CREATE INDEX ceremonies_expires ON ceremonies (expires_ns);
CREATE UNLOGGED TABLE pending (
	id         bytea PRIMARY KEY,
	expires_ns bigint NOT NULL,
	rec        bytea NOT NULL
);
CREATE INDEX pending_expires ON pending (expires_ns);
CREATE TABLE audit (
	seq bigint PRIMARY KEY,
	mac bytea NOT NULL,
	rec bytea NOT NULL
);
CREATE TABLE audit_queue (
	id  bigserial PRIMARY KEY,
	rec bytea NOT NULL
);
CREATE TABLE audit_head (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	genesis bigint NOT NULL,
	last    bigint NOT NULL,
	mac     bytea NOT NULL
);
CREATE TABLE signing_keys (
	id  bytea PRIMARY KEY,
	rec bytea NOT NULL
);
CREATE TABLE clients (
	id  bytea PRIMARY KEY,
	rec bytea NOT NULL
);
CREATE TABLE consents (
	user_id   bytea NOT NULL,
	client_id bytea NOT NULL,
	rec       bytea NOT NULL,
	PRIMARY KEY (user_id, client_id)
);
CREATE TABLE status_lists (
	id  bytea PRIMARY KEY,
	rec bytea NOT NULL
);
CREATE TABLE status_entries (
	list_id bytea NOT NULL,
	idx     integer NOT NULL,
	status  smallint NOT NULL DEFAULT 0,
	PRIMARY KEY (list_id, idx)
);
CREATE INDEX status_entries_set ON status_entries (list_id) WHERE status <> 0;
CREATE TABLE spent (
	key      bytea PRIMARY KEY,
	until_ns bigint NOT NULL
);
CREATE INDEX spent_until ON spent (until_ns);
`,
	// 2: a session cannot move to another user. The database refuses
	// it, so that PutSession need not wait for its row count and can
	// travel with the transaction's next round trip.
	`
CREATE FUNCTION latch_sessions_keep_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.user_id <> OLD.user_id THEN
		RAISE EXCEPTION 'session belongs to another user' USING ERRCODE = '` + sessionMovedCode + `';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER sessions_keep_user BEFORE UPDATE OF user_id ON sessions
	FOR EACH ROW EXECUTE FUNCTION latch_sessions_keep_user();
`,
}

// sessionMovedCode is the SQLSTATE the trigger of migration 2 raises (a
// code of its own in the class of integrity constraint violations).
const sessionMovedCode = "23L01"

// keyCheckName names the sealed constant in latch_meta that proves, at
// Open, that the key-encryption key is the one the database was written
// with.
const keyCheckName = "kek_check"

// migrate brings the schema up to date and checks the key, under the
// advisory lock, on one connection of its own.
func (db *DB) migrate(ctx context.Context) (applied int, err error) {
	conn, err := pgx.ConnectConfig(ctx, db.cfg.ConnConfig.Copy())
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return 0, fmt.Errorf("migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLock)
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS latch_schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return 0, fmt.Errorf("migration table: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM latch_schema_migrations").Scan(&have); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if have > len(migrations) {
		return 0, fmt.Errorf("the database's schema (version %d) is newer than this program's (%d): upgrade the program", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO latch_schema_migrations (version) VALUES ($1)", v)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %d: %w", v, err)
		}
		applied++
	}
	return applied, db.checkKey(ctx, conn)
}

// checkKey records the key check in a new database, or verifies it.
func (db *DB) checkKey(ctx context.Context, conn *pgx.Conn) error {
	aad := store.SealAAD("meta", keyCheckName)
	var sealed []byte
	err := conn.QueryRow(ctx, "SELECT value FROM latch_meta WHERE name = $1", keyCheckName).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		sealed, err = db.sealer.Seal([]byte(store.KeyCheckPlaintext), aad)
		if err != nil {
			return err
		}
		_, err = conn.Exec(ctx, "INSERT INTO latch_meta (name, value) VALUES ($1, $2)", keyCheckName, sealed)
		return err
	}
	if err != nil {
		return fmt.Errorf("key check: %w", err)
	}
	plain, err := db.sealer.Open(sealed, aad)
	if err != nil || string(plain) != store.KeyCheckPlaintext {
		return fmt.Errorf("master key does not match this database: %w", store.ErrWrongKey)
	}
	return nil
}
