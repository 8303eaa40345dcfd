package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchid/latch/auth"
	"github.com/latchid/latch/auth/latchtest"
)

// usersAdd runs `latch users add` and checks the file it writes.
func usersAdd(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".passkey.json")
	out, err := runCmd(t, "users", "add", name, "--passkey-out", path, "--data", dir)
	if err != nil || !strings.Contains(out, name+": added") {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("passkey file: %v, mode %v", err, info.Mode())
	}
	raw, _ := os.ReadFile(path)
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"format", "rp_id", "origin", "credential_id", "user_handle", "username", "private_key_jwk", "private_key_pkcs8"} {
		if f[field] == nil || f[field] == "" {
			t.Fatalf("passkey file lacks %s: %s", field, raw)
		}
	}
	if jwk := f["private_key_jwk"].(map[string]any); jwk["d"] == nil || jwk["crv"] != "P-256" {
		t.Fatalf("private_key_jwk: %v", jwk)
	}
	return path
}

func signInWithFile(t *testing.T, dir, path string) {
	t.Helper()
	srv, err := auth.New(auth.Config{DataDir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	signInThrough(t, srv.Addr(), path)
}

func signInThrough(t *testing.T, addr, path string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	s, err := latchtest.SignIn(context.Background(), latchtest.Config{Issuer: "http://localhost:8080", PasskeyFile: path, HTTPClient: hc})
	if err != nil {
		t.Fatalf("sign-in with %s: %v", path, err)
	}
	req, _ := http.NewRequest("GET", "http://localhost:8080/userinfo", nil)
	res, err := s.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("userinfo: %v %v", err, res)
	}
	res.Body.Close()
}

func TestUsersAddOffline(t *testing.T) {
	dir := newDataDir(t)
	path := usersAdd(t, dir, "carol")
	out, _ := runCmd(t, "users", "list", "--data", dir)
	if !strings.Contains(out, "carol") {
		t.Fatalf("users list:\n%s", out)
	}
	if _, err := runCmd(t, "users", "add", "carol", "--passkey-out", filepath.Join(t.TempDir(), "again.json"), "--data", dir); err == nil {
		t.Fatal("a taken username was accepted")
	}
	if _, err := runCmd(t, "users", "add", "dave", "--passkey-out", path, "--data", dir); err == nil {
		t.Fatal("an existing passkey file was overwritten")
	}
	if out, _ := runCmd(t, "users", "list", "--data", dir); strings.Contains(out, "dave") {
		t.Fatal("an account was created although its passkey could not be written")
	}
	if _, err := runCmd(t, "users", "add", "erin", "--data", dir); err == nil || !strings.Contains(err.Error(), "--passkey-out") {
		t.Fatalf("without --passkey-out: %v", err)
	}
	signInWithFile(t, dir, path)
}

func TestUsersAddThroughARunningServer(t *testing.T) {
	dir, err := os.MkdirTemp("", "latch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, err := auth.New(auth.Config{DataDir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	path := usersAdd(t, dir, "frank")
	signInThrough(t, srv.Addr(), path)
}
