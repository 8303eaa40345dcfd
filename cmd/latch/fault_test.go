package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchid/latch/store"
	"github.com/latchid/latch/store/postgres"
	"github.com/latchid/latch/store/postgres/pgtest"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// TestMain stops the throwaway PostgreSQL cluster of the tests that use
// one (pgtest.URL) when they end.
func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	faultIssuer = "http://localhost:8080"
	faultRPID   = "localhost"
)

// faultNode is one `latch serve` process of the real binary on the shared
// store; it can be killed and started again on the same data directory
// and port.
type faultNode struct {
	name, bin, addr, dir, logPath string
	args, env                     []string
	cmd                           *exec.Cmd
	exited                        chan struct{}
}

func (n *faultNode) url(path string) string { return "http://" + n.addr + path }

func (n *faultNode) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(n.bin, n.args...)
	cmd.Env = n.env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start node %s: %v", n.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	n.cmd, n.exited = cmd, exited
}

// kill ends the process with SIGKILL: no shutdown of any kind.
func (n *faultNode) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill node %s: %v", n.name, err)
	}
	<-n.exited
}

// stop ends the process the way an operator does (SIGTERM), or kills it
// if it does not stop within 10 s.
func (n *faultNode) stop() {
	if n.cmd == nil {
		return
	}
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

// waitReady polls /readyz until it answers 200, failing the test after
// 30 s or if the process ends. It returns how long that took.
func (n *faultNode) waitReady(t *testing.T, client *http.Client) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		select {
		case <-n.exited:
			t.Fatalf("node %s exited before it was ready:\n%s", n.name, logTail(n.logPath, 30))
		default:
		}
		res, err := client.Get(n.url("/readyz"))
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("node %s not ready within 30 s (last: %v):\n%s", n.name, err, logTail(n.logPath, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logTail is the end of a node's log, for failure messages.
func logTail(path string, lines int) string {
	b, _ := os.ReadFile(path)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// faultReply is one answer of a node; err is set when there was none (the
// connection failed or timed out), and the outcome of a write is unknown.
type faultReply struct {
	status int
	body   map[string]any
	raw    []byte
	err    error
}

func (r faultReply) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// kind names the answer for the tallies: "200", "503 temporarily_unavailable", "no answer".
func (r faultReply) kind() string {
	if r.err != nil {
		return "no answer"
	}
	if r.status == http.StatusOK {
		return "200"
	}
	return strconv.Itoa(r.status) + " " + r.str("error")
}

func faultPost(client *http.Client, url, ctype string, body []byte) faultReply {
	res, err := client.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		return faultReply{err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return faultReply{err: err}
	}
	r := faultReply{status: res.StatusCode, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func faultPostJSON(client *http.Client, url string, body any) faultReply {
	b, err := json.Marshal(body)
	if err != nil {
		return faultReply{err: err}
	}
	return faultPost(client, url, "application/json", b)
}

func faultRefresh(client *http.Client, n *faultNode, token string) faultReply {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	return faultPost(client, n.url("/token"), "application/x-www-form-urlencoded", []byte(form.Encode()))
}

// faultSession is a login session got by an acknowledged sign-up: the
// latest refresh token the service acknowledged, and, if the last
// attempt to refresh it got no clear answer (no answer at all, or a 5xx
// after which the write may still have been kept), why.
type faultSession struct {
	user    string
	token   string
	rotated int    // acknowledged refreshes
	unsure  string // outcome of the last refresh unknown; the session is out of the load
}

// The phases of the fault: acknowledged writes are counted by the phase
// they were acknowledged in.
const (
	phaseBoth      = iota // both nodes serve
	phaseADown            // node A killed, then the database restarting
	phaseDBBack           // the database restarted, node A still down
	phaseRecovered        // node A restarted, both ready
	phases
)

var phaseNames = [phases]string{"both nodes", "node A killed, database restarting", "database back, node A down", "node A restarted"}

// faultLoad is the write load and what it recorded.
type faultLoad struct {
	client *http.Client
	a, b   *faultNode
	aUp    atomic.Bool
	phase  atomic.Int32

	mu sync.Mutex
	// acked are the usernames whose sign-up the service acknowledged.
	acked []string
	// unsureSignUps are usernames whose finish got no answer or a 5xx:
	// they may or may not exist, but if they do they must be whole.
	unsureSignUps map[string]string
	sessions      []*faultSession
	ackedWrites   [phases]int // sign-ups and refreshes acknowledged, by phase
	answers       map[string]int
	failures      []string
}

func (l *faultLoad) tally(op string, r faultReply) {
	l.mu.Lock()
	l.answers[op+" "+r.kind()]++
	l.mu.Unlock()
}

func (l *faultLoad) fail(format string, args ...any) {
	l.mu.Lock()
	l.failures = append(l.failures, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// unavailable checks a failed write's answer: none (the node died or
// timed out) or 503 temporarily_unavailable in the contract's error body;
// any other 5xx is a fault the service did not handle.
func (l *faultLoad) unavailable(op string, n *faultNode, r faultReply) {
	if r.err == nil && (r.status != http.StatusServiceUnavailable || r.str("error") != "temporarily_unavailable" || r.str("error_description") == "") {
		l.fail("%s on node %s: %d %s, want 503 temporarily_unavailable", op, n.name, r.status, r.raw)
	}
}

func (l *faultLoad) ack() {
	l.mu.Lock()
	l.ackedWrites[l.phase.Load()]++
	l.mu.Unlock()
}

// nodes picks the nodes of the next sign-up: begin on one, finish on the
// other while both run, so that a ceremony crosses nodes; only B while A
// is down.
func (l *faultLoad) nodes(i int) (begin, finish *faultNode) {
	if !l.aUp.Load() {
		return l.b, l.b
	}
	if i%2 == 0 {
		return l.a, l.b
	}
	return l.b, l.a
}

// signUp registers a new account with a software passkey; it returns the
// session when the service acknowledged it.
func (l *faultLoad) signUp(name string, i int) *faultSession {
	nb, nf := l.nodes(i)
	r := faultPostJSON(l.client, nb.url("/webauthn/register/begin"), map[string]any{"username": name, "display_name": strings.ToUpper(name)})
	l.tally("register/begin", r)
	if r.err != nil || r.status != http.StatusOK {
		if r.err == nil && r.status != http.StatusServiceUnavailable {
			l.fail("register/begin %s on node %s: %d %s", name, nb.name, r.status, r.raw)
		}
		return nil
	}
	opts, _ := json.Marshal(r.body["publicKey"])
	cred, err := webauthntest.New(faultRPID, faultIssuer).Create(opts, webauthntest.Options{})
	if err != nil {
		l.fail("authenticator: %v", err)
		return nil
	}
	f := faultPostJSON(l.client, nf.url("/webauthn/register/finish"),
		map[string]any{"ceremony": r.str("ceremony"), "credential": json.RawMessage(cred), "name": "laptop"})
	l.tally("register/finish", f)
	switch {
	case f.err != nil || f.status >= 500:
		l.unavailable("register/finish", nf, f)
		l.mu.Lock()
		l.unsureSignUps[name] = f.kind()
		l.mu.Unlock()
		return nil
	case f.status != http.StatusOK:
		// The begin was acknowledged, so its ceremony is in the store;
		// refusing the finish loses it (or the sign-up is broken).
		l.fail("register/finish %s on node %s (begun on %s): %d %s", name, nf.name, nb.name, f.status, f.raw)
		return nil
	case f.str("refresh_token") == "":
		l.fail("register/finish %s: 200 without a refresh token: %s", name, f.raw)
		return nil
	}
	s := &faultSession{user: name, token: f.str("refresh_token")}
	l.mu.Lock()
	l.acked = append(l.acked, name)
	l.sessions = append(l.sessions, s)
	l.mu.Unlock()
	l.ack()
	return s
}

// refresh rotates s's refresh token once, on either node; s leaves the
// load when the outcome is unknown.
func (l *faultLoad) refresh(s *faultSession, i int) {
	n := l.b
	if l.aUp.Load() && i%2 == 0 {
		n = l.a
	}
	r := faultRefresh(l.client, n, s.token)
	l.tally("refresh", r)
	switch {
	case r.err != nil || r.status >= 500:
		// A 503 may follow a commit whose acknowledgement the database
		// connection lost: the rotation may have been kept.
		l.unavailable("refresh", n, r)
		s.unsure = "node " + n.name + ": " + r.kind()
	case r.status != http.StatusOK:
		l.fail("refresh of %s's latest acknowledged token on node %s: %d %s", s.user, n.name, r.status, r.raw)
		s.unsure = "refused"
	case r.str("refresh_token") == "" || r.str("refresh_token") == s.token:
		l.fail("refresh of %s: 200 without a new refresh token: %s", s.user, r.raw)
		s.unsure = "refused"
	default:
		s.token = r.str("refresh_token")
		s.rotated++
		l.ack()
	}
}

// worker signs up accounts and refreshes their sessions until stop.
func (l *faultLoad) worker(w int, stop <-chan struct{}) {
	var live []*faultSession
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		var ok bool
		if len(live) < 2 || i%3 == 0 {
			s := l.signUp(fmt.Sprintf("w%d-%d", w, i), i)
			if s != nil {
				live = append(live, s)
			}
			ok = s != nil
		} else {
			s := live[i%len(live)]
			l.refresh(s, i)
			if s.unsure != "" {
				live = slices.DeleteFunc(live, func(x *faultSession) bool { return x == s })
			}
			ok = s.unsure == ""
		}
		if !ok {
			// The node or the database is away: do not spin.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (l *faultLoad) acks(p int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ackedWrites[p]
}

// pgStartTime is when the database server was started, to prove it
// restarted.
func pgStartTime(t *testing.T, dbURL string) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to the database: %v", err)
	}
	defer conn.Close(context.Background())
	var at time.Time
	if err := conn.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at
}

// TestFaultKillANodeAndRestartTheDatabaseUnderLoad is issue 14's fault
// test: two `latch serve` processes share one PostgreSQL database under a
// write load of sign-ups and refreshes; node A is killed with SIGKILL,
// the database restarts while node B keeps taking the load, node A comes
// back on its data directory. Afterwards every write the service
// acknowledged is there: each acknowledged account with its passkey and
// session, each session's latest acknowledged refresh token still
// refreshes, nothing is half-written and the audit chain verifies.
func TestFaultKillANodeAndRestartTheDatabaseUnderLoad(t *testing.T) {
	began := time.Now()
	bin := filepath.Join(t.TempDir(), "latch")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("binary built in %v", time.Since(began).Round(time.Millisecond))

	dbURL := pgtest.URL(t)
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LATCH_") {
			env = append(env, kv)
		}
	}
	env = append(env, "LATCH_MASTER_KEY="+base64.StdEncoding.EncodeToString(kek), "LATCH_BEGIN_RATE=0", "LATCH_POST_RATE=0")
	logs := t.TempDir()
	newNode := func(name string) *faultNode {
		// A short path: the admin socket in the data directory has a
		// length limit.
		dir, err := os.MkdirTemp("", "latch-fault-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		n := &faultNode{name: name, bin: bin, dir: dir, addr: "127.0.0.1:" + strconv.Itoa(freePort(t)),
			logPath: filepath.Join(logs, name+".log"), env: env}
		n.args = []string{"serve", "--store", dbURL, "--addr", n.addr, "--data", dir, "--issuer", faultIssuer}
		return n
	}
	a, b := newNode("A"), newNode("B")
	// Cleanups run in reverse: the nodes stop before the database is dropped.
	t.Cleanup(func() { a.stop(); b.stop() })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node A log:\n%s\nnode B log:\n%s", logTail(a.logPath, 40), logTail(b.logPath, 40))
		}
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	t.Cleanup(client.CloseIdleConnections)
	a.start(t)
	b.start(t)
	a.waitReady(t, client)
	b.waitReady(t, client)
	pgStarted := pgStartTime(t, dbURL)

	l := &faultLoad{client: client, a: a, b: b, unsureSignUps: map[string]string{}, answers: map[string]int{}}
	l.aUp.Store(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.worker(w, stop)
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()

	loadStart := time.Now()
	time.Sleep(2 * time.Second)

	// Node A dies mid-request: whatever it was doing gets no answer.
	l.phase.Store(phaseADown)
	l.aUp.Store(false)
	a.kill(t)
	time.Sleep(300 * time.Millisecond)
	pgtest.Restart(t)
	restarted := pgStartTime(t, dbURL)
	if !restarted.After(pgStarted) {
		t.Fatalf("the database did not restart: started %v, then %v", pgStarted, restarted)
	}
	l.phase.Store(phaseDBBack)
	// Node B takes the load through the outage and must serve again.
	deadline := time.Now().Add(20 * time.Second)
	for l.acks(phaseDBBack) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("node B acknowledged no write within 20 s of the database's restart")
		}
		time.Sleep(50 * time.Millisecond)
	}

	a.start(t)
	readyA := a.waitReady(t, client)
	readyB := b.waitReady(t, client)
	l.aUp.Store(true)
	l.phase.Store(phaseRecovered)
	time.Sleep(1500 * time.Millisecond)
	stopLoad()
	t.Logf("load ran %v; node A ready %v after its restart, node B %v later",
		time.Since(loadStart).Round(time.Millisecond), readyA.Round(time.Millisecond), readyB.Round(time.Millisecond))

	for p := range phases {
		t.Logf("phase %q: %d writes acknowledged", phaseNames[p], l.ackedWrites[p])
		if l.ackedWrites[p] == 0 && p != phaseADown {
			t.Errorf("phase %q: no write acknowledged; the load did not run through it", phaseNames[p])
		}
	}
	kinds := make([]string, 0, len(l.answers))
	for k := range l.answers {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	faults := 0
	for _, k := range kinds {
		t.Logf("  %6d × %s", l.answers[k], k)
		if !strings.HasSuffix(k, " 200") {
			faults += l.answers[k]
		}
	}
	if faults == 0 {
		t.Errorf("no request failed: the faults did not hit the load")
	}
	for _, f := range l.failures {
		t.Errorf("during the load: %s", f)
	}

	// Every session's latest acknowledged refresh token refreshes once. A
	// session whose last refresh got no clear answer may have been rotated
	// by it; then its token is refused as a reuse (a rotated token), never
	// as unknown.
	var clean, unsure, unsureKept, unsureRolledBack, rotations int
	for i, s := range l.sessions {
		n := []*faultNode{a, b}[i%2]
		r := faultRefresh(client, n, s.token)
		rotations += s.rotated
		reuse := r.status == http.StatusBadRequest && r.str("error") == "invalid_grant" && strings.Contains(r.str("error_description"), "reuse")
		switch {
		case s.unsure == "":
			clean++
			if r.status != http.StatusOK {
				t.Errorf("session of %s (%d acknowledged refreshes): its latest acknowledged refresh token on node %s: %s %s",
					s.user, s.rotated, n.name, r.kind(), r.raw)
			}
		case s.unsure == "refused":
		case r.status == http.StatusOK:
			unsure++
			unsureRolledBack++
		case reuse:
			unsure++
			unsureKept++
		default:
			unsure++
			t.Errorf("session of %s (last refresh %s): its latest acknowledged refresh token on node %s: %s %s, want 200 or a reuse",
				s.user, s.unsure, n.name, r.kind(), r.raw)
		}
	}
	t.Logf("%d sessions, %d acknowledged refreshes: %d clean sessions refreshed; %d whose last refresh got no clear answer (%d had been rotated by it, %d not)",
		len(l.sessions), rotations, clean, unsure, unsureKept, unsureRolledBack)

	// The store itself, through a fresh connection.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, postgres.Options{URL: dbURL, KEK: kek, MaxConns: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var users []store.User
	var audit store.AuditCheck
	err = db.View(ctx, func(tx store.Tx) error {
		for _, name := range l.acked {
			u, err := tx.UserByUsername(name)
			if errors.Is(err, store.ErrNotFound) {
				t.Errorf("acknowledged sign-up %s: no such account in the store", name)
				continue
			}
			if err != nil {
				return err
			}
			sessions, err := tx.SessionsByUser(u.ID)
			if err != nil {
				return err
			}
			if len(sessions) == 0 {
				t.Errorf("acknowledged sign-up %s: its login session is not in the store", name)
			}
		}
		if users, err = tx.Users(); err != nil {
			return err
		}
		for _, u := range users {
			creds, err := tx.CredentialsByUser(u.ID)
			if err != nil {
				return err
			}
			if len(creds) == 0 {
				t.Errorf("account %s is in the store without its passkey", u.Username)
			}
		}
		audit, err = tx.VerifyAudit()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if audit.Break != nil {
		t.Errorf("the audit chain breaks at event %d: %s", audit.Break.Seq, audit.Break.Reason)
	}
	keptUnsure := 0
	for _, u := range users {
		if _, ok := l.unsureSignUps[u.Username]; ok {
			keptUnsure++
		}
	}
	if len(users) != len(l.acked)+keptUnsure {
		t.Errorf("%d accounts in the store: %d acknowledged sign-ups and %d unanswered ones kept, the rest from nowhere",
			len(users), len(l.acked), keptUnsure)
	}
	t.Logf("%d acknowledged sign-ups, all in the store with passkey and session; %d sign-ups got no clear answer, %d of them kept (whole); audit chain of %d events verifies (head %d)",
		len(l.acked), len(l.unsureSignUps), keptUnsure, audit.Events, audit.Head)
	t.Logf("whole test %v", time.Since(began).Round(time.Millisecond))
}
