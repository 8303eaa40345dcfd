package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/store/postgres"
	"github.com/latchid/latch/store/postgres/pgtest"
	"github.com/latchid/latch/webauthn/webauthntest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newCluster starts n nodes on one fresh PostgreSQL database, behind one
// issuer, each with its own data directory (its admin socket) and all with
// the same master key; requests through the env go to them in turn.
func newCluster(t *testing.T, n int, mods ...func(*Config)) *env {
	t.Helper()
	dsn := pgtest.URL(t)
	kek := bytes.Repeat([]byte{7}, 32)
	e := &env{t: t, dir: t.TempDir(), clock: &clock{t: time.Now()}}
	for i := range n {
		db, err := postgres.Open(t.Context(), postgres.Options{URL: dsn, KEK: kek})
		if err != nil {
			t.Fatalf("node %d: open the shared store: %v", i, err)
		}
		cfg := Config{
			DataDir: t.TempDir(), Addr: "127.0.0.1:0", Issuer: testIssuer, Now: e.clock.Now,
			MasterKey: kek, Store: db, BeginRate: -1,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		if testing.Verbose() {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		for _, m := range mods {
			m(&cfg)
		}
		srv, err := New(cfg)
		if err != nil {
			db.Close()
			t.Fatalf("node %d: %v", i, err)
		}
		if err := srv.Open(); err != nil {
			srv.Close()
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(func() { srv.Close() })
		e.nodes = append(e.nodes, srv)
		if i == 0 {
			e.srv, e.cfg = srv, cfg
		}
	}
	for _, srv := range e.nodes {
		waitFor(t, "node ready", func() bool {
			r, err := e.requestTo(srv, "GET", "/readyz", nil, nil)
			return err == nil && r.status == 200
		})
	}
	return e
}

// waitFor polls cond until it holds, failing the test after 30 s (a node
// stays unready for writeHoldDown after a failed commit). It
// returns how long that took, for the figures the tests log: the tests
// assert that a change arrives, never how fast.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// race sends one request to each of the given nodes at once and returns
// the answers in node order.
func (e *env) race(nodes []*Server, req func(i int) (method, path string, body any, header map[string]string)) []*response {
	e.t.Helper()
	out := make([]*response, len(nodes))
	errs := make([]error, len(nodes))
	var start, done sync.WaitGroup
	start.Add(1)
	for i, srv := range nodes {
		done.Add(1)
		method, path, body, header := req(i)
		go func() {
			defer done.Done()
			start.Wait()
			out[i], errs[i] = e.requestTo(srv, method, path, body, header)
		}()
	}
	start.Done()
	done.Wait()
	for i, err := range errs {
		if err != nil {
			e.t.Fatalf("node %d: %v", i, err)
		}
	}
	return out
}

// statuses counts the answers by status.
func statuses(rs []*response) map[int]int {
	m := map[int]int{}
	for _, r := range rs {
		m[r.status]++
	}
	return m
}

func TestClusterCeremoniesCrossNodesAndAreSingleUse(t *testing.T) {
	e := newCluster(t, 3)
	// Begin and finish land on different nodes (requests go round).
	alice := e.newUser("alice", true)
	alice.signUp()
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("userinfo on another node: %d %s", r.status, r.raw)
	}

	// One sign-in answered on two nodes at once: exactly one session.
	body := alice.loginFinishBody("", webauthntest.Options{})
	rs := e.race(e.nodes[1:], func(int) (string, string, any, map[string]string) {
		return "POST", "/webauthn/login/finish", body, nil
	})
	if got := statuses(rs); got[200] != 1 {
		t.Fatalf("one ceremony finished on two nodes: %v (%s | %s)", got, rs[0].raw, rs[1].raw)
	}
}

func TestClusterRefreshRotationHasOneWinnerAndSeesTheReuse(t *testing.T) {
	e := newCluster(t, 3)
	bob := e.newUser("bob", false)
	bob.signUp()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bob.refresh}}
	rs := e.race(e.nodes[1:], func(int) (string, string, any, map[string]string) {
		return "POST", "/token", form, nil
	})
	got := statuses(rs)
	if got[200] != 1 || got[400] != 1 {
		t.Fatalf("one refresh token used on two nodes at once: %v (%s | %s)", got, rs[0].raw, rs[1].raw)
	}
	// The loser was a reuse: the winner's tokens are revoked with the
	// session, on every node.
	for _, r := range rs {
		if r.status != 200 {
			continue
		}
		next := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}
		for i, srv := range e.nodes {
			res, err := e.requestTo(srv, "POST", "/token", next, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != 400 {
				t.Fatalf("node %d: the winner's refresh token outlived the reuse: %d %s", i, res.status, res.raw)
			}
		}
		access := r.str("access_token")
		for i, srv := range e.nodes {
			took := waitFor(t, "the reused session's access token refused", func() bool {
				res, err := e.requestTo(srv, "GET", "/userinfo", nil, map[string]string{"Authorization": "Bearer " + access})
				return err == nil && res.status == 401
			})
			t.Logf("node %d refused the ended session's access token %v after the reuse", i, took)
		}
	}
}

