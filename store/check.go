package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// checkFile looks at an existing database file before bbolt maps it.
// bbolt turns an empty file into a new store without a word, which would
// start a store whose file was lost to a full disk or a bad copy as an
// empty one: every account gone and the service ready.
func checkFile(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("store: open %s: not a regular file", path)
	}
	if info.Size() == 0 {
		return fmt.Errorf("%w: %s is empty (0 bytes), so the accounts it held are gone: restore it from a backup; to start a new store instead, remove it (and its master key) or use an empty data directory", ErrStoreMissing, path)
	}
	return nil
}
