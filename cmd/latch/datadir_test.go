package main

import (
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchid/latch/auth"
)

// TestMissingMasterKeyIsReportedNotReplaced removes the key file of a
// store: serve and the offline commands must say where the key was
// expected, and must not leave a new (useless) key behind.
func TestMissingMasterKeyIsReportedNotReplaced(t *testing.T) {
	t.Setenv("LATCH_MASTER_KEY", "")
	dir := newDataDir(t)
	keyPath := filepath.Join(dir, "master.key")
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--data", dir},
		{"users", "list", "--data", dir},
		{"backup", filepath.Join(t.TempDir(), "copy.db"), "--data", dir},
	} {
		_, err := runCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), "master key missing") || !strings.Contains(err.Error(), keyPath) {
			t.Errorf("%s: want an error naming the missing key %s, got %v", args[0], keyPath, err)
		}
		if _, err := os.Stat(keyPath); !os.IsNotExist(err) {
			t.Fatalf("%s wrote a new master key beside the store (stat: %v)", args[0], err)
		}
	}

	// A backup restored into a directory of its own, with the key in the
	// environment instead of beside it, opens.
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(key)))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LATCH_MASTER_KEY", base64.StdEncoding.EncodeToString(raw))
	srv, err := auth.New(auth.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("with LATCH_MASTER_KEY: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keyPath); !os.IsNotExist(err) {
		t.Fatalf("a key file was written although the environment supplied the key (stat: %v)", err)
	}
}

// TestEmptyDatabaseBesideItsKeyDoesNotStart truncates a store's file to
// nothing, as a full disk or a bad copy can: the start must fail and say
// so, not come up ready with every account gone.
func TestEmptyDatabaseBesideItsKeyDoesNotStart(t *testing.T) {
	t.Setenv("LATCH_MASTER_KEY", "")
	dir := newDataDir(t)
	dbPath := filepath.Join(dir, "latch.db")
	if err := os.Truncate(dbPath, 0); err != nil {
		t.Fatal(err)
	}
	srv, err := auth.New(auth.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		srv.Close()
		t.Fatal("a store whose file is empty started as a new store")
	}
	if !strings.Contains(err.Error(), dbPath) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("the error does not name the empty file: %v", err)
	}
	if info, err := os.Stat(dbPath); err != nil || info.Size() != 0 {
		t.Errorf("the empty file was written to: %v %v", info, err)
	}
	// The offline commands refuse it too.
	if _, err := runCmd(t, "users", "list", "--data", dir); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("users list: want the empty file reported, got %v", err)
	}
}

// TestNewDataDirectoryStarts: starting afresh stays the default for a
// missing or empty directory.
func TestNewDataDirectoryStarts(t *testing.T) {
	t.Setenv("LATCH_MASTER_KEY", "")
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "new")} {
		srv, err := auth.New(auth.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"latch.db", "master.key"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("first start left no %s: %v", name, err)
			}
		}
	}
}
