package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DBFile is the database file's name inside the data directory.
const DBFile = "latch.db"

// Dir is a data directory as found before its store is opened: the
// database (DBFile) and, unless LATCH_MASTER_KEY supplies the key, the key
// file (MasterKeyFile) beside it.
//
// Whether the directory is new decides what opening may create. Only a new
// directory gets a new store and a new master key; in any other, a missing
// key or database is an error that names what is missing, never a reason to
// start afresh, so a lost file cannot be papered over by an empty store or
// a decoy key.
type Dir struct {
	// Path is the directory.
	Path string
	// New reports that Path holds no store yet: it does not exist or is
	// empty.
	New bool
}

// InspectDir looks at the data directory path before its store is opened
// and reports whether it is new (see Dir).
func InspectDir(path string) (Dir, error) {
	if path == "" {
		return Dir{}, errors.New("store: empty data directory")
	}
	d := Dir{Path: path}
	entries, err := os.ReadDir(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.New = true
		return d, nil
	case err != nil:
		return d, fmt.Errorf("store: data directory: %w", err)
	}
	d.New = len(entries) == 0
	return d, nil
}

// DBPath is the path of the directory's database file.
func (d Dir) DBPath() string { return filepath.Join(d.Path, DBFile) }

// KeyPath is the path of the directory's master key file.
func (d Dir) KeyPath() string { return filepath.Join(d.Path, MasterKeyFile) }

// Open opens the directory's store (opts.Path is set to DBPath). Only a new
// directory gets a new database: in any other, a missing database is an
// error that lists what the directory holds, because a key file or other
// files beside no database mean a store was lost or moved, and starting an
// empty one would lose every account without a word.
func (d Dir) Open(opts Options) (*DB, error) {
	if err := d.checkDB(); err != nil {
		return nil, err
	}
	opts.Path = d.DBPath()
	return Open(opts)
}

// checkDB returns an error wrapping ErrStoreMissing if d is not new but
// has no database file, or one that is empty (see checkFile).
func (d Dir) checkDB() error {
	if d.New {
		return nil
	}
	if _, err := os.Lstat(d.DBPath()); !errors.Is(err, fs.ErrNotExist) {
		return checkFile(d.DBPath())
	}
	return fmt.Errorf("%w: %s has no %s but is not empty (it holds %s): restore %s from a backup; to start a new store, use an empty data directory",
		ErrStoreMissing, d.Path, DBFile, d.contents(), DBFile)
}

// contents names a few of the directory's entries, for an error message.
func (d Dir) contents() string {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return "entries that cannot be listed"
	}
	var names []string
	for i, e := range entries {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(entries)-i))
			break
		}
		names = append(names, e.Name())
	}
	return strings.Join(names, ", ")
}
