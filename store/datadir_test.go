package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLostDatabaseIsNotReplacedByAnEmptyStore damages data directories the
// ways a lost store shows (an empty file beside its key, a key with no file,
// other files with no database): opening must refuse, name the file and
// leave everything as it was.
func TestLostDatabaseIsNotReplacedByAnEmptyStore(t *testing.T) {
	t.Setenv(MasterKeyEnv, "")
	tests := []struct {
		name  string
		files map[string]string // name -> content
	}{
		{"empty database beside its key", map[string]string{DBFile: "", MasterKeyFile: "key"}},
		{"empty database alone", map[string]string{DBFile: ""}},
		{"key without a database", map[string]string{MasterKeyFile: "key"}},
		{"other files without a database", map[string]string{"notes.txt": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			d, err := InspectDir(dir)
			if err != nil || d.New {
				t.Fatalf("InspectDir = %+v, %v; want a directory that is not new", d, err)
			}
			db, err := d.Open(Options{KEK: testKEK})
			if err == nil {
				db.Close()
				t.Fatal("a lost store was opened as an empty one")
			}
			if !errors.Is(err, ErrStoreMissing) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "backup") {
				t.Errorf("want ErrStoreMissing naming %s and a backup, got %v", dir, err)
			}
			info, statErr := os.Stat(d.DBPath())
			_, hadDB := tt.files[DBFile]
			switch {
			case hadDB && (statErr != nil || info.Size() != 0):
				t.Errorf("the empty database was written to (%v, %v)", info, statErr)
			case !hadDB && !os.IsNotExist(statErr):
				t.Errorf("a database was created (stat: %v)", statErr)
			}
			if _, hadKey := tt.files[MasterKeyFile]; !hadKey {
				if _, err := d.MasterKey(); !errors.Is(err, ErrStoreMissing) {
					t.Errorf("MasterKey: want the missing store reported, got %v", err)
				}
				if _, err := os.Stat(d.KeyPath()); !os.IsNotExist(err) {
					t.Errorf("a key file was created (stat: %v)", err)
				}
			}
		})
	}
}

func TestEmptyFileIsRefusedByOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), DBFile)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(Options{Path: path, KEK: testKEK}); !errors.Is(err, ErrStoreMissing) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("Open of an empty file: %v, want ErrStoreMissing", err)
	}
}

func TestNewDirectoryStartsAStore(t *testing.T) {
	t.Setenv(MasterKeyEnv, "")
	dir := filepath.Join(t.TempDir(), "data")
	d, err := InspectDir(dir)
	if err != nil || !d.New {
		t.Fatalf("InspectDir = %+v, %v", d, err)
	}
	key, err := d.MasterKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := d.Open(Options{KEK: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// And it is an existing store from now on.
	d, err = InspectDir(dir)
	if err != nil || d.New {
		t.Fatalf("after the first start: %+v, %v", d, err)
	}
	db, err = d.Open(Options{KEK: key})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}
