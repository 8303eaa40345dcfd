package store

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMasterKeyFileIsCreatedPrivateAndStable(t *testing.T) {
	t.Setenv(MasterKeyEnv, "")
	dir := filepath.Join(t.TempDir(), "data")
	first, err := LoadOrCreateMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != KeySize {
		t.Fatalf("key length = %d", len(first))
	}
	info, err := os.Stat(filepath.Join(dir, MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %v, want 0600", perm)
	}
	dirInfo, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := dirInfo.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode = %v, want 0700", perm)
	}
	second, err := LoadOrCreateMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("key changed between calls")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only the key file", len(entries))
	}
}

func TestMasterKeyFromEnvironment(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 11)[:KeySize]
	tests := []struct {
		name  string
		value string
	}{
		{"standard base64", base64.StdEncoding.EncodeToString(key)},
		{"unpadded base64", base64.RawStdEncoding.EncodeToString(key)},
		{"url-safe base64", base64.URLEncoding.EncodeToString(key)},
		{"hex", hex.EncodeToString(key)},
		{"surrounding whitespace is ignored", "  " + hex.EncodeToString(key) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(MasterKeyEnv, tt.value)
			dir := t.TempDir()
			got, err := LoadOrCreateMasterKey(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, key) {
				t.Fatalf("key = %x, want %x", got, key)
			}
			if _, err := os.Stat(filepath.Join(dir, MasterKeyFile)); !os.IsNotExist(err) {
				t.Errorf("a key file was written although the environment supplied the key")
			}
		})
	}
}

func TestMasterKeyRejectsBadMaterial(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name    string
		env     string
		file    string
		secrets string // must not appear in the error
	}{
		{name: "short key in environment", env: short, secrets: short},
		{name: "garbage in environment", env: "not a key!!", secrets: "not a key"},
		{name: "short key in file", file: short, secrets: short},
		{name: "long key in file", file: base64.StdEncoding.EncodeToString(make([]byte, 64))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(MasterKeyEnv, tt.env)
			dir := t.TempDir()
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(dir, MasterKeyFile), []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadOrCreateMasterKey(dir)
			if err == nil {
				t.Fatal("bad key material accepted")
			}
			if tt.secrets != "" && strings.Contains(err.Error(), tt.secrets) {
				t.Errorf("error echoes the key material: %v", err)
			}
		})
	}
}

func TestMasterKeyFileOpenToOthersIsRefused(t *testing.T) {
	t.Setenv(MasterKeyEnv, "")
	dir := t.TempDir()
	if _, err := LoadOrCreateMasterKey(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, MasterKeyFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateMasterKey(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable master key was accepted: %v", err)
	}
}

func TestMissingMasterKeyOfAnExistingStoreIsNotReplaced(t *testing.T) {
	t.Setenv(MasterKeyEnv, "")
	dir := t.TempDir()
	// A store restored from a backup, or one whose key file was lost: the
	// database is there, the key is not.
	db := openAt(t, filepath.Join(dir, DBFile))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreateMasterKey(dir)
	if !errors.Is(err, ErrNoMasterKey) {
		t.Fatalf("err = %v, want ErrNoMasterKey", err)
	}
	keyPath := filepath.Join(dir, MasterKeyFile)
	if !strings.Contains(err.Error(), keyPath) || !strings.Contains(err.Error(), MasterKeyEnv) {
		t.Errorf("the error does not say where the key was expected: %v", err)
	}
	if _, err := os.Stat(keyPath); !os.IsNotExist(err) {
		t.Fatalf("a new key file was written beside an existing store (stat: %v)", err)
	}

	// The key given in the environment opens it.
	t.Setenv(MasterKeyEnv, base64.StdEncoding.EncodeToString(testKEK))
	key, err := LoadOrCreateMasterKey(dir)
	if err != nil || !bytes.Equal(key, testKEK) {
		t.Fatalf("key from the environment: %v", err)
	}
	openAt(t, filepath.Join(dir, DBFile))
}

func TestNewDirectoryGetsAKey(t *testing.T) {
	t.Setenv(MasterKeyEnv, "")
	for name, dir := range map[string]string{
		"missing directory": filepath.Join(t.TempDir(), "data"),
		"empty directory":   t.TempDir(),
	} {
		t.Run(name, func(t *testing.T) {
			d, err := InspectDir(dir)
			if err != nil || !d.New {
				t.Fatalf("InspectDir = %+v, %v; want a new directory", d, err)
			}
			if _, err := d.MasterKey(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, MasterKeyFile)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
