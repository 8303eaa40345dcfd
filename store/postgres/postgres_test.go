package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/store/postgres"
	"github.com/latchid/latch/store/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var testKEK = bytes.Repeat([]byte{7}, store.KeySize)

// open opens the database at url as one node, closed when t ends.
func open(t testing.TB, url string) *postgres.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, postgres.Options{URL: url, KEK: testKEK, StatementTimeout: 3 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// nodes opens n stores on one fresh database, as n nodes would.
func nodes(t testing.TB, n int) []*postgres.DB {
	t.Helper()
	url := pgtest.URL(t)
	out := make([]*postgres.DB, n)
	for i := range out {
		out[i] = open(t, url)
	}
	return out
}

var ctx = context.Background()

func update(t testing.TB, db store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := db.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func putUser(t testing.TB, db store.Store, id, username string) {
	t.Helper()
	update(t, db, func(tx store.Tx) error {
		return tx.PutUser(&store.User{ID: id, Handle: []byte(id), Username: username, CreatedAt: time.Now()})
	})
}

func TestAccountRecordsAndTheirErrors(t *testing.T) {
	db := nodes(t, 1)[0]
	putUser(t, db, "u1", "alice")
	putUser(t, db, "u2", "bob")
	err := db.Update(ctx, func(tx store.Tx) error {
		return tx.PutUser(&store.User{ID: "u3", Handle: []byte("u3"), Username: "alice"})
	})
	if !errors.Is(err, store.ErrUsernameTaken) {
		t.Fatalf("taken username: %v", err)
	}
	err = db.Update(ctx, func(tx store.Tx) error {
		return tx.PutUser(&store.User{ID: "u3", Handle: []byte("u1"), Username: "carol"})
	})
	if !errors.Is(err, store.ErrHandleTaken) {
		t.Fatalf("taken handle: %v", err)
	}
	cred := &store.Credential{ID: []byte{1, 2, 3}, UserID: "u1", SignCount: 1, CreatedAt: time.Now()}
	update(t, db, func(tx store.Tx) error { return tx.PutCredential(cred) })
	err = db.Update(ctx, func(tx store.Tx) error {
		return tx.PutCredential(&store.Credential{ID: []byte{1, 2, 3}, UserID: "u2"})
	})
	if !errors.Is(err, store.ErrCredentialExists) {
		t.Fatalf("credential of another user: %v", err)
	}
	err = db.Update(ctx, func(tx store.Tx) error {
		return tx.PutCredential(&store.Credential{ID: []byte{9}, UserID: "nobody"})
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("credential without account: %v", err)
	}
	update(t, db, func(tx store.Tx) error {
		if err := tx.PutTOTP(&store.TOTP{UserID: "u1", Secret: []byte("seed")}); err != nil {
			return err
		}
		if err := tx.PutSession(&store.Session{ID: "s1", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			return err
		}
		return tx.PutConsent(&store.Consent{UserID: "u1", ClientID: "c1", Scopes: []string{"openid"}, GrantedAt: time.Now()})
	})
	err = db.View(ctx, func(tx store.Tx) error {
		users, err := tx.Users()
		if err != nil || len(users) != 2 || users[0].Username != "alice" || users[1].Username != "bob" {
			return fmt.Errorf("users %v, %v", users, err)
		}
		totp, err := tx.TOTP("u1")
		if err != nil || string(totp.Secret) != "seed" {
			return fmt.Errorf("totp %v, %v", totp, err)
		}
		if u, err := tx.UserByHandle([]byte("u2")); err != nil || u.ID != "u2" {
			return fmt.Errorf("by handle %v, %v", u, err)
		}
		return tx.PutUser(&store.User{ID: "x", Handle: []byte("x"), Username: "x"})
	})
	if err == nil {
		t.Fatal("a write in a View succeeded")
	}
	update(t, db, func(tx store.Tx) error { return tx.DeleteUser("u1") })
	err = db.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Credential([]byte{1, 2, 3}); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("credential after delete: %v", err)
		}
		if _, err := tx.TOTPStatus("u1"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("totp after delete: %v", err)
		}
		if _, err := tx.Session("s1"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("session after delete: %v", err)
		}
		if c, _ := tx.Consents("u1"); len(c) != 0 {
			return fmt.Errorf("consents after delete: %v", c)
		}
		if _, err := tx.UserByUsername("alice"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("username after delete: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWrongKeyIsRefused(t *testing.T) {
	url := pgtest.URL(t)
	open(t, url)
	_, err := postgres.Open(ctx, postgres.Options{URL: url, KEK: bytes.Repeat([]byte{8}, store.KeySize)})
	if !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("open with another key: %v", err)
	}
}

// TestTwoOpensMigrateOnce: nodes starting at once on an empty database
// all open it, and the schema is migrated once.
func TestTwoOpensMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := postgres.Open(ctx, postgres.Options{URL: url, KEK: testKEK})
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db := open(t, url)
	n, err := db.SchemaVersions(ctx)
	if err != nil || n != postgres.Migrations {
		t.Fatalf("migration rows %d, %v; want one per migration (%d)", n, err, postgres.Migrations)
	}
}

// TestRotationRaceHasOneWinner: two nodes rotate one refresh token at the
// same time, each reading it unrotated first; exactly one succeeds and the
// other, run again, finds it rotated.
func TestRotationRaceHasOneWinner(t *testing.T) {
	dbs := nodes(t, 2)
	for round := range 20 {
		hash := fmt.Sprintf("rt-%d", round)
		update(t, dbs[0], func(tx store.Tx) error {
			return tx.PutRefreshToken(&store.RefreshToken{Hash: hash, SessionID: "s", UserID: "u", ExpiresAt: time.Now().Add(time.Hour)})
		})
		var wins, reuses atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, db := range dbs {
			wg.Go(func() {
				<-start
				err := db.Update(ctx, func(tx store.Tx) error {
					old, err := tx.RefreshToken(hash)
					if err != nil {
						return err
					}
					if !old.RotatedAt.IsZero() {
						return errReuse
					}
					return tx.RotateRefreshToken(old, time.Now(), &store.RefreshToken{
						Hash: fmt.Sprintf("%s-next-%d", hash, i), SessionID: "s", UserID: "u", ExpiresAt: time.Now().Add(time.Hour)})
				})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, errReuse):
					reuses.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || reuses.Load() != 1 {
			t.Fatalf("round %d: %d wins and %d reuses, want one of each", round, wins.Load(), reuses.Load())
		}
	}
}

var errReuse = errors.New("reuse")

func TestPendingIsTakenOnceAcrossNodes(t *testing.T) {
	dbs := nodes(t, 3)
	now := time.Now()
	for round := range 20 {
		id := fmt.Sprintf("c%d", round)
		if err := dbs[round%3].PutPending(&store.Ceremony{ID: id, Kind: "login", Session: []byte("state"), ExpiresAt: now.Add(time.Minute)}, now); err != nil {
			t.Fatal(err)
		}
		var got atomic.Int32
		var wg sync.WaitGroup
		for _, db := range dbs {
			for range 2 {
				wg.Go(func() {
					c, err := db.TakePending(ctx, id, now)
					switch {
					case err == nil && string(c.Session) == "state":
						got.Add(1)
					case errors.Is(err, store.ErrNotFound):
					default:
						t.Error(c, err)
					}
				})
			}
		}
		wg.Wait()
		if got.Load() != 1 {
			t.Fatalf("ceremony taken %d times", got.Load())
		}
	}
	if err := dbs[0].PutPending(&store.Ceremony{ID: "old", ExpiresAt: now.Add(time.Second)}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := dbs[1].TakePending(ctx, "old", now.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired ceremony: %v", err)
	}
}

func TestSpendOnceRace(t *testing.T) {
	dbs := nodes(t, 3)
	for round := range 20 {
		key := fmt.Sprintf("jti-%d", round)
		var fresh atomic.Int32
		var wg sync.WaitGroup
		for _, db := range dbs {
			for range 3 {
				wg.Go(func() {
					ok, err := db.SpendOnce(ctx, key, time.Now().Add(time.Minute))
					if err != nil {
						t.Error(err)
					}
					if ok {
						fresh.Add(1)
					}
				})
			}
		}
		wg.Wait()
		if fresh.Load() != 1 {
			t.Fatalf("key fresh %d times", fresh.Load())
		}
	}
	// An expired key may be spent again.
	if ok, err := dbs[0].SpendOnce(ctx, "short", time.Now().Add(50*time.Millisecond)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, _ := dbs[1].SpendOnce(ctx, "short", time.Now().Add(time.Minute)); ok {
		t.Fatal("live key spent twice")
	}
	time.Sleep(100 * time.Millisecond)
	if ok, err := dbs[1].SpendOnce(ctx, "short", time.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatal("expired key not reusable", err)
	}
}

// TestAuditChainFromSeveralNodes: events appended at once on three nodes
// form one unbroken chain with every event in it.
func TestAuditChainFromSeveralNodes(t *testing.T) {
	dbs := nodes(t, 3)
	const each = 30
	var wg sync.WaitGroup
	for i, db := range dbs {
		for j := range each {
			wg.Go(func() {
				err := db.Update(ctx, func(tx store.Tx) error {
					return tx.AppendAudit(&store.AuditEvent{Time: time.Now(), Type: "sign_in", UserID: fmt.Sprintf("u%d", i),
						Detail: map[string]string{"n": fmt.Sprint(j)}})
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	err := dbs[1].View(ctx, func(tx store.Tx) error {
		check, err := tx.VerifyAudit()
		if err != nil {
			return err
		}
		if check.Break != nil || check.Events != 3*each || check.Genesis != 1 || check.Head != 3*each {
			return fmt.Errorf("check %+v, break %+v", check, check.Break)
		}
		events, err := tx.AuditEvents(5)
		if err != nil || len(events) != 5 || events[0].Seq != 3*each {
			return fmt.Errorf("newest events %v, %v", events, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditChainDetectsTampering: an event changed in the database breaks
// the chain where it was changed.
func TestAuditChainDetectsTampering(t *testing.T) {
	db := nodes(t, 1)[0]
	for i := range 3 {
		update(t, db, func(tx store.Tx) error {
			return tx.AppendAudit(&store.AuditEvent{Time: time.Now(), Type: "sign_in", UserID: fmt.Sprint(i)})
		})
	}
	if err := db.Exec(ctx, `UPDATE audit SET rec = overlay(rec placing '9'::bytea from position('\x31'::bytea in rec) for 1) WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	err := db.View(ctx, func(tx store.Tx) error {
		check, err := tx.VerifyAudit()
		if err != nil {
			return err
		}
		if check.Break == nil || check.Break.Seq != 2 {
			return fmt.Errorf("tampered chain verified: %+v", check.Break)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWatchAcrossNodes: each kind of change committed on one node reaches
// a watcher on another, a rolled-back one does not, and a restart of the
// database is followed by a resync.
func TestWatchAcrossNodes(t *testing.T) {
	dbs := nodes(t, 2)
	changes := make(chan store.Change, 100)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- dbs[1].Watch(wctx, func(c store.Change) { changes <- c }) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v", err)
		}
	}()
	expect := func(want store.Change) {
		t.Helper()
		select {
		case c := <-changes:
			if c.Kind != want.Kind || c.Key != want.Key || !c.Until.Equal(want.Until) {
				t.Fatalf("change %+v, want %+v", c, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("no change within a second, want %+v", want)
		}
	}
	expect(store.Change{Kind: store.ChangeResync})
	putUser(t, dbs[0], "u1", "alice")
	expect(store.Change{Kind: store.ChangeUser, Key: "u1"})
	until := time.Date(2030, 1, 2, 3, 4, 5, 6789, time.UTC)
	update(t, dbs[0], func(tx store.Tx) error { return tx.PutRevoked("sid\x00\xff", until) })
	expect(store.Change{Kind: store.ChangeRevoked, Key: "sid\x00\xff", Until: until})
	update(t, dbs[0], func(tx store.Tx) error {
		return tx.PutSigningKey(&store.SigningKey{ID: "k1", Alg: "ES256", Private: []byte("private")})
	})
	expect(store.Change{Kind: store.ChangeSigningKeys})
	update(t, dbs[0], func(tx store.Tx) error { return tx.PutClient(&store.Client{ID: "c1"}) })
	expect(store.Change{Kind: store.ChangeClient, Key: "c1"})
	update(t, dbs[0], func(tx store.Tx) error { return tx.PutTOTP(&store.TOTP{UserID: "u1", Secret: []byte("s")}) })
	expect(store.Change{Kind: store.ChangeUser, Key: "u1"})
	_ = dbs[0].Update(ctx, func(tx store.Tx) error {
		if err := tx.PutClient(&store.Client{ID: "rolled-back"}); err != nil {
			return err
		}
		return errors.New("abort")
	})
	update(t, dbs[0], func(tx store.Tx) error { return tx.DeleteClient("c1") })
	expect(store.Change{Kind: store.ChangeClient, Key: "c1"})

	pgtest.Restart(t)
	expect(store.Change{Kind: store.ChangeResync})
	waitFor(t, func() error { return dbs[0].Ping(ctx) })
	update(t, dbs[0], func(tx store.Tx) error { return tx.DeleteUser("u1") })
	expect(store.Change{Kind: store.ChangeUser, Key: "u1"})
}

// waitFor retries fn for up to 10s.
func waitFor(t testing.TB, fn func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = fn(); err == nil {
			return
		}
	}
	t.Fatal(err)
}

// TestStatementTimeout: a statement that runs longer than the timeout is
// ended by the server, and the store goes on.
func TestStatementTimeout(t *testing.T) {
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, postgres.Options{URL: url, KEK: testKEK, StatementTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	err = db.Exec(ctx, "SELECT pg_sleep(5)")
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("a 5s statement: %v after %v", err, time.Since(start))
	}
	putUser(t, db, "u1", "alice")

	// A row another session holds: the write's lock wait ends at the
	// timeout, and the database is busy (503), not the request wrong.
	c := holdRow(t, url, "users", []byte("u1"))
	defer c.Close(context.Background())
	err = db.Update(ctx, func(tx store.Tx) error {
		return tx.PutUser(&store.User{ID: "u1", Handle: []byte("u1"), Username: "alicia"})
	})
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, store.ErrWriteFailed) {
		t.Fatalf("a write waiting for a lock past the timeout: %v, want ErrUnavailable and ErrWriteFailed", err)
	}
}

// TestRestartAndOutage: while the database is down, writes fail with
// ErrWriteFailed within the statement timeout, Ping and ProbeWrite fail
// and WriteHealth says so; once it is back, everything works again and
// nothing acknowledged is lost.
func TestRestartAndOutage(t *testing.T) {
	if pgtestExternal() {
		t.Log("with an external server, the outage is one of connections only")
	}
	db := nodes(t, 1)[0]
	putUser(t, db, "u1", "alice")
	pgtest.Restart(t)
	waitFor(t, func() error { return db.ProbeWrite(ctx, time.Now()) })
	putUser(t, db, "u2", "bob")

	if pgtestExternal() {
		return
	}
	pgtest.Stop(t)
	start := time.Now()
	err := db.Update(ctx, func(tx store.Tx) error {
		return tx.PutUser(&store.User{ID: "u3", Handle: []byte("u3"), Username: "carol"})
	})
	if !errors.Is(err, store.ErrWriteFailed) || !errors.Is(err, store.ErrUnavailable) || time.Since(start) > 10*time.Second {
		t.Fatalf("write while down: %v after %v", err, time.Since(start))
	}
	err = db.View(ctx, func(tx store.Tx) error { return second(tx.User("u1")) })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("read while down: %v", err)
	}
	if _, err := db.SpendOnce(ctx, "k", time.Now().Add(time.Minute)); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("spend while down: %v", err)
	}
	if err := db.Ping(ctx); err == nil {
		t.Fatal("ping while down")
	}
	if err := db.ProbeWrite(ctx, time.Now()); err == nil {
		t.Fatal("probe write while down")
	}
	if !db.WriteHealth().Failing {
		t.Fatal("write health not failing while down")
	}
	pgtest.Start(t)
	waitFor(t, func() error { return db.ProbeWrite(ctx, time.Now()) })
	if db.WriteHealth().Failing {
		t.Fatal("write health still failing")
	}
	putUser(t, db, "u3", "carol")
	err = db.View(ctx, func(tx store.Tx) error {
		users, err := tx.Users()
		if err != nil || len(users) != 3 {
			return fmt.Errorf("users after restart %v, %v", users, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAnEndedSessionIsUnavailable: a statement on a connection the server
// ended (as a restart ends every session, with 57P01) is the database
// being unavailable, in a read and in a write, never a failure of the
// statement that would answer 500.
func TestAnEndedSessionIsUnavailable(t *testing.T) {
	ns := nodes(t, 2)
	a, b := ns[0], ns[1]
	putUser(t, a, "u1", "alice")
	endOthers := func() error {
		return b.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	}
	err := a.View(ctx, func(tx store.Tx) error {
		if _, err := tx.User("u1"); err != nil {
			return err
		}
		if err := endOthers(); err != nil {
			return err
		}
		return second(tx.User("u1"))
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("read on an ended session: %v, want ErrUnavailable", err)
	}
	err = a.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.User("u1"); err != nil {
			return err
		}
		if err := endOthers(); err != nil {
			return err
		}
		return tx.PutUser(&store.User{ID: "u2", Handle: []byte("u2"), Username: "bob"})
	})
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, store.ErrWriteFailed) {
		t.Fatalf("write on an ended session: %v, want ErrUnavailable and ErrWriteFailed", err)
	}
	// The pool reconnects; nothing of the failed write is there.
	waitFor(t, func() error { return a.ProbeWrite(ctx, time.Now()) })
	if err := a.View(ctx, func(tx store.Tx) error { return second(tx.User("u2")) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed write's user: %v, want ErrNotFound", err)
	}
}

// TestOpenWaitsForTheDatabase: Open retries until the server answers,
// within its context.
func TestOpenWaitsForTheDatabase(t *testing.T) {
	if pgtestExternal() {
		t.Log("an external server cannot be stopped; Open's bounded wait is checked against a closed port")
	}
	url := pgtest.URL(t)
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := postgres.Open(cctx, postgres.Options{URL: "postgres://nobody@127.0.0.1:1/x?sslmode=disable", KEK: testKEK}); err == nil {
		t.Fatal("opened a database that is not there")
	}
	if pgtestExternal() {
		return
	}
	pgtest.Stop(t)
	go func() {
		time.Sleep(time.Second)
		pgtest.Start(t)
	}()
	octx, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	db, err := postgres.Open(octx, postgres.Options{URL: url, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
}

func pgtestExternal() bool { return pgtest.External() }

var quiet = slog.New(slog.DiscardHandler)

// TestCountersAcrossNodes: read-modify-write updates of one passkey's sign
// counter and one TOTP factor's last step, on three nodes at once, lose
// nothing and never go backwards: each Update sees the others' commits.
func TestCountersAcrossNodes(t *testing.T) {
	dbs := nodes(t, 3)
	putUser(t, dbs[0], "u1", "alice")
	update(t, dbs[0], func(tx store.Tx) error {
		if err := tx.PutTOTP(&store.TOTP{UserID: "u1", Secret: []byte("seed")}); err != nil {
			return err
		}
		return tx.PutCredential(&store.Credential{ID: []byte("c1"), UserID: "u1"})
	})
	const each = 20
	var accepted atomic.Int32
	var wg sync.WaitGroup
	for _, db := range dbs {
		for range each {
			wg.Go(func() {
				err := db.Update(ctx, func(tx store.Tx) error {
					c, err := tx.Credential([]byte("c1"))
					if err != nil {
						return err
					}
					c.SignCount++
					return tx.PutCredential(c)
				})
				if err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				// Every node offers step 1 of one code: one accepts it.
				var ok bool
				err := db.Update(ctx, func(tx store.Tx) error {
					ok = false
					f, err := tx.TOTP("u1")
					if err != nil || f.LastStep >= 1 {
						return err
					}
					f.LastStep, ok = 1, true
					return tx.PutTOTP(f)
				})
				if err != nil {
					t.Error(err)
				}
				if ok {
					accepted.Add(1)
				}
			})
		}
	}
	wg.Wait()
	err := dbs[2].View(ctx, func(tx store.Tx) error {
		c, err := tx.Credential([]byte("c1"))
		if err != nil || c.SignCount != 3*each {
			return fmt.Errorf("sign count %v, %v; want %d", c, err, 3*each)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if accepted.Load() != 1 {
		t.Fatalf("a TOTP step accepted %d times", accepted.Load())
	}
}

// TestCloseEndsWatchAndCalls: Close ends a Watch in progress, and calls
// after it are ErrClosed.
func TestCloseEndsWatchAndCalls(t *testing.T) {
	db := nodes(t, 1)[0]
	resynced := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() { done <- db.Watch(ctx, func(store.Change) { resynced <- struct{}{} }) }()
	<-resynced
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrClosed) {
			t.Fatalf("Watch after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch still running after Close")
	}
	if _, err := db.Sweep(ctx, time.Now()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Sweep after Close: %v", err)
	}
	if err := db.Update(ctx, func(store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Update after Close: %v", err)
	}
	if err := db.PutPending(&store.Ceremony{ID: "c", ExpiresAt: time.Now().Add(time.Minute)}, time.Now()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("PutPending after Close: %v", err)
	}
}

// TestNewerSchemaIsRefused: a database migrated by a later version of
// Latch is not opened by this one.
func TestNewerSchemaIsRefused(t *testing.T) {
	url := pgtest.URL(t)
	db := open(t, url)
	if err := db.Exec(ctx, "INSERT INTO latch_schema_migrations (version) VALUES (99)"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, postgres.Options{URL: url, KEK: testKEK, Logger: quiet}); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}

// TestSweepRemovesSpentAndPending: expired replay keys and held
// ceremonies go at the sweep, live ones stay.
func TestSweepRemovesSpentAndPending(t *testing.T) {
	db := nodes(t, 1)[0]
	now := time.Now()
	for _, k := range []string{"a", "b"} {
		if _, err := db.SpendOnce(ctx, k, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SpendOnce(ctx, "live", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutPending(&store.Ceremony{ID: "old", ExpiresAt: now.Add(time.Minute)}, now); err != nil {
		t.Fatal(err)
	}
	n, err := db.Sweep(ctx, now.Add(2*time.Minute))
	if err != nil || n != 3 {
		t.Fatalf("swept %d, %v; want 3", n, err)
	}
	if ok, _ := db.SpendOnce(ctx, "live", now.Add(time.Hour)); ok {
		t.Fatal("a live key was swept")
	}
}

func second[T any](_ T, err error) error { return err }

// TestContendedWritersOnASmallPool: more contended writers than
// connections, each also appending to the audit log, all get through:
// waiting for a turn must not hold the connections the turn's holder
// needs.
func TestContendedWritersOnASmallPool(t *testing.T) {
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, postgres.Options{URL: url, KEK: testKEK, MaxConns: 4, StatementTimeout: 3 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	putUser(t, db, "u1", "alice")
	update(t, db, func(tx store.Tx) error { return tx.PutCredential(&store.Credential{ID: []byte("c1"), UserID: "u1"}) })
	const writers, each = 16, 5
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				err := db.Update(ctx, func(tx store.Tx) error {
					c, err := tx.Credential([]byte("c1"))
					if err != nil {
						return err
					}
					c.SignCount++
					if err := tx.PutCredential(c); err != nil {
						return err
					}
					return tx.AppendAudit(&store.AuditEvent{Time: time.Now(), Type: "sign_in", UserID: "u1"})
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	err = db.View(ctx, func(tx store.Tx) error {
		c, err := tx.Credential([]byte("c1"))
		if err != nil || c.SignCount != writers*each {
			return fmt.Errorf("sign count %v, %v", c, err)
		}
		check, err := tx.VerifyAudit()
		if err != nil || check.Break != nil || check.Events != writers*each {
			return fmt.Errorf("audit %+v, %v", check, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestACancelledCallerStillCommits: a caller whose context ends once its
// function has returned still gets the commit (as with bbolt, Update waits
// for it), and the node's write path is not reported failing.
func TestACancelledCallerStillCommits(t *testing.T) {
	db := nodes(t, 1)[0]
	putUser(t, db, "u1", "alice")
	cctx, cancel := context.WithCancel(ctx)
	err := db.Update(cctx, func(tx store.Tx) error {
		err := errors.Join(
			tx.PutConsent(&store.Consent{UserID: "u1", ClientID: "app", GrantedAt: time.Now()}),
			tx.PutCeremony(&store.Ceremony{ID: "queued", ExpiresAt: time.Now().Add(time.Hour)}))
		cancel()
		return err
	})
	if err != nil {
		t.Fatalf("Update with the caller gone after its function: %v", err)
	}
	err = db.View(ctx, func(tx store.Tx) error {
		return errors.Join(second(tx.Consent("u1", "app")), second(tx.Ceremony("queued", time.Now())))
	})
	if err != nil {
		t.Fatalf("the writes are not there: %v", err)
	}
	if h := db.WriteHealth(); h.Failing || h.Failures != 0 {
		t.Fatalf("write health after a cancelled caller: %+v", h)
	}
}

// TestQueuedWritesEachHaveTheirTime: writes that travel together with the
// commit may each wait for a row lock up to the statement timeout; the
// round trip as a whole is not cut at one statement's time, which would
// fail (and leave in doubt) a commit the server was about to make.
func TestQueuedWritesEachHaveTheirTime(t *testing.T) {
	url := pgtest.URL(t)
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := postgres.Open(octx, postgres.Options{URL: url, KEK: testKEK, StatementTimeout: time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids := []string{"c1", "c2", "c3"}
	exp := time.Now().Add(time.Hour)
	update(t, db, func(tx store.Tx) error {
		var errs []error
		for _, id := range ids {
			errs = append(errs, tx.PutCeremony(&store.Ceremony{ID: id, ExpiresAt: exp}))
		}
		return errors.Join(errs...)
	})
	// Another session holds each row for 0.7 s more than the one before.
	var holders sync.WaitGroup
	defer holders.Wait()
	for i, id := range ids {
		c := holdRow(t, url, "ceremonies", []byte(id))
		holders.Go(func() {
			time.Sleep(time.Duration(i+1) * 700 * time.Millisecond)
			_ = c.Close(context.Background()) // ends its transaction
		})
	}
	err = db.Update(ctx, func(tx store.Tx) error {
		errs := []error{tx.PutCeremony(&store.Ceremony{ID: "marker", ExpiresAt: exp})}
		for _, id := range ids {
			errs = append(errs, tx.PutCeremony(&store.Ceremony{ID: id, ExpiresAt: exp.Add(time.Minute)}))
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Fatalf("Update whose writes each waited less than the statement timeout: %v", err)
	}
	if err := db.View(ctx, func(tx store.Tx) error { return second(tx.Ceremony("marker", time.Now())) }); err != nil {
		t.Fatalf("the marker: %v", err)
	}
}

// holdRow locks the row of table with id in a transaction of a session
// of its own, which holds it until the connection closes.
func holdRow(t *testing.T, url, table string, id []byte) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SELECT 1 FROM "+table+" WHERE id = $1 FOR UPDATE", id); err != nil {
		t.Fatal(err)
	}
	return c
}
