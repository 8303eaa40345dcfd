package postgres

import "context"

// SchemaVersions counts the rows of the migration table.
func (db *DB) SchemaVersions(ctx context.Context) (n int, err error) {
	err = db.pool.QueryRow(ctx, "SELECT count(*) FROM latch_schema_migrations").Scan(&n)
	return n, err
}

// Exec runs a statement, for tests that alter the database behind the
// store's back.
func (db *DB) Exec(ctx context.Context, sql string) error {
	_, err := db.exec(ctx, sql)
	return err
}

// Migrations is how many schema migrations this program has.
var Migrations = len(migrations)
