package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holdWriter occupies the single writer with a function that waits for the
// returned release func, so the requests queued meanwhile are committed
// together in the next batch.
func holdWriter(t *testing.T, db *DB) (release func()) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Update(context.Background(), func(Tx) error {
			select {
			case <-entered:
			default:
				close(entered)
			}
			<-gate
			return nil
		})
	}()
	<-entered
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("holding write: %v", err)
		}
	}
}

// waitQueued waits until n requests sit in the writer's queue.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(db.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d requests, want %d", len(db.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// batchOutcome runs fns as one batch, in order (queued one by one behind a
// held writer), and returns each caller's error.
func batchOutcome(t *testing.T, db *DB, fns []func(Tx) error) []error {
	t.Helper()
	release := holdWriter(t, db)
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = db.Update(context.Background(), fn) })
		waitQueued(t, db, i+1)
	}
	release()
	wg.Wait()
	return errs
}

func putClient(id string) func(Tx) error {
	return func(tx Tx) error { return tx.PutClient(&Client{ID: id}) }
}

func TestBatchIsolatesFailures(t *testing.T) {
	errOwn := errors.New("own failure")
	tests := []struct {
		name    string
		bad     func(Tx) error
		wantErr func(error) bool
	}{
		{
			name: "a failing fn gets its own error and its writes are dropped",
			bad: func(tx Tx) error {
				if err := tx.PutClient(&Client{ID: "bad"}); err != nil {
					return err
				}
				return errOwn
			},
			wantErr: func(err error) bool { return errors.Is(err, errOwn) },
		},
		{
			name: "a panicking fn gets an error and its writes are dropped",
			bad: func(tx Tx) error {
				if err := tx.PutClient(&Client{ID: "bad"}); err != nil {
					return err
				}
				panic("broken handler")
			},
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "panicked") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			fns := []func(Tx) error{putClient("a"), putClient("b"), tt.bad, putClient("c"), putClient("d")}
			errs := batchOutcome(t, db, fns)
			for i, err := range errs {
				if i == 2 {
					if !tt.wantErr(err) {
						t.Errorf("failing fn got %v", err)
					}
					continue
				}
				if err != nil {
					t.Errorf("fn %d got %v, want nil", i, err)
				}
			}
			mustView(t, db, func(tx *boltTx) error {
				for _, id := range []string{"a", "b", "c", "d"} {
					if _, err := tx.Client(id); err != nil {
						t.Errorf("client %s lost: %v", id, err)
					}
				}
				if _, err := tx.Client("bad"); !errors.Is(err, ErrNotFound) {
					t.Errorf("failed fn's write kept: %v", err)
				}
				return nil
			})
		})
	}
}

func TestBatchedFnSeesEarlierWritesOfItsBatch(t *testing.T) {
	db := openTestDB(t)
	// Two callers race for one username in the same commit: exactly one
	// wins, the other sees the first one's write and gets ErrUsernameTaken.
	put := func(id string) func(Tx) error {
		return func(tx Tx) error {
			return tx.PutUser(&User{ID: id, Handle: []byte(id), Username: "same"})
		}
	}
	errs := batchOutcome(t, db, []func(Tx) error{put("u1"), put("u2")})
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrUsernameTaken):
			t.Errorf("unexpected error %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d callers won the username, want exactly 1", won)
	}
}

func TestFnsRerunAfterAFailureInTheirBatch(t *testing.T) {
	db := openTestDB(t)
	var runs atomic.Int32
	counted := func(tx Tx) error {
		runs.Add(1)
		return tx.PutClient(&Client{ID: "counted"})
	}
	errs := batchOutcome(t, db, []func(Tx) error{
		counted,
		func(Tx) error { return errors.New("fail") },
	})
	if errs[0] != nil || errs[1] == nil {
		t.Fatalf("errors = %v", errs)
	}
	// The first fn ran, was rolled back with the failing one, and ran
	// again: this is why fns must be idempotent.
	if got := runs.Load(); got != 2 {
		t.Fatalf("fn ran %d times, want 2", got)
	}
}

func TestUpdateRespectsContext(t *testing.T) {
	t.Run("cancelled before the call, fn never runs", func(t *testing.T) {
		db := openTestDB(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		err := db.Update(ctx, func(Tx) error { ran = true; return nil })
		if !errors.Is(err, context.Canceled) || ran {
			t.Fatalf("err=%v ran=%v", err, ran)
		}
	})
	t.Run("cancelled while queued, fn never runs", func(t *testing.T) {
		db := openTestDB(t)
		release := holdWriter(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		var ran atomic.Bool
		done := make(chan error, 1)
		go func() {
			done <- db.Update(ctx, func(tx Tx) error {
				ran.Store(true)
				return tx.PutClient(&Client{ID: "late"})
			})
		}()
		waitQueued(t, db, 1)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		release()
		// A later write commits after the abandoned one was skipped.
		if err := db.Update(t.Context(), putClient("after")); err != nil {
			t.Fatal(err)
		}
		if ran.Load() {
			t.Fatal("abandoned fn ran")
		}
		mustView(t, db, func(tx *boltTx) error {
			if _, err := tx.Client("late"); !errors.Is(err, ErrNotFound) {
				t.Errorf("abandoned write committed: %v", err)
			}
			return nil
		})
	})
}

func TestCloseDrainsQueuedWrites(t *testing.T) {
	db := openTestDB(t)
	release := holdWriter(t, db)
	const n = 5
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- db.Update(context.Background(), putClient(fmt.Sprint(i))) }()
	}
	waitQueued(t, db, n)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	// Close must wait for the queued writes, which wait for the writer.
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v before queued writes committed", err)
	case <-time.After(20 * time.Millisecond):
	}
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("queued write: %v", err)
		}
	}
}

