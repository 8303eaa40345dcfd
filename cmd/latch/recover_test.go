package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/latchid/latch/auth"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// startServer runs a server on dir, listening on a free port, until the
// test ends or stop is called.
func startServer(t *testing.T, dir string) (addr string, stop func()) {
	t.Helper()
	srv, err := auth.New(auth.Config{DataDir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	var once bool
	stop = func() {
		if !once {
			once = true
			srv.Close()
		}
	}
	t.Cleanup(stop)
	return srv.Addr(), stop
}

func postJSON(t *testing.T, addr, path string, body any) map[string]any {
	t.Helper()
	raw, _ := json.Marshal(body)
	res, err := http.Post("http://"+addr+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != 200 {
		t.Fatalf("%s: %d %v", path, res.StatusCode, out)
	}
	return out
}

// signUpOver makes an account with a software passkey on the server at
// addr (issuer and origin are the default, http://localhost:8080).
func signUpOver(t *testing.T, addr, name string) {
	t.Helper()
	begin := postJSON(t, addr, "/webauthn/register/begin", map[string]any{"username": name})
	opts, _ := json.Marshal(begin["publicKey"])
	cred, err := webauthntest.New("localhost", "http://localhost:8080").Create(opts, webauthntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	postJSON(t, addr, "/webauthn/register/finish", map[string]any{"ceremony": begin["ceremony"], "credential": json.RawMessage(cred)})
}

// checkRecoveryLink checks the link a command printed and that the server
// at addr opens its passkey registration.
func checkRecoveryLink(t *testing.T, addr, out string) {
	t.Helper()
	link := strings.TrimSpace(out)
	u, err := url.Parse(link)
	if err != nil || strings.Count(out, "\n") != 1 || u.Scheme+"://"+u.Host+u.Path != "http://localhost:8080/recover" {
		t.Fatalf("users recover printed %q", out)
	}
	frag, _ := url.ParseQuery(u.Fragment)
	begin := postJSON(t, addr, "/recovery/register/begin", map[string]any{"recovery_token": frag.Get("token")})
	if begin["ceremony"] == nil || begin["publicKey"] == nil {
		t.Fatalf("register/begin: %v", begin)
	}
}

func TestUsersRecover(t *testing.T) {
	t.Run("offline", func(t *testing.T) {
		dir := t.TempDir()
		addr, stop := startServer(t, dir)
		signUpOver(t, addr, "alice")
		stop()
		if _, err := runCmd(t, "users", "recover", "nobody", "--data", dir); err == nil || !strings.Contains(err.Error(), "no user") {
			t.Fatalf("unknown user: %v", err)
		}
		if _, err := runCmd(t, "users", "recover", "--data", dir); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Fatalf("no name: %v", err)
		}
		out, err := runCmd(t, "users", "recover", "alice", "--data", dir)
		if err != nil {
			t.Fatal(err)
		}
		addr, _ = startServer(t, dir)
		checkRecoveryLink(t, addr, out)
	})
	t.Run("through the running server", func(t *testing.T) {
		dir, err := os.MkdirTemp("", "latch") // a socket path has a length limit
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		addr, _ := startServer(t, dir)
		signUpOver(t, addr, "alice")
		out, err := runCmd(t, "users", "recover", "alice", "--data", dir)
		if err != nil {
			t.Fatal(err)
		}
		checkRecoveryLink(t, addr, out)
	})
}
