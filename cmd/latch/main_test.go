package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/auth"
	"github.com/latchid/latch/store"
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
	// A shared store is backed up with the database's tools: the command
	// says so at once, without trying to reach the database.
	shared := filepath.Join(t.TempDir(), "shared.db")
	_, err = runCmd(t, "backup", shared, "--data", dir, "--store", "postgres://latch@127.0.0.1:1/latch")
	if !errors.Is(err, store.ErrNoBackup) || !strings.Contains(err.Error(), "pg_dump") {
		t.Fatalf("backup of a shared store: %v, want the pg_dump advice", err)
	}
	if _, err := os.Stat(shared); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("backup of a shared store wrote a file: %v", err)
	}
	// Another command on a shared store whose database does not answer
	// gives up (a node would wait).
	defer func(d time.Duration) { adminOpenTimeout = d }(adminOpenTimeout)
	adminOpenTimeout = 500 * time.Millisecond
	if _, err := runCmd(t, "users", "list", "--data", dir, "--store", "postgres://latch@127.0.0.1:1/latch"); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("users list on a database that does not answer: %v", err)
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
	dir := serving(t)
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
		"--issuer":       {"--issuer", "ftp://example.com"},
		"--rp-id":        {"--origins", "https://evil.example", "--issuer", "https://id.example.com", "--rp-id", "example.com"},
		"--access-ttl":   {"--access-ttl", "soon"},
		"--dpop-nonce":   {"--dpop-nonce=maybe"},
		"plain HTTP":     {"--issuer", "http://id.example.com", "--rp-id", "example.com"},
		"--post-rate":    {"--post-rate", "-3"},
		"--begin-rate":   {"--begin-rate", "fast"},
		"--android-app":  {"--android-app", "com.example.app"},
		"--apple-app":    {"--apple-app", "com.example.app"},
		"related origin": {"--related-origins", "http://shop.example"},
		"--web-origin":   {"--web-origin", "https://app.example", "--web-origin", "http://app.example"},
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

func TestAppFlags(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg := configFlags(fs)
	fp := strings.Repeat("AB:", 31) + "AB"
	if err := fs.Parse([]string{"--related-origins", "https://shop.example, https://news.example",
		"--android-app", "com.example.one:" + fp + ",com.example.two:" + fp, "--apple-app", "ABCDE12345.com.example.one"}); err != nil {
		t.Fatal(err)
	}
	got, err := cfg()
	if err != nil || len(got.RelatedOrigins) != 2 || got.RelatedOrigins[1] != "https://news.example" ||
		len(got.AndroidApps) != 2 || got.AndroidApps[1].Package != "com.example.two" || got.AndroidApps[0].Fingerprint[31] != 0xAB ||
		len(got.AppleApps) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestWebOriginFlagRepeats(t *testing.T) {
	t.Setenv("LATCH_WEB_ORIGIN", "https://env.example")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "https://env.example"},
		{[]string{"--web-origin", "https://a.example", "--web-origin", "https://b.example,http://localhost:3000"},
			"https://a.example https://b.example http://localhost:3000"},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		cfg := configFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		got, err := cfg()
		if err != nil || strings.Join(got.WebOrigins, " ") != c.want {
			t.Errorf("%v: %q (%v), want %q", c.args, got.WebOrigins, err, c.want)
		}
	}
}

