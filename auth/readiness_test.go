package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// TestAFailingStoreAnswers503AndReadinessFollowsIt injects a commit
// failure, as a full disk gives, behind the real app: writes answer 503
// temporarily_unavailable with Retry-After and change nothing, /readyz says
// not ready, and both recover once a commit succeeds again.
func TestAFailingStoreAnswers503AndReadinessFollowsIt(t *testing.T) {
	e := newEnv(t)
	u := e.newUser("alice", true)
	u.signUp()
	if r := e.request("GET", "/readyz", nil, nil); r.status != 200 {
		t.Fatalf("readyz before the fault: %d %s", r.status, r.raw)
	}
	full := errors.New("write latch.db: no space left on device")
	e.srv.db.(*store.DB).InjectCommitFault(func() error { return full })

	unavailable := func(what string, r *response) {
		t.Helper()
		expectError(t, r, 503, CodeTemporarilyUnavailable)
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
			t.Fatalf("%s: Retry-After = %q", what, r.header.Get("Retry-After"))
		}
	}
	oldRefresh := u.refresh
	unavailable("refresh", e.request("POST", "/token",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {u.refresh}}, u.tokenHeaders("/token")))
	unavailable("sign-up", func() *response {
		v := e.newUser("bob", false)
		cer, opts := v.begin("/webauthn/register/begin", map[string]any{"username": "bob"}, nil)
		cred, err := v.authn.Create(opts, webauthntest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": json.RawMessage(cred)}, nil)
	}())
	unavailable("readyz", e.request("GET", "/readyz", nil, nil))

	// Still failing a second later: the probe write fails too.
	e.clock.Advance(2 * probeEvery)
	unavailable("readyz after a failed probe", e.request("GET", "/readyz", nil, nil))
	if h := e.srv.db.WriteHealth(); h.Failures < 3 {
		t.Fatalf("write health %+v: the probe made no commit", h)
	}

	e.srv.db.(*store.DB).InjectCommitFault(nil)
	e.clock.Advance(2 * probeEvery)
	// The probe succeeds, but a commit failed moments ago: still not
	// ready, so readiness does not flap while only some commits pass.
	unavailable("readyz within the hold-down", e.request("GET", "/readyz", nil, nil))
	if h := e.srv.db.WriteHealth(); h.Failing {
		t.Fatalf("the probe did not commit once the fault was gone: %+v", h)
	}
	e.clock.Advance(writeHoldDown)
	if r := e.request("GET", "/readyz", nil, nil); r.status != 200 {
		t.Fatalf("readyz after the disk has room again: %d %s", r.status, r.raw)
	}
	// The refused refresh changed nothing: the same token still rotates.
	u.refresh = oldRefresh
	if r := u.refreshTokens(); r.status != 200 {
		t.Fatalf("refresh after recovery: %d %s", r.status, r.raw)
	}
	m := string(e.request("GET", "/metrics", nil, nil).raw)
	want := "\nlatch_store_commit_failures_total " + strconv.FormatUint(e.srv.db.WriteHealth().Failures, 10) + "\n"
	if !strings.Contains(m, want) || !strings.Contains(m, "\nlatch_store_write_failing 0\n") {
		t.Fatalf("metrics miss the failed commits (want %q):\n%s", want, m)
	}
}

// TestReadinessHoldsDownOnlyAfterFailedCommits: a database that could not
// be reached is ready as soon as writes succeed again (a restart must not
// keep every node out of the balancer for the hold-down), while a commit
// the store refused (a full disk) holds readiness down.
func TestReadinessHoldsDownOnlyAfterFailedCommits(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	recent := now.Add(-writeHoldDown / 2)
	cases := []struct {
		name string
		h    store.WriteHealth
		want bool
	}{
		{"never failed", store.WriteHealth{}, false},
		{"commit refused moments ago", store.WriteHealth{LastError: fmt.Errorf("x: %w", store.ErrWriteFailed), LastFailure: recent}, true},
		{"commit refused long ago", store.WriteHealth{LastError: store.ErrWriteFailed, LastFailure: now.Add(-2 * writeHoldDown)}, false},
		{"database unreachable moments ago", store.WriteHealth{LastError: fmt.Errorf("x: %w (%w)", store.ErrUnavailable, store.ErrWriteFailed), LastFailure: recent}, false},
	}
	for _, c := range cases {
		if got := heldDown(c.h, now); got != c.want {
			t.Errorf("%s: heldDown = %v, want %v", c.name, got, c.want)
		}
	}
}
