package store

import (
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole database to w without
// blocking writers. Secrets in the copy stay sealed: restoring it needs
// the same master key.
func (db *DB) Backup(w io.Writer) error {
	return db.BackupSized(func(int64) io.Writer { return w })
}

// BackupSized is Backup for a destination that needs the copy's size in
// bytes before the first byte, as a streamed HTTP response does: start
// receives the size and returns where to write. The copy is exactly that
// long; a shorter one was cut off.
func (db *DB) BackupSized(start func(size int64) io.Writer) error {
	if db.closed.Load() {
		return ErrClosed
	}
	err := db.bolt.View(func(btx *bolt.Tx) error {
		_, err := btx.WriteTo(start(btx.Size()))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

// BackupFile writes a backup to a new file at path (see WriteNewFile).
func (db *DB) BackupFile(path string) error {
	return WriteNewFile(path, db.Backup)
}

// WriteNewFile creates a file at path, 0600, and fills it with fill: the
// way a backup is written, wherever its bytes come from. It refuses to
// overwrite an existing file, syncs the file before it returns, and
// removes a partial one on failure.
func WriteNewFile(path string, fill func(io.Writer) error) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}
