package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// serving starts e's server listening, with its admin socket, and returns
// a client of that socket.
func (e *env) serving() *AdminClient {
	e.t.Helper()
	if err := e.srv.Open(); err != nil {
		e.t.Fatal(err)
	}
	c, err := DialAdmin(e.cfg.DataDir)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// socketTest makes a server listen on any free port, in a data directory
// with a short path: a socket's path has a length limit (104 bytes on
// some systems) that a test's own temp directory can pass.
func socketTest(t *testing.T) func(*Config) {
	dir, err := os.MkdirTemp("", "latch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return func(c *Config) { c.Addr, c.DataDir = "127.0.0.1:0", dir }
}

// TestAdminThroughRunningServer drives every operator command through the
// socket of a running server and checks that each takes effect in it at
// once, with no restart.
func TestAdminThroughRunningServer(t *testing.T) {
	e := newEnv(t, socketTest(t))
	alice := e.newUser("alice", true)
	alice.signUp()
	bob := e.newUser("bob", false)
	bob.signUp()
	a := e.serving()
	ctx := context.Background()

	fi, err := os.Lstat(AdminSocketPath(e.cfg.DataDir))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file: %v %v", fi, err)
	}
	if _, err := OpenAdmin(e.cfg); !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("the store must stay the server's: %v", err)
	}

	users, err := a.Users(ctx)
	if err != nil || len(users) != 2 || users[0].Passkeys != 1 {
		t.Fatalf("users: %+v %v", users, err)
	}

	// Disabling refuses the account's live tokens at the next request:
	// the blacklist and the profile cache are the server's own.
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("userinfo before: %s", r.raw)
	}
	if err := a.SetDisabled(ctx, "ALICE", true); err != nil {
		t.Fatal(err)
	}
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	expectError(t, alice.signIn("", webauthntest.Options{}), 403, "account_disabled")
	if r := bob.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("bob was affected: %s", r.raw)
	}
	// Enabling drops the profile a request may have cached while the
	// account was disabled.
	sub := jwtPart(t, alice.access, 1)["sub"].(string)
	if p, err := e.srv.users.get(ctx, e.srv.db, sub); err != nil || !p.Disabled {
		t.Fatalf("cached profile: %+v %v", p, err)
	}
	if err := a.SetDisabled(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	if r := alice.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("sign-in after enable: %s", r.raw)
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("userinfo after enable: %d %s", r.status, r.raw)
	}
	var e404 *Error
	if err := a.SetDisabled(ctx, "nobody", true); !errors.As(err, &e404) || e404.Status != 404 || !strings.Contains(err.Error(), "no user") {
		t.Fatalf("unknown user: %v", err)
	}

	// A client made through the socket can introspect right away.
	secret, err := a.CreateClient(ctx, "api")
	if err != nil || len(secret) < 40 {
		t.Fatalf("create client: %q %v", secret, err)
	}
	if _, err := a.CreateClient(ctx, "api"); err == nil {
		t.Fatal("a duplicate client id was accepted")
	}
	if r := e.introspect("api", secret, bob.access); r.status != 200 || r.body["active"] != true {
		t.Fatalf("introspect with the new client: %d %s", r.status, r.raw)
	}
	// A rotated secret replaces the old one at once, and a removed
	// client is refused at once.
	rotated, err := a.RotateClientSecret(ctx, "api")
	if err != nil || len(rotated) < 40 || rotated == secret {
		t.Fatalf("rotate secret: %q %v", rotated, err)
	}
	expectError(t, e.introspect("api", secret, bob.access), 401, "invalid_client")
	if r := e.introspect("api", rotated, bob.access); r.status != 200 || r.body["active"] != true {
		t.Fatalf("introspect with the rotated secret: %d %s", r.status, r.raw)
	}
	clients, err := a.Clients(ctx)
	if err != nil || len(clients) != 1 || clients[0].ID != "api" || clients[0].RotatedAt.IsZero() {
		t.Fatalf("clients: %+v %v", clients, err)
	}
	if err := a.DeleteClient(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	expectError(t, e.introspect("api", rotated, bob.access), 401, "invalid_client")
	if err := a.DeleteClient(ctx, "api"); !errors.As(err, &e404) || e404.Status != 404 || !strings.Contains(err.Error(), "no client") {
		t.Fatalf("removing an unknown client: %v", err)
	}
	if _, err := a.RotateClientSecret(ctx, "api"); !errors.As(err, &e404) || e404.Status != 404 {
		t.Fatalf("rotating an unknown client: %v", err)
	}
	if clients, err := a.Clients(ctx); err != nil || len(clients) != 0 {
		t.Fatalf("clients after remove: %+v %v", clients, err)
	}

	// A rotation signs the next token with the new key, which the JWKS
	// publishes beside the old one.
	oldKid := jwtPart(t, bob.access, 0)["kid"]
	k, err := a.RotateKeys(ctx, "EdDSA")
	if err != nil || k.Alg != "EdDSA" || k.ID == oldKid {
		t.Fatalf("rotate: %+v %v", k, err)
	}
	if _, err := a.RotateKeys(ctx, "HS256"); err == nil {
		t.Fatal("rotation to HS256 was accepted")
	}
	keys, err := a.Keys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys: %+v %v", keys, err)
	}
	bob.refreshTokens()
	if h := jwtPart(t, bob.access, 0); h["kid"] != k.ID || h["alg"] != "EdDSA" {
		t.Fatalf("token after rotation signed with %v", h)
	}
	jwks := string(e.request("GET", "/.well-known/jwks.json", nil, nil).raw)
	if !strings.Contains(jwks, k.ID) || !strings.Contains(jwks, oldKid.(string)) {
		t.Fatalf("jwks after rotation: %s", jwks)
	}

	// A backup is a store with the same accounts, taken while serving.
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := a.Backup(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if err := a.Backup(path); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
	db, err := store.Open(store.Options{Path: path, KEK: e.cfg.MasterKey, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(ctx, func(tx store.Tx) error {
		users, err := tx.Users()
		if err == nil && len(users) != 2 {
			t.Errorf("%d users in the backup, want 2", len(users))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// A deletion refuses the account's tokens at once.
	if err := a.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	expectError(t, bob.call("GET", "/userinfo", nil), 401, "invalid_token")
	if users, err := a.Users(ctx); err != nil || len(users) != 1 || users[0].Username != "alice" {
		t.Fatalf("users after deleting bob: %+v %v", users, err)
	}
	if err := a.DeleteUser(ctx, "bob"); !errors.As(err, &e404) || e404.Status != 404 {
		t.Fatalf("deleting bob again: %v", err)
	}
}

// TestAdminSocketRejectsMalformedCommands checks the socket's own input
// handling: unknown commands and fields, bodies over the limit.
func TestAdminSocketRejectsMalformedCommands(t *testing.T) {
	e := newEnv(t, socketTest(t))
	a := e.serving()
	ctx := context.Background()
	cases := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/v1/nothing", "", 404},
		{"POST", "/v1/users/disable", `{"username":"alice","extra":1}`, 400},
		{"POST", "/v1/users/disable", `{"username":`, 400},
		{"POST", "/v1/clients", `{"id":"` + strings.Repeat("a", adminBodyLimit) + `"}`, 400},
		{"DELETE", "/v1/users", "", 405},
		{"GET", "/v1/audit?since=yesterday", "", 400},
		{"POST", "/v1/clients/delete", `{"id":"nobody"}`, 404},
		{"POST", "/v1/clients/rotate-secret", `{"id":""}`, 404},
	}
	for _, tc := range cases {
		req, _ := http.NewRequestWithContext(ctx, tc.method, "http://latch"+tc.path, strings.NewReader(tc.body))
		res, err := a.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body errorBody
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != tc.status || err != nil || body.Error == "" || body.Description == "" {
			t.Errorf("%s %s: status %d, want %d, body %+v (%v)", tc.method, tc.path, res.StatusCode, tc.status, body, err)
		}
	}
}

// TestAdminSocketReplacesAStaleOne checks that a socket file left by a
// server that died is replaced, and that the file goes when the server
// stops.
func TestAdminSocketReplacesAStaleOne(t *testing.T) {
	e := newEnv(t, socketTest(t))
	path := AdminSocketPath(e.cfg.DataDir)
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	// Forget the listener without removing its file, as a crash does.
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	a := e.serving()
	if _, err := a.Users(context.Background()); err != nil {
		t.Fatalf("through the new socket: %v", err)
	}
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file after close: %v", err)
	}
	if _, err := DialAdmin(e.cfg.DataDir); !errors.Is(err, ErrNoServer) {
		t.Fatalf("dial a stopped server: %v", err)
	}
}

// TestAdminSocketLeavesOtherFilesAlone checks that a file at the socket's
// path that is not a socket is neither removed nor replaced: the server
// serves without the socket, and the commands report the store in use.
func TestAdminSocketLeavesOtherFilesAlone(t *testing.T) {
	e := newEnv(t, socketTest(t))
	path := AdminSocketPath(e.cfg.DataDir)
	if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Open(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "not a socket" {
		t.Fatalf("the file was changed: %q %v", got, err)
	}
	if _, err := DialAdmin(e.cfg.DataDir); !errors.Is(err, ErrNoServer) {
		t.Fatalf("dial: %v", err)
	}
}
