package main

import (
	"strings"
	"testing"

	"github.com/latchid/latch/store/postgres/pgtest"
)

// TestMigrateToPostgresAndServeFromIt: a data directory's store, with
// accounts, a client and a rotated key, is copied into PostgreSQL with
// `latch migrate`; the admin commands then find the same records there
// through --store, and a second migrate into it is refused.
func TestMigrateToPostgresAndServeFromIt(t *testing.T) {
	dir := newDataDir(t)
	for _, args := range [][]string{
		{"users", "add", "alice", "--passkey-out", t.TempDir() + "/alice.json", "--data", dir},
		{"users", "add", "bob", "--passkey-out", t.TempDir() + "/bob.json", "--data", dir},
		{"users", "groups", "bob", "add", "admins", "--data", dir},
		{"clients", "add", "api", "--data", dir},
		{"keys", "rotate", "--data", dir},
	} {
		if out, err := runCmd(t, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	before := map[string]string{}
	for _, what := range []string{"users", "clients", "keys"} {
		out, err := runCmd(t, what, "list", "--data", dir)
		if err != nil {
			t.Fatal(err)
		}
		before[what] = out
	}

	url := pgtest.URL(t)
	t.Setenv("LATCH_MASTER_KEY", "") // the key comes from the data directory
	out, err := runCmd(t, "migrate", "--from", dir, "--to", url)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "copied 2 users, 2 passkeys") || !strings.Contains(out, "1 clients") || !strings.Contains(out, "audit chain of") {
		t.Fatalf("migrate's report:\n%s", out)
	}
	for what, want := range before {
		got, err := runCmd(t, what, "list", "--store", url, "--data", dir)
		if err != nil {
			t.Fatalf("%s list --store: %v", what, err)
		}
		if got != want {
			t.Fatalf("%s list on PostgreSQL:\n%s\nwant, as in the data directory:\n%s", what, got, want)
		}
	}
	out, err = runCmd(t, "audit", "verify", "--store", url, "--data", dir)
	if err != nil || !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify on PostgreSQL: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "migrate", "--from", dir, "--to", url); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a second migrate into the same database: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "backup", t.TempDir()+"/x.db", "--store", url, "--data", dir); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Fatalf("backup of a shared store: %v, want a pointer to pg_dump", err)
	}
}