// BenchmarkUpdateSerial measures one caller: every write pays a full
// fsync'd commit.
func BenchmarkUpdateSerial(b *testing.B) {
	db := openTestDB(b)
	ctx := context.Background()
	var n int
	for b.Loop() {
		n++
		c := benchCeremony(n)
		if err := db.Update(ctx, func(tx Tx) error { return tx.PutCeremony(c) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkUpdateParallel measures about 32 concurrent callers sharing
// commits through the group-commit writer.
func BenchmarkUpdateParallel(b *testing.B) {
	db := openTestDB(b)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := benchCeremony(int(next.Add(1)))
			if err := db.Update(ctx, func(tx Tx) error { return tx.PutCeremony(c) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func benchCeremony(n int) *Ceremony {
	return &Ceremony{
		ID:        fmt.Sprintf("ceremony-%d", n),
		Kind:      "login",
		Session:   []byte(`{"challenge":"c2FtcGxlLWNoYWxsZW5nZQ"}`),
		ExpiresAt: t0,
	}
}

func TestCloseDuringConcurrentUpdatesNeverLosesAnAcknowledgedWrite(t *testing.T) {
	path := t.TempDir() + "/latch.db"
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var acked sync.Map
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("c-%d-%d", w, i)
				err := db.Update(context.Background(), putClient(id))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
				acked.Store(id, true)
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	db, err = Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustView(t, db, func(tx *boltTx) error {
		acked.Range(func(id, _ any) bool {
			if _, err := tx.Client(id.(string)); err != nil {
				t.Errorf("acknowledged write %s lost: %v", id, err)
			}
			return true
		})
		return nil
	})
}

func TestStatsCountCommitsAndTheWritesTheyCarry(t *testing.T) {
	db := openTestDB(t)
	s0 := db.Stats()
	// Three writes queued behind a held writer commit together; a failing
	// one is not counted.
	errs := batchOutcome(t, db, []func(Tx) error{
		putClient("s1"), putClient("s2"), func(Tx) error { return errors.New("no") }, putClient("s3"),
	})
	if errs[2] == nil {
		t.Fatal("the failing write succeeded")
	}
	s1 := db.Stats()
	c0, w0, c1, w1 := s0.Commits, s0.Writes, s1.Commits, s1.Writes
	// holdWriter's own blocking write is one more commit of one write.
	if w1-w0 != 4 || c1-c0 != 2 {
		t.Fatalf("commits +%d, writes +%d; want +2 commits carrying +4 writes", c1-c0, w1-w0)
	}
	if s1.PagesWritten <= s0.PagesWritten {
		t.Errorf("pages written went from %d to %d over two commits", s0.PagesWritten, s1.PagesWritten)
	}
}

func TestFailedCommitsAreReportedAndHealthRecovers(t *testing.T) {
	db := openTestDB(t)
	if h := db.WriteHealth(); h.Failing || h.Failures != 0 {
		t.Fatalf("fresh store reports %+v", h)
	}
	disk := errors.New("no space left on device")
	db.InjectCommitFault(func() error { return disk })
	for i := range 2 {
		err := db.Update(context.Background(), putClient(fmt.Sprintf("lost%d", i)))
		if !errors.Is(err, ErrWriteFailed) || !errors.Is(err, disk) {
			t.Fatalf("commit under a fault: %v, want ErrWriteFailed wrapping the cause", err)
		}
	}
	h := db.WriteHealth()
	if !h.Failing || h.ConsecutiveFailures != 2 || h.Failures != 2 || !errors.Is(h.LastError, disk) || h.LastFailure.IsZero() {
		t.Fatalf("health after two failed commits: %+v", h)
	}
	// Nothing of the failed writes was kept.
	mustView(t, db, func(tx *boltTx) error {
		if _, err := tx.Client("lost0"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a write whose commit failed is visible: %v", err)
		}
		return nil
	})
	// A write function's own error is the caller's, not the store's.
	if err := db.Update(context.Background(), func(Tx) error { return ErrNotFound }); errors.Is(err, ErrWriteFailed) {
		t.Fatalf("a function's error was reported as a write failure: %v", err)
	}
	db.InjectCommitFault(nil)
	if err := db.ProbeWrite(context.Background(), t0); err != nil {
		t.Fatalf("probe after the fault cleared: %v", err)
	}
	if h := db.WriteHealth(); h.Failing || h.ConsecutiveFailures != 0 || h.Failures != 2 {
		t.Fatalf("health after a commit succeeded again: %+v", h)
	}
	if err := db.Update(t.Context(), putClient("kept")); err != nil {
		t.Fatal(err)
	}
}