func TestClusterDPoPProofIsSpentOnceAcrossNodes(t *testing.T) {
	e := newCluster(t, 3)
	carol := e.newUser("carol", true)
	carol.signUp()
	proof := carol.key.proof(t, e.clock.Now(), "GET", "/userinfo", carol.access)
	h := map[string]string{"Authorization": "DPoP " + carol.access, "DPoP": proof}
	rs := e.race(e.nodes, func(int) (string, string, any, map[string]string) { return "GET", "/userinfo", nil, h })
	if got := statuses(rs); got[200] != 1 || got[401] != 2 {
		t.Fatalf("one DPoP proof sent to three nodes: %v", got)
	}
}

func TestClusterSignOutAndDisableReachEveryNode(t *testing.T) {
	e := newCluster(t, 3)
	dave := e.newUser("dave", false)
	dave.signUp()
	bearer := func(token string) map[string]string { return map[string]string{"Authorization": "Bearer " + token} }
	// Every node has served the token (and cached the account).
	for i, srv := range e.nodes {
		if r, _ := e.requestTo(srv, "GET", "/userinfo", nil, bearer(dave.access)); r.status != 200 {
			t.Fatalf("node %d: %d %s", i, r.status, r.raw)
		}
	}
	// Signing out on node 0 ends the session on the others.
	sid, _ := jwtPart(t, dave.access, 1)["sid"].(string)
	if r, _ := e.requestTo(e.nodes[0], "DELETE", "/me/sessions/"+sid, nil, bearer(dave.access)); r.status != 204 {
		t.Fatalf("sign out: %d %s", r.status, r.raw)
	}
	for i, srv := range e.nodes[1:] {
		took := waitFor(t, "the signed-out session refused", func() bool {
			r, err := e.requestTo(srv, "GET", "/userinfo", nil, bearer(dave.access))
			return err == nil && r.status == 401
		})
		t.Logf("node %d refused the signed-out session after %v", i+1, took)
	}

	// Disabled through node 1's admin interface, the account is refused by
	// every node, and so is a new sign-in.
	dave.signIn("", webauthntest.Options{})
	if err := e.nodes[1].SetDisabled(t.Context(), "dave", true); err != nil {
		t.Fatal(err)
	}
	for i, srv := range e.nodes {
		took := waitFor(t, "the disabled account refused", func() bool {
			r, err := e.requestTo(srv, "GET", "/userinfo", nil, bearer(dave.access))
			return err == nil && r.status != 200
		})
		t.Logf("node %d refused the disabled account after %v", i, took)
	}
	if r := dave.signIn("", webauthntest.Options{}); r.status == 200 {
		t.Fatal("a disabled account signed in on another node")
	}
}

func TestClusterKeyRotationReachesEveryNode(t *testing.T) {
	e := newCluster(t, 3)
	active := e.nodes[2].keys.Active().ID
	for i, srv := range e.nodes {
		if got := srv.keys.Active().ID; got != active {
			t.Fatalf("node %d signs with %s, node 2 with %s: nodes started on one store made two keys", i, got, active)
		}
	}
	k, err := e.nodes[0].RotateKeys(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	for i, srv := range e.nodes {
		took := waitFor(t, "the new key active", func() bool { return srv.keys.Active().ID == k.ID })
		r, _ := e.requestTo(srv, "GET", "/.well-known/jwks.json", nil, nil)
		if !bytes.Contains(r.raw, []byte(k.ID)) || !bytes.Contains(r.raw, []byte(active)) {
			t.Fatalf("node %d publishes %s, want the new key and the retired one", i, r.raw)
		}
		t.Logf("node %d signs with the new key %v after the rotation", i, took)
	}
}

func TestClusterRotationDueOnEveryNodeRotatesOnce(t *testing.T) {
	e := newCluster(t, 3, func(c *Config) { c.KeyRotation = time.Hour })
	e.clock.Advance(2 * time.Hour)
	var wg sync.WaitGroup
	for _, srv := range e.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); srv.rotateIfDue(t.Context()) }()
	}
	wg.Wait()
	var keys []store.SigningKey
	if err := e.srv.db.View(t.Context(), func(tx store.Tx) (err error) { keys, err = tx.SigningKeys(); return err }); err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, k := range keys {
		if k.Alg != rsaKeyAlg && k.RetiredAt.IsZero() {
			active++
		}
	}
	if active != 1 || len(keys) != 2 {
		t.Fatalf("three nodes due at once left %d keys, %d active; want one rotation: 2 keys, 1 active", len(keys), active)
	}
}

func TestClusterAuditChainStaysOneChain(t *testing.T) {
	e := newCluster(t, 3)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := e.newUser("user"+string(rune('a'+i)), false)
			u.signUp()
			u.signIn("", webauthntest.Options{})
		}()
	}
	wg.Wait()
	rep, err := verifyAudit(t.Context(), e.srv.db)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BrokenAt != 0 || rep.Problem != "" || rep.Unchained != 0 || rep.Events < 12 {
		t.Fatalf("audit after concurrent sign-ups and sign-ins on three nodes: %+v", rep)
	}
}