// TestClientsAddProvisionsAFreshDataDirectory is the order of deployment
// scripts: the introspection client is created before the first start,
// and the server started afterwards accepts its secret.
func TestClientsAddProvisionsAFreshDataDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fresh")
	if _, err := runCmd(t, "users", "list", "--data", dir); err == nil || !strings.Contains(err.Error(), "no store") {
		t.Fatalf("users list on a fresh directory: %v", err)
	}
	out, err := runCmd(t, "clients", "add", "resource-api", "--data", dir)
	if err != nil || strings.Count(out, "\n") != 1 || len(strings.TrimSpace(out)) < 40 {
		t.Fatalf("clients add on a fresh directory: %v %q", err, out)
	}
	secret := strings.TrimSpace(out)
	for path, perm := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "master.key"): 0o600, filepath.Join(dir, "latch.db"): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != perm {
			t.Fatalf("%s: %v %v, want mode %v", path, fi, err, perm)
		}
	}

	srv, err := auth.New(auth.Config{DataDir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	introspect := func(secret string) int {
		req, _ := http.NewRequest("POST", "http://"+srv.Addr()+"/introspect", strings.NewReader("token=nothing"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("resource-api", secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := introspect(secret); got != 200 {
		t.Fatalf("introspection with the provisioned secret: %d", got)
	}
	if got := introspect("wrong" + secret); got != 401 {
		t.Fatalf("introspection with a wrong secret: %d", got)
	}
}

// clientCommands runs the client commands against dir, offline or through
// its server, and checks what each prints.
func clientCommands(t *testing.T, dir string) {
	t.Helper()
	first, err := runCmd(t, "clients", "add", "api", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, "clients", "list", "--data", dir)
	if err != nil || !strings.HasPrefix(out, "ID") || !strings.Contains(out, "api") || !strings.Contains(out, "never") {
		t.Fatalf("clients list: %v\n%s", err, out)
	}
	if strings.Contains(out, strings.TrimSpace(first)) {
		t.Fatal("clients list shows a secret")
	}
	second, err := runCmd(t, "clients", "rotate-secret", "api", "--data", dir)
	if err != nil || strings.Count(second, "\n") != 1 || len(strings.TrimSpace(second)) < 40 || second == first {
		t.Fatalf("rotate-secret must print only the new secret: %v %q", err, second)
	}
	if out, _ := runCmd(t, "clients", "list", "--data", dir); strings.Contains(out, "never") {
		t.Fatalf("clients list after a rotation:\n%s", out)
	}
	if out, err := runCmd(t, "clients", "remove", "api", "--data", dir); err != nil || out != "api: removed\n" {
		t.Fatalf("clients remove: %v %q", err, out)
	}
	for _, sub := range []string{"remove", "rotate-secret"} {
		if _, err := runCmd(t, "clients", sub, "api", "--data", dir); err == nil || !strings.Contains(err.Error(), `no client with id "api"`) {
			t.Fatalf("clients %s of an unknown client: %v", sub, err)
		}
	}
	if out, err := runCmd(t, "clients", "list", "--data", dir); err != nil || strings.Contains(out, "api") {
		t.Fatalf("clients list after remove: %v\n%s", err, out)
	}
	oidcClientCommands(t, dir)
}

// oidcClientCommands registers OpenID Connect clients against dir and
// checks what add, show, list and rotate-secret say of them.
func oidcClientCommands(t *testing.T, dir string) {
	t.Helper()
	secret, err := runCmd(t, "clients", "add", "web", "--data", dir, "--redirect-uri", "https://app.example/cb",
		"--redirect-uri", "http://127.0.0.1/cb", "--post-logout-redirect-uri", "https://app.example/bye",
		"--web-origin", "https://App.example", "--first-party", "--id-token-alg", "RS256",
		"--backchannel-logout-uri", "https://app.example/backchannel")
	if err != nil || strings.Count(secret, "\n") != 1 || len(strings.TrimSpace(secret)) < 40 {
		t.Fatalf("clients add of a confidential client must print only its secret: %v %q", err, secret)
	}
	out, err := runCmd(t, "clients", "add", "spa", "--data", dir, "--redirect-uri", "https://spa.example/cb", "--public")
	if err != nil || out != "" {
		t.Fatalf("clients add --public prints no secret: %v %q", err, out)
	}
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(jwks, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}]}`), 0o600)
	if out, err := runCmd(t, "clients", "add", "svc", "--data", dir, "--redirect-uri", "https://svc.example/cb", "--jwks", jwks); err != nil || out != "" {
		t.Fatalf("clients add --jwks: %v %q", err, out)
	}
	for _, bad := range [][]string{
		{"--redirect-uri", "http://app.example/cb"},       // plain http off loopback
		{"--redirect-uri", "https://app.example/cb#frag"}, // fragment
		{"--redirect-uri", "javascript:alert(1)"},         // no private-use scheme
		{"--public"}, // OIDC flags without a redirect URI
		{"--redirect-uri", "https://a.example/cb", "--id-token-alg", "HS256"},
		{"--redirect-uri", "https://a.example/cb", "--public", "--jwks", jwks},
		{"--redirect-uri", "https://a.example/cb", "--backchannel-logout-uri", "http://a.example/bcl"}, // plain http off loopback
		{"--redirect-uri", "https://a.example/cb", "--backchannel-logout-uri", "https://a.example/bcl#f"},
		{"--backchannel-logout-uri", "https://a.example/bcl"}, // without a redirect URI
	} {
		if _, err := runCmd(t, append([]string{"clients", "add", "bad", "--data", dir}, bad...)...); err == nil {
			t.Errorf("clients add %v was accepted", bad)
		}
	}
	out, err = runCmd(t, "clients", "show", "web", "--data", dir)
	for _, want := range []string{"confidential", "https://app.example/cb", "http://127.0.0.1/cb", "https://app.example/bye",
		"https://app.example\n", "RS256", "client_secret_basic", "backchannel logout uri", "https://app.example/backchannel"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("clients show web lacks %q: %v\n%s", want, err, out)
		}
	}
	if strings.Contains(out, strings.TrimSpace(secret)) {
		t.Fatal("clients show shows the secret")
	}
	if out, err := runCmd(t, "clients", "show", "svc", "--data", dir); err != nil || !strings.Contains(out, "private_key_jwt") {
		t.Fatalf("clients show svc: %v\n%s", err, out)
	}
	out, err = runCmd(t, "clients", "list", "--data", dir)
	if err != nil || !strings.Contains(out, "public") || !strings.Contains(out, "confidential") {
		t.Fatalf("clients list: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "clients", "rotate-secret", "spa", "--data", dir); err == nil || !strings.Contains(err.Error(), "no secret") {
		t.Fatalf("rotate-secret of a public client: %v", err)
	}
	if out, _ := runCmd(t, "keys", "list", "--data", dir); !strings.Contains(out, "RS256") {
		t.Fatalf("an RS256 client leaves no RSA key:\n%s", out)
	}
	for _, id := range []string{"web", "spa", "svc"} {
		if _, err := runCmd(t, "clients", "remove", id, "--data", dir); err != nil {
			t.Fatal(err)
		}
	}
}

// addUser writes an account straight into dir's store (creating the store
// if need be): the commands under test need one, and a passkey ceremony is
// not what they are about.
func addUser(t *testing.T, dir, name string) {
	t.Helper()
	d, err := store.InspectDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := d.MasterKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := d.Open(store.Options{KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(context.Background(), func(tx store.Tx) error {
		return tx.PutUser(&store.User{ID: "id-" + name, Handle: []byte("h-" + name), Username: name, CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
}

func groupCommands(t *testing.T, dir string) {
	t.Helper()
	for _, g := range []string{"staff", "admins"} {
		if _, err := runCmd(t, "users", "groups", "carol", "add", g, "--data", dir); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := runCmd(t, "users", "groups", "carol", "list", "--data", dir); err != nil || out != "admins\nstaff\n" {
		t.Fatalf("groups list: %v %q", err, out)
	}
	if out, err := runCmd(t, "users", "groups", "carol", "remove", "admins", "--data", dir); err != nil || out != "staff\n" {
		t.Fatalf("groups remove: %v %q", err, out)
	}
	for _, bad := range [][]string{{"carol"}, {"carol", "add"}, {"carol", "list", "x"}, {"carol", "drop", "x"}, {"carol", "add", "two words"}, {"nobody", "add", "x"}} {
		if _, err := runCmd(t, append(append([]string{"users", "groups"}, bad...), "--data", dir)...); err == nil {
			t.Errorf("users groups %v accepted", bad)
		}
	}
}

func TestGroupCommandsOffline(t *testing.T) {
	dir := newDataDir(t)
	addUser(t, dir, "carol")
	groupCommands(t, dir)
}

func TestGroupCommandsThroughARunningServer(t *testing.T) {
	groupCommands(t, serving(t, func(dir string) { addUser(t, dir, "carol") }))
}

func TestClientCommandsOffline(t *testing.T) { clientCommands(t, newDataDir(t)) }

func TestClientCommandsThroughARunningServer(t *testing.T) {
	dir := serving(t)
	clientCommands(t, dir)
}

// serving starts a server on a new data directory with a short path (a
// socket's path has a length limit that a test's own temp directory can
// pass on some systems) and returns the directory.
func serving(t *testing.T, before ...func(dir string)) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "latch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, f := range before {
		f(dir)
	}
	srv, err := auth.New(auth.Config{DataDir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRestore(t *testing.T) {
	src := newDataDir(t)
	if _, err := runCmd(t, "clients", "add", "in-backup", "--data", src); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "copy.db")
	if _, err := runCmd(t, "backup", backup, "--data", src); err != nil {
		t.Fatal(err)
	}
	key := readFile(t, filepath.Join(src, "master.key"))

	// Into a fresh directory: only beside the master key of its store.
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := runCmd(t, "restore", backup, "--data", dst); err == nil || !strings.Contains(err.Error(), "no master key") {
		t.Fatalf("restore without the master key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "master.key")); err == nil {
		t.Fatal("restore created a master key")
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd(t, "restore", backup, "--data", dst); err != nil || !strings.Contains(out, "restored into") {
		t.Fatalf("restore: %v %q", err, out)
	}
	if out, err := runCmd(t, "clients", "list", "--data", dst); err != nil || !strings.Contains(out, "in-backup") {
		t.Fatalf("the restored store: %v\n%s", err, out)
	}

	// Over an existing store: only with --force, which keeps the old one.
	if _, err := runCmd(t, "clients", "add", "only-in-dst", "--data", dst); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "restore", backup, "--data", dst); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore over a store: %v", err)
	}
	out, err := runCmd(t, "restore", backup, "--data", dst, "--force")
	if err != nil || !strings.Contains(out, "kept as") {
		t.Fatalf("restore --force: %v %q", err, out)
	}
	if out, _ := runCmd(t, "clients", "list", "--data", dst); strings.Contains(out, "only-in-dst") {
		t.Fatalf("the old store is still in place:\n%s", out)
	}

	// Beside another master key: refused, and the store is left alone.
	other := newDataDir(t)
	before := readFile(t, filepath.Join(other, "latch.db"))
	if _, err := runCmd(t, "restore", backup, "--data", other, "--force"); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("restore beside another master key: %v", err)
	}
	if !bytes.Equal(before, readFile(t, filepath.Join(other, "latch.db"))) {
		t.Fatal("a refused restore changed the store")
	}

	// A copy cut short is refused.
	cut := filepath.Join(t.TempDir(), "cut.db")
	whole := readFile(t, backup)
	if err := os.WriteFile(cut, whole[:len(whole)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "restore", cut, "--data", dst, "--force"); err == nil {
		t.Fatal("a truncated copy was restored")
	}
}

func TestRestoreRefusesWhileServing(t *testing.T) {
	dir := serving(t)
	backup := filepath.Join(t.TempDir(), "copy.db")
	if _, err := runCmd(t, "backup", backup, "--data", dir); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, filepath.Join(dir, "latch.db"))
	if _, err := runCmd(t, "restore", backup, "--data", dir, "--force"); err == nil || !strings.Contains(err.Error(), "server is running") {
		t.Fatalf("restore under a running server: %v", err)
	}
	if !bytes.Equal(before, readFile(t, filepath.Join(dir, "latch.db"))) {
		t.Fatal("a refused restore changed the store")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// auditCommands checks audit list and verify against dir, offline or
// through its server; the log holds three client events by then.
func auditCommands(t *testing.T, dir string) {
	t.Helper()
	out, err := runCmd(t, "audit", "list", "--data", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 4 || !strings.HasPrefix(lines[0], "SEQ") ||
		!strings.Contains(lines[1], "client_created") || !strings.Contains(lines[1], "client=c1") || !strings.HasPrefix(lines[3], "3 ") {
		t.Fatalf("audit list: %v\n%s", err, out)
	}
	for _, since := range []string{"1h", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)} {
		if out, err := runCmd(t, "audit", "list", "--since", since, "--data", dir); err != nil || strings.Count(out, "\n") != 4 {
			t.Fatalf("audit list --since %s: %v\n%s", since, err, out)
		}
	}
	if out, err := runCmd(t, "audit", "list", "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--data", dir); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("audit list --since the future: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "audit", "list", "--user", "nobody", "--data", dir); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("audit list --user nobody: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "audit", "list", "--since", "yesterday", "--data", dir); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Fatalf("a bad --since: %v", err)
	}
	if _, err := runCmd(t, "audit", "list", "alice", "--data", dir); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("a stray argument: %v", err)
	}
	out, err = runCmd(t, "audit", "verify", "--data", dir)
	if err != nil || !strings.Contains(out, "3 events") || !strings.Contains(out, "chain intact from event 1 to 3") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
}

func addClients(t *testing.T, dir string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := runCmd(t, "clients", "add", id, "--data", dir); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditCommandsOffline(t *testing.T) {
	dir := newDataDir(t)
	addClients(t, dir, "c1", "c2", "c3")
	auditCommands(t, dir)
}

func TestAuditCommandsThroughARunningServer(t *testing.T) {
	dir := serving(t)
	addClients(t, dir, "c1", "c2", "c3")
	auditCommands(t, dir)
}

// TestAuditVerifyFindsATamperedFile alters an event's bytes in the store
// file, as someone with the file but not the master key would, and
// expects verify to fail at that event.
func TestAuditVerifyFindsATamperedFile(t *testing.T) {
	dir := newDataDir(t)
	addClients(t, dir, "c1", "tamper-me-2", "c3")
	path := filepath.Join(dir, "latch.db")
	data := readFile(t, path)
	// Every copy: the client's record holds the id too, and pages that
	// earlier commits replaced may hold one.
	if !bytes.Contains(data, []byte("tamper-me-2")) {
		t.Fatal("the event is not in the file")
	}
	data = bytes.ReplaceAll(data, []byte("tamper-me-2"), []byte("tamper-me-0"))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, "audit", "verify", "--data", dir)
	if err == nil || !strings.Contains(err.Error(), "broken at event 2") || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("audit verify of a tampered file: %v\n%s", err, out)
	}
	// verify only reads: the file is as the tamperer left it.
	if !bytes.Equal(readFile(t, path), data) {
		t.Fatal("audit verify changed the file")
	}
}

func TestBrandFlags(t *testing.T) {
	dir := t.TempDir()
	logo := filepath.Join(dir, "logo.svg")
	if err := os.WriteFile(logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	notImage := filepath.Join(dir, "logo.txt")
	if err := os.WriteFile(notImage, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) (auth.Config, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		cfg := configFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return cfg()
	}
	got, err := parse("--brand-name", "Acme ID", "--brand-color", "#123abc", "--brand-logo", logo)
	if err != nil || got.Brand.Name != "Acme ID" || got.Brand.Color != "#123abc" || got.Brand.LogoType != "image/svg+xml" || len(got.Brand.Logo) == 0 {
		t.Fatalf("%+v %v", got.Brand, err)
	}
	if got, err := parse(); err != nil || got.Brand.Name != "" || got.Brand.Logo != nil {
		t.Fatalf("defaults: %+v %v", got.Brand, err)
	}
	for _, args := range [][]string{
		{"--brand-logo", notImage},
		{"--brand-logo", filepath.Join(dir, "missing.png")},
	} {
		if _, err := parse(args...); err == nil || !strings.Contains(err.Error(), "--brand-logo") {
			t.Errorf("%v: %v", args, err)
		}
	}
	// A bad colour is refused when the service validates its configuration.
	got, _ = parse("--brand-color", "red")
	if err := got.Defaults().Validate(); err == nil || !strings.Contains(err.Error(), "--brand-color") {
		t.Errorf("--brand-color red: %v", err)
	}
}
