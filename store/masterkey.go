package store

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeyEnv names the environment variable that, when set, supplies the
// key-encryption key instead of the key file.
const MasterKeyEnv = "LATCH_MASTER_KEY"

// MasterKeyFile is the key file's name inside the data directory.
const MasterKeyFile = "master.key"

// MasterKey returns the 32-byte key-encryption key of the store in d. The
// LATCH_MASTER_KEY environment variable (base64, standard or URL alphabet,
// padded or not, or hex) wins; otherwise the key file is read. Only a new
// directory gets a new key file (directory 0700, file 0600, the key stored
// in base64): in a directory that already holds a store a missing key is an
// error wrapping ErrNoMasterKey that says where the key was expected,
// because a new random key could never open that store and might be backed
// up in the real key's place. A key of the wrong size or encoding is an
// error that never echoes the key material.
func (d Dir) MasterKey() ([]byte, error) {
	if v, ok := os.LookupEnv(MasterKeyEnv); ok && strings.TrimSpace(v) != "" {
		key, err := decodeMasterKey(v)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", MasterKeyEnv, err)
		}
		return key, nil
	}
	if d.Path == "" {
		return nil, errors.New("store: master key: empty data directory")
	}
	path := d.KeyPath()
	key, err := readMasterKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := d.checkDB(); err != nil {
		return nil, err // no key because no store: say so
	}
	if !d.New {
		return nil, fmt.Errorf("store: %w: the store in %s needs the master key it was written with, expected in %s or in %s; restore the key file from where you keep it (a new key cannot open this store)",
			ErrNoMasterKey, d.Path, path, MasterKeyEnv)
	}
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return nil, fmt.Errorf("store: master key: %w", err)
	}
	return createMasterKey(path)
}

// LoadOrCreateMasterKey is InspectDir(dataDir) followed by MasterKey: the
// key of the store in dataDir, created only if the directory is new.
func LoadOrCreateMasterKey(dataDir string) ([]byte, error) {
	d, err := InspectDir(dataDir)
	if err != nil {
		return nil, err
	}
	return d.MasterKey()
}

// decodeMasterKey accepts hex or any base64 flavour, and insists on exactly
// KeySize bytes.
func decodeMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("master key must be %d bytes, got %d", KeySize, len(key))
		}
		return key, nil
	}
	return nil, fmt.Errorf("master key must be %d bytes in base64 or hex", KeySize)
}

func readMasterKey(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("store: master key %s is not a regular file", path)
	}
	if info.Mode().Perm()&0o077 != 0 {
		// It decrypts every signing key and TOTP secret: refuse, as ssh does
		// for private keys, rather than run with it exposed.
		return nil, fmt.Errorf("store: master key %s is accessible by group or others (mode %s); run chmod 600 on it",
			path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("store: master key: %w", err)
	}
	key, err := decodeMasterKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("store: master key %s: %w", path, err)
	}
	return key, nil
}

// createMasterKey writes a fresh key to a temporary file and links it into
// place, so a crash never leaves a half-written key and two processes
// starting together end up sharing one key.
func createMasterKey(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("store: master key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".master.key-*")
	if err != nil {
		return nil, fmt.Errorf("store: master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	encoded := base64.StdEncoding.AppendEncode(nil, key)
	encoded = append(encoded, '\n')
	// CreateTemp makes the file 0600 already; the explicit Chmod documents
	// and guarantees it.
	err = errors.Join(tmp.Chmod(0o600), writeAll(tmp, encoded), tmp.Sync())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	clear(encoded)
	if err != nil {
		return nil, fmt.Errorf("store: master key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readMasterKey(path)
		}
		return nil, fmt.Errorf("store: master key: %w", err)
	}
	syncDir(filepath.Dir(path))
	return key, nil
}

func writeAll(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return err
}

// syncDir makes the new directory entry durable. Failure is not fatal: the
// key is already in use and the file content was synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
