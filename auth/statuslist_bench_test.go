package auth

import (
	"context"
	"testing"
)

// BenchmarkIssueSDJWT issues credentials through the app (each request with
// a fresh DPoP proof); BenchmarkAllocateStatus is the part of it that status
// lists add, one store commit.
func BenchmarkIssueSDJWT(b *testing.B) {
	e := newEnv(b)
	alice := e.newUser("alice", true)
	alice.signUp()
	for b.Loop() {
		if r := alice.call("POST", "/credentials/sd-jwt", map[string]any{}); r.status != 200 {
			b.Fatalf("%d %s", r.status, r.raw)
		}
	}
}

func BenchmarkAllocateStatus(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.srv.allocateStatus(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
