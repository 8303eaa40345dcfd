package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
