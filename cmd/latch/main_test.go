package main

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchid/latch/auth"
)

// newDataDir creates a data directory the way a first `latch serve` does.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	srv, err := auth.New(auth.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(args, &out, &errOut)
	return out.String(), err
}

func TestAdminCommands(t *testing.T) {
	dir := newDataDir(t)
	out, err := runCmd(t, "keys", "list", "--data", dir)
	if err != nil || !strings.Contains(out, "ES256") || !strings.Contains(out, "active") {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	out, err = runCmd(t, "keys", "rotate", "--data", dir, "--alg", "EdDSA")
	if err != nil || !strings.Contains(out, "EdDSA") {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	out, _ = runCmd(t, "keys", "list", "--data", dir)
	if strings.Count(out, "\n") != 3 || !strings.Contains(out, "retired, published until") {
		t.Fatalf("after rotation:\n%s", out)
	}

	out, err = runCmd(t, "clients", "add", "resource-api", "--data", dir)
	if err != nil || strings.Count(out, "\n") != 1 || len(strings.TrimSpace(out)) < 40 {
		t.Fatalf("clients add must print only the secret: %v %q", err, out)
	}
	if _, err := runCmd(t, "clients", "add", "resource-api", "--data", dir); err == nil {
		t.Fatal("a duplicate client id was accepted")
	}

	out, err = runCmd(t, "users", "list", "--data", dir)
	if err != nil || !strings.HasPrefix(out, "USERNAME") {
		t.Fatalf("users list: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "users", "disable", "nobody", "--data", dir); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Fatalf("disable unknown user: %v", err)
	}
	if _, err := runCmd(t, "users", "delete", "nobody", "--data", dir); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("delete without --yes: %v", err)
	}
	if _, err := runCmd(t, "users", "delete", "nobody", "--yes", "--data", dir); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Fatalf("delete unknown user: %v", err)
	}

	backup := filepath.Join(t.TempDir(), "copy.db")
	if _, err := runCmd(t, "backup", backup, "--data", dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Size() == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if _, err := runCmd(t, "backup", backup, "--data", dir); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
}

func TestAdminRefusesWhileServing(t *testing.T) {
	dir := newDataDir(t)
	srv, err := auth.New(auth.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := runCmd(t, "users", "list", "--data", dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("want a store-in-use error, got %v", err)
	}
}

// TestAdminCommandsGoThroughARunningServer runs the commands against a
// data directory whose server is serving: they reach it through its admin
// socket instead of failing on the store's lock.
func TestAdminCommandsGoThroughARunningServer(t *testing.T) {
	// A short path: a socket's has a length limit that a test's own temp
	// directory can pass on some systems.
	dir, err := os.MkdirTemp("", "latch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, err := auth.New(auth.Config{DataDir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, "users", "list", "--data", dir)
	if err != nil || !strings.HasPrefix(out, "USERNAME") {
		t.Fatalf("users list: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "users", "disable", "nobody", "--data", dir); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Fatalf("disable unknown user: %v", err)
	}
	out, err = runCmd(t, "keys", "rotate", "--data", dir)
	if err != nil || !strings.Contains(out, "ES256") {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	// The copy, beside the master key, is a data directory of its own,
	// and holds the rotation just made.
	restored := t.TempDir()
	if _, err := runCmd(t, "backup", filepath.Join(restored, "latch.db"), "--data", dir); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runCmd(t, "keys", "list", "--data", restored)
	if err != nil || strings.Count(out, "\n") != 3 || !strings.Contains(out, "retired") {
		t.Fatalf("keys list of the copy: %v\n%s", err, out)
	}
}

func TestServeRejectsBadConfiguration(t *testing.T) {
	cases := map[string][]string{
		"--issuer":     {"--issuer", "ftp://example.com"},
		"--rp-id":      {"--origins", "https://evil.example", "--issuer", "https://id.example.com", "--rp-id", "example.com"},
		"--access-ttl": {"--access-ttl", "soon"},
		"--dpop-nonce": {"--dpop-nonce=maybe"},
		"plain HTTP":   {"--issuer", "http://id.example.com", "--rp-id", "example.com"},
		"--post-rate":  {"--post-rate", "-3"},
		"--begin-rate": {"--begin-rate", "fast"},
	}
	for want, args := range cases {
		_, err := runCmd(t, append([]string{"serve", "--data", t.TempDir()}, args...)...)
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "--")) {
			t.Errorf("%v: error %v should mention %q", args, err, want)
		}
	}
	if _, err := runCmd(t, "frobnicate"); err == nil {
		t.Error("an unknown command was accepted")
	}
}

func TestBooleanFlagsStandAlone(t *testing.T) {
	// A bare --dpop-nonce must not swallow the next argument.
	_, err := runCmd(t, "serve", "--dpop-nonce", "--issuer", "ftp://x", "--data", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "ftp://x") {
		t.Fatalf("want the issuer error, got %v", err)
	}
	t.Setenv("LATCH_REQUIRE_DPOP", "sometimes")
	if _, err := runCmd(t, "serve", "--data", t.TempDir()); err == nil || !strings.Contains(err.Error(), "LATCH_REQUIRE_DPOP") {
		t.Fatalf("a bad boolean in the environment must be reported: %v", err)
	}
}

func TestEnvironmentVariables(t *testing.T) {
	t.Setenv("LATCH_ISSUER", "ftp://from-env")
	if _, err := runCmd(t, "serve", "--data", t.TempDir()); err == nil || !strings.Contains(err.Error(), "ftp://from-env") {
		t.Fatalf("LATCH_ISSUER was not used: %v", err)
	}
}

func TestDebugListenerIsLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:6060", ":6060", "example.com:6060", "nonsense"} {
		if stop, err := serveDebug(addr); err == nil {
			stop()
			t.Errorf("serveDebug(%q) was accepted", addr)
		}
	}
	stop, err := serveDebug("127.0.0.1:0")
	if err != nil {
		t.Fatalf("loopback refused: %v", err)
	}
	stop()
}

func TestRateFlags(t *testing.T) {
	for _, c := range []struct {
		args        []string
		begin, post float64
	}{
		{nil, 10, 20},
		{[]string{"--post-rate", "2.5"}, 10, 2.5},
		{[]string{"--begin-rate", "0"}, -1, 20}, // auth lifts every limit for a negative BeginRate
		{[]string{"--post-rate", "0"}, 10, -1},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		cfg := configFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		got, err := cfg()
		if err != nil || got.BeginRate != c.begin || got.PostRate != c.post {
			t.Errorf("%v: begin %v post %v (%v), want %v %v", c.args, got.BeginRate, got.PostRate, err, c.begin, c.post)
		}
	}
}
