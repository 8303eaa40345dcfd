package auth

import (
	"context"
	"testing"
)

// BenchmarkRecoveryStartWrongCode measures a refused recovery start for a
// name that exists (with codes) and for one that does not: both are one
// read and no commit, so that timing tells little about which names exist.
func BenchmarkRecoveryStartWrongCode(b *testing.B) {
	e := newEnv(b)
	u := e.newUser("alice", true)
	u.signUp()
	u.call("POST", "/me/recovery-codes", nil)
	e.srv.recoveryFailures = newRateLimiter(1e9, 1e9, nil, e.srv.now) // the check, not the 429
	for _, name := range []string{"nobody", "alice"} {
		b.Run(name, func(b *testing.B) {
			req := recoveryStartRequest{Username: name, RecoveryCode: "aaaa-bbbb-cccc-dddd"}
			for b.Loop() {
				if _, err := e.srv.startRecovery(context.Background(), name, req); err == nil {
					b.Fatal("a wrong code was accepted")
				}
			}
		})
	}
}