func TestClusterTOTPStepIsAcceptedOnce(t *testing.T) {
	e := newCluster(t, 3)
	u := enrollTOTP(t, e, "erin")
	e.clock.Advance(totpPeriod * time.Second)
	tokens := []string{u.mfaToken(t), u.mfaToken(t)}
	code := u.code(e.clock.Now())
	rs := e.race(e.nodes[1:], func(i int) (string, string, any, map[string]string) {
		return "POST", "/totp/verify", map[string]any{"mfa_token": tokens[i], "code": code}, u.tokenHeaders("/totp/verify")
	})
	if got := statuses(rs); got[200] != 1 {
		t.Fatalf("one TOTP code for two sign-ins on two nodes: %v (%s | %s)", got, rs[0].raw, rs[1].raw)
	}
}

func TestClusterSignCounterNeverGoesBack(t *testing.T) {
	e := newCluster(t, 3)
	frank := e.newUser("frank", false)
	frank.signUp()
	// Two assertions made in counter order, finished on two nodes at once,
	// in either order: the stored counter ends at the higher one.
	for round := range 5 {
		lo, hi := uint32(10+2*round), uint32(11+2*round)
		bodies := []map[string]any{
			frank.loginFinishBody("", webauthntest.Options{Counter: &lo}),
			frank.loginFinishBody("", webauthntest.Options{Counter: &hi}),
		}
		e.race(e.nodes[1:], func(i int) (string, string, any, map[string]string) {
			return "POST", "/webauthn/login/finish", bodies[i], nil
		})
		var creds []store.Credential
		if err := e.srv.db.View(t.Context(), func(tx store.Tx) error {
			u, err := tx.UserByUsername("frank")
			if err != nil {
				return err
			}
			creds, err = tx.CredentialsByUser(u.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(creds) != 1 || creds[0].SignCount != hi {
			t.Fatalf("round %d: stored sign count %d, want %d (the higher of two raced sign-ins)", round, creds[0].SignCount, hi)
		}
	}
}

// TestClusterNodesRideOutADatabaseRestart: while PostgreSQL is down the
// nodes say they are not ready and refuse writes with 503; once it is back
// they reconnect, resync and serve again, and every sign-up that was
// acknowledged, before, during or after, is in the store.
func TestClusterNodesRideOutADatabaseRestart(t *testing.T) {
	e := newCluster(t, 2)
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var load sync.WaitGroup
	for w := range 2 {
		load.Add(1)
		go func() {
			defer load.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := "load" + string(rune('a'+w)) + strconv.Itoa(i)
				if e.signUpQuietly(name) {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)

	pgtest.Stop(t)
	for i, srv := range e.nodes {
		waitFor(t, "not ready while the database is down", func() bool {
			r, err := e.requestTo(srv, "GET", "/readyz", nil, nil)
			return err == nil && r.status == 503
		})
		r, _ := e.requestTo(srv, "POST", "/webauthn/register/begin", map[string]any{"username": "during" + strconv.Itoa(i)}, nil)
		if r.status != 503 || r.str("error") != CodeTemporarilyUnavailable {
			t.Fatalf("node %d: a write with the database down: %d %s", i, r.status, r.raw)
		}
	}
	pgtest.Start(t)
	for i, srv := range e.nodes {
		var last *response
		took := waitFor(t, "ready again once the database is back", func() bool {
			r, err := e.requestTo(srv, "GET", "/readyz", nil, nil)
			if err == nil && r.status != 200 && (last == nil || string(last.raw) != string(r.raw)) {
				t.Logf("node %d: %d %s", i, r.status, r.raw)
			}
			last = r
			return err == nil && r.status == 200
		})
		t.Logf("node %d ready %v after the database came back", i, took)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	load.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 4 {
		t.Fatalf("only %d sign-ups acknowledged around the restart", len(acked))
	}
	err := e.srv.db.View(t.Context(), func(tx store.Tx) error {
		for _, name := range acked {
			if _, err := tx.UserByUsername(name); err != nil {
				return fmt.Errorf("acknowledged sign-up %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged sign-ups, all kept", len(acked))
}

// signUpQuietly signs up a new account through the nodes and reports
// whether the service acknowledged it; failures are expected (the
// database may be down) and not the test's.
func (e *env) signUpQuietly(name string) bool {
	authn := webauthntest.New("localhost", testOrigin)
	r, err := e.requestTo(e.pick(), "POST", "/webauthn/register/begin", map[string]any{"username": name}, nil)
	if err != nil || r.status != 200 {
		time.Sleep(20 * time.Millisecond)
		return false
	}
	opts, _ := json.Marshal(r.body["publicKey"])
	cred, err := authn.Create(opts, webauthntest.Options{})
	if err != nil {
		return false
	}
	r, err = e.requestTo(e.pick(), "POST", "/webauthn/register/finish", map[string]any{"ceremony": r.str("ceremony"), "credential": json.RawMessage(cred)}, nil)
	return err == nil && r.status == 200
}
