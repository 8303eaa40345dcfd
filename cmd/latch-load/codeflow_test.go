package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/latchid/latch/auth"
)

// TestExchangeScenarioAgainstTheService runs the exchange scenario's set-up
// and steps against a real server: provider sessions opened through the
// authorization endpoint, codes made with them, each code exchanged once
// for tokens with an ID token, and a second use of a code refused.
func TestExchangeScenarioAgainstTheService(t *testing.T) {
	const issuer = "http://localhost:8090"
	dir := t.TempDir()
	srv, err := auth.New(auth.Config{DataDir: dir, Addr: "127.0.0.1:0", Issuer: issuer, BeginRate: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	admin, err := auth.DialAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	secret, err := admin.RegisterClient(context.Background(), auth.ClientOptions{ID: "load", RedirectURIs: []string{rpRedirect}, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	rp = newRPClient("load", secret, rpRedirect)
	t.Cleanup(func() { rp = nil })
	nodes = srv.Addr() // the generator dials the server under the issuer's name
	t.Cleanup(func() { nodes = "" })

	r := run(issuer, "exchange", 2, 200*time.Millisecond, 0)
	if r.errors != 0 || r.rate == 0 {
		t.Fatalf("exchange scenario: %d errors (first: %s), %.0f/s", r.errors, r.firstErr, r.rate)
	}

	// The scenario's steps, one client by hand: a code is good once.
	c := newClient(issuer, newEndpoints(issuer), hostClient(issuer, 1))
	if err := c.signUp(); err != nil {
		t.Fatal(err)
	}
	if err := makeGrants(issuer, []*client{c}, 2); err != nil {
		t.Fatal(err)
	}
	first := c.grants[0]
	if err := c.exchange(); err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	c.grants[0] = first // the spent code again, in place of the second
	if err := c.exchange(); err == nil {
		t.Fatal("a code was exchanged twice")
	}
	c.grants = nil
	if err := c.exchange(); err != errOutOfCodes {
		t.Fatalf("a client without codes: %v, want errOutOfCodes", err)
	}
}

func TestParseRP(t *testing.T) {
	got, err := parseRP("web:s3cret@https://app.example/cb")
	if err != nil || got.id != "web" || got.redirect != "https://app.example/cb" || string(got.basic) != "Basic d2ViOnMzY3JldA==" {
		t.Fatalf("parseRP: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "web@https://app.example/cb", "web:s3cret", ":s@x", "web:@x"} {
		if _, err := parseRP(bad); err == nil {
			t.Errorf("parseRP(%q) accepted", bad)
		}
	}
}
