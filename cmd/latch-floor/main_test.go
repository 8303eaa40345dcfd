package main

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// TestCeremonies checks that the yardstick does what the load generator
// asks of it: a sign-up and a sign-in with a software authenticator, each
// verified and answered with an access token, and a replayed ceremony
// refused.
func TestCeremonies(t *testing.T) {
	issuer, _ := url.Parse("http://localhost:8080")
	f, err := newFloor(issuer, filepath.Join(t.TempDir(), "latch.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.db.Close()
	authn := webauthntest.New("localhost", "http://localhost:8080")

	post := func(path string, body any) (int, map[string]json.RawMessage) {
		t.Helper()
		b, _ := json.Marshal(body)
		var req fasthttp.Request
		req.Header.SetMethod("POST")
		req.SetRequestURI(path)
		req.Header.SetContentType("application/json")
		req.SetBody(b)
		var c fasthttp.RequestCtx
		c.Init(&req, nil, nil)
		f.handle(&c)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(c.Response.Body(), &m)
		return c.Response.StatusCode(), m
	}
	ceremony := func(kind string, begin any, answer func([]byte, webauthntest.Options) ([]byte, error)) (string, []byte) {
		t.Helper()
		status, b := post("/webauthn/"+kind+"/begin", begin)
		if status != 200 {
			t.Fatalf("%s begin: %d", kind, status)
		}
		cred, err := answer(b["publicKey"], webauthntest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var id string
		_ = json.Unmarshal(b["ceremony"], &id)
		return id, cred
	}
	for _, kind := range []string{"register", "login"} {
		id, cred := ceremony(kind, map[string]string{"username": "alice"}, map[string]func([]byte, webauthntest.Options) ([]byte, error){"register": authn.Create, "login": authn.Get}[kind])
		finish := map[string]any{"ceremony": id, "credential": json.RawMessage(cred)}
		status, res := post("/webauthn/"+kind+"/finish", finish)
		if status != 200 || strings.Count(string(res["access_token"]), ".") != 2 {
			t.Fatalf("%s finish: %d %s", kind, status, res["access_token"])
		}
		if status, _ := post("/webauthn/"+kind+"/finish", finish); status != fasthttp.StatusBadRequest {
			t.Fatalf("%s replayed: %d", kind, status)
		}
	}
}
