package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
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

// ErrStoreExists is returned by RestoreFile when the destination already
// holds a store and replacing it was not asked for.
var ErrStoreExists = errors.New("store: a store already exists there")

// maxCheckErrors bounds how many of bbolt's consistency errors Check
// reports: a damaged file can yield one per page.
const maxCheckErrors = 5

// errDamaged marks a Check failure found in the file's structure.
var errDamaged = errors.New("the file is damaged")

// Check verifies that db is a whole, consistent Latch store: the file is as
// long as its pages need, every record of every bucket reads back in key
// order, bbolt's consistency check passes (every page reachable or free,
// none twice), the key check is there (Open has verified it against the
// key), and every sealed secret opens with the key. It only reads.
//
// A damaged file can fault the process when a page is read through the
// map: run Check on a file of unknown origin through VerifyFile.
func (db *DB) Check(ctx context.Context) error {
	if db.closed.Load() {
		return ErrClosed
	}
	return db.bolt.View(func(btx *bolt.Tx) error {
		fi, err := os.Stat(db.bolt.Path())
		if err != nil {
			return fmt.Errorf("store: check: %w", err)
		}
		// Before any page is read: a page past the end of the file would
		// fault the process when read through the map.
		if fi.Size() < btx.Size() {
			return fmt.Errorf("store: check: %w: truncated (%d bytes, its pages need %d)", errDamaged, fi.Size(), btx.Size())
		}
		meta := btx.Bucket(bucketMeta)
		if meta == nil || meta.Get(keyCheckName) == nil {
			return errors.New("store: check: not a Latch store (no key check)")
		}
		// Every page read here, in the caller's goroutine, first: bbolt's
		// own check below reads them in goroutines of its own, where a
		// fault could not be recovered.
		if err := readAll(btx.Cursor(), nil); err != nil {
			return fmt.Errorf("store: check: %w: %v", errDamaged, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var errs []error
		for err := range btx.Check() {
			if len(errs) < maxCheckErrors {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("store: check: %w: %w", errDamaged, errors.Join(errs...))
		}
		tx := &boltTx{btx: btx, db: db}
		if btx.Bucket(bucketSigningKeys) != nil {
			if _, err := tx.SigningKeys(); err != nil {
				return fmt.Errorf("store: check: %w", err)
			}
		}
		if b := btx.Bucket(bucketTOTP); b != nil {
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if _, err := tx.TOTP(string(k)); err != nil {
					return fmt.Errorf("store: check: %w", err)
				}
			}
		}
		return nil
	})
}

// readAll reads every key and value under c, descending into nested
// buckets (b is the bucket of c, nil at the root), and checks that the keys
// come in order.
func readAll(c *bolt.Cursor, b *bolt.Bucket) error {
	var prev []byte
	sum := crc32.NewIEEE()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return fmt.Errorf("keys out of order after %q", prev)
		}
		prev = k
		// Touch every byte, so that every page has been read.
		sum.Write(k)
		sum.Write(v)
		if v != nil {
			continue
		}
		var child *bolt.Bucket
		if b == nil {
			child = c.Bucket().Tx().Bucket(k)
		} else {
			child = b.Bucket(k)
		}
		if child != nil {
			if err := readAll(child.Cursor(), child); err != nil {
				return fmt.Errorf("bucket %q: %w", k, err)
			}
		}
	}
	return nil
}

// VerifyFile opens the store file at path read-only with kek and runs
// Check on it. A file that is not a store, is damaged or truncated, or was
// written under another key (ErrWrongKey) is an error; the file is left
// as it was.
func VerifyFile(ctx context.Context, path string, kek []byte) error {
	// A truncated or damaged file faults the process when a missing page
	// is read through the map, which Open may do before Check can measure
	// the file; in a goroutine of its own such a fault becomes a panic,
	// and so an error.
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("store: %s: %w: %v", path, errDamaged, r)
			}
		}()
		debug.SetPanicOnFault(true)
		db, err := Open(Options{Path: path, KEK: kek, ReadOnly: true, Timeout: 500 * time.Millisecond})
		if err != nil {
			done <- err
			return
		}
		err = db.Check(ctx)
		if errors.Is(err, errDamaged) {
			// Left open: on damage bbolt's check can stop with a
			// goroutine of its own still reading the map, which a close
			// would unmap under it. The caller (a restore) ends soon.
			done <- err
			return
		}
		done <- errors.Join(err, db.Close())
	}()
	return <-done
}

// RestoreFile installs a copy of the backup at src as the store file dst,
// once the copy has passed VerifyFile with kek. The copy is written beside
// dst, synced and renamed into place, so dst is at every moment either the
// old store or the whole new one. A dst held by a running process is
// refused (ErrInUse); an existing dst is refused (ErrStoreExists) unless
// replace is set, and a replaced store is kept, linked under the returned
// name beside it.
func RestoreFile(ctx context.Context, src, dst string, kek []byte, replace bool) (kept string, err error) {
	exists, err := storeFileInUse(dst)
	if err != nil {
		return "", err
	}
	if exists && !replace {
		return "", fmt.Errorf("%w: %s", ErrStoreExists, dst)
	}
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("store: restore: %s is not a regular file", src)
	}
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".restore-*")
	if err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a rename or a link, only the temporary name goes
	_, err = io.Copy(tmp, in)
	err = errors.Join(err, tmp.Chmod(0o600), tmp.Sync())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("store: restore: copy %s: %w", src, err)
	}
	// The copy is what gets installed, so the copy is what is checked.
	if err := VerifyFile(ctx, tmp.Name(), kek); err != nil {
		return "", fmt.Errorf("store: restore: %s: %w", src, err)
	}
	// Once more, just before the swap: a server may have started meanwhile.
	if exists, err = storeFileInUse(dst); err != nil {
		return "", err
	}
	switch {
	case !exists:
		// A link fails if a store appeared meanwhile: never overwritten
		// unasked.
		if err := os.Link(tmp.Name(), dst); errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%w: %s", ErrStoreExists, dst)
		} else if err != nil {
			return "", fmt.Errorf("store: restore: %w", err)
		}
	case !replace:
		return "", fmt.Errorf("%w: %s", ErrStoreExists, dst)
	default:
		kept = dst + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Link(dst, kept); err != nil {
			return "", fmt.Errorf("store: restore: keep the replaced store: %w", err)
		}
		if err := os.Rename(tmp.Name(), dst); err != nil {
			_ = os.Remove(kept)
			return "", fmt.Errorf("store: restore: %w", err)
		}
	}
	syncDir(dir)
	return kept, nil
}

// storeFileInUse reports whether a store file exists at path, and fails
// with ErrInUse while a process holds it. A damaged file is not in use:
// it may be replaced.
func storeFileInUse(path string) (exists bool, err error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("store: restore: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("store: restore: %s is not a regular file", path)
	}
	// A shared lock, as a reader takes: refused while a server (which
	// holds it exclusively) runs.
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return true, fmt.Errorf("store: restore: %s: %w", path, ErrInUse)
	}
	if err == nil {
		_ = bdb.Close()
	}
	return true, nil
}
