package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

func testAudit(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"EventsNewestFirst":                auditNewestFirst,
		"ScanOldestFirstAndStops":          auditScan,
		"WithoutTypeIsRefused":             auditInvalid,
		"ChainHoldsAfterAppends":           auditChainHolds,
		"ChainHoldsUnderConcurrentWriters": auditConcurrent,
	})
}

// appendEvents appends n events, one transaction each, numbered from
// first.
func appendEvents(t *testing.T, s store.Store, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		mustUpdate(t, s, func(tx store.Tx) error {
			return tx.AppendAudit(&store.AuditEvent{Time: T0.Add(time.Duration(i) * time.Second), Type: "signin", UserID: fmt.Sprint("u", i),
				Detail: map[string]string{"amr": "passkey", "n": fmt.Sprint(i)}})
		})
	}
}

func verifyAudit(t *testing.T, s store.Store) store.AuditCheck {
	t.Helper()
	var check store.AuditCheck
	mustView(t, s, func(tx store.Tx) (err error) {
		check, err = tx.VerifyAudit()
		return err
	})
	return check
}

func auditNewestFirst(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range 5 {
			e := store.AuditEvent{Time: T0.Add(time.Duration(i) * time.Second), Type: fmt.Sprint("e", i), UserID: "u",
				Detail: map[string]string{"n": fmt.Sprint(i)}}
			if err := tx.AppendAudit(&e); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{"limit returns the newest events", 2, []string{"e4", "e3"}},
		{"zero limit returns all", 0, []string{"e4", "e3", "e2", "e1", "e0"}},
		{"negative limit returns all", -1, []string{"e4", "e3", "e2", "e1", "e0"}},
		{"limit above the count returns all", 10, []string{"e4", "e3", "e2", "e1", "e0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustView(t, s, func(tx store.Tx) error {
				events, err := tx.AuditEvents(tt.limit)
				if err != nil {
					return err
				}
				var types []string
				for _, e := range events {
					types = append(types, e.Type)
				}
				if !reflect.DeepEqual(types, tt.want) {
					t.Errorf("types = %v, want %v", types, tt.want)
				}
				return nil
			})
		})
	}
	mustView(t, s, func(tx store.Tx) error {
		events, err := tx.AuditEvents(1)
		if err != nil {
			return err
		}
		want := store.AuditEvent{Seq: 5, Time: T0.Add(4 * time.Second), Type: "e4", UserID: "u", Detail: map[string]string{"n": "4"}}
		if len(events) != 1 || !reflect.DeepEqual(events[0], want) {
			t.Errorf("events = %+v, want [%+v]", events, want)
		}
		return nil
	})
}

func auditScan(t *testing.T, s store.Store) {
	zone := time.FixedZone("X", -5*3600)
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.AppendAudit(&store.AuditEvent{Time: T0.In(zone), Type: "signup", UserID: "u1"}),
			tx.AppendAudit(&store.AuditEvent{Time: T0.Add(time.Second), Type: "signin", Detail: map[string]string{"reason": "wrong code \xff", "": "empty key"}}),
			tx.AppendAudit(&store.AuditEvent{Time: T0.Add(2 * time.Second), Type: "signout", UserID: "u1"}),
		)
	})
	want := []store.AuditEvent{
		{Seq: 1, Time: T0, Type: "signup", UserID: "u1"},
		{Seq: 2, Time: T0.Add(time.Second), Type: "signin", Detail: map[string]string{"reason": "wrong code \xff", "": "empty key"}},
		{Seq: 3, Time: T0.Add(2 * time.Second), Type: "signout", UserID: "u1"},
	}
	var got []store.AuditEvent
	mustView(t, s, func(tx store.Tx) error {
		return tx.ScanAudit(func(e *store.AuditEvent) error { got = append(got, *e); return nil })
	})
	if len(got) != len(want) {
		t.Fatalf("scanned %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Time.Location() != time.UTC {
			t.Errorf("event %d's time is not in UTC: %v", i+1, got[i].Time)
		}
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("event %d = %+v, want %+v", i+1, got[i], want[i])
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.ScanAudit(func(*store.AuditEvent) error { calls++; return stop })
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("scan returned %v after %d calls, want fn's error after 1", err, calls)
	}
	if c := verifyAudit(t, s); c.Break != nil || c.Events != 3 || c.Head != 3 {
		t.Errorf("verify: %+v %+v", c, c.Break)
	}
}

func auditInvalid(t *testing.T, s store.Store) {
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.AppendAudit(&store.AuditEvent{Time: T0}) }); err == nil {
		t.Fatal("AppendAudit accepted an event without type")
	}
	mustView(t, s, func(tx store.Tx) error {
		if events, err := tx.AuditEvents(0); err != nil || len(events) != 0 {
			t.Errorf("an invalid event was stored: %+v, %v", events, err)
		}
		return nil
	})
}

func auditChainHolds(t *testing.T, s store.Store) {
	if c := verifyAudit(t, s); c.Break != nil || c.Events != 0 || c.Head != 0 || c.Genesis != 0 || len(c.HeadMAC) != 0 {
		t.Fatalf("an empty log: %+v", c)
	}
	appendEvents(t, s, 0, 5)
	c := verifyAudit(t, s)
	if c.Break != nil || c.Events != 5 || c.Unchained != 0 || c.Genesis != 1 || c.Head != 5 || len(c.HeadMAC) < 16 {
		t.Fatalf("verify: %+v %+v", c, c.Break)
	}
	// Each append moves the head; a failed one leaves it.
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.AppendAudit(&store.AuditEvent{Time: T0, Type: "rolled-back"}); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	if err == nil {
		t.Fatal("Update returned no error")
	}
	if again := verifyAudit(t, s); again.Break != nil || again.Events != 5 || again.Head != 5 || !reflect.DeepEqual(again.HeadMAC, c.HeadMAC) {
		t.Fatalf("after a rolled-back append: %+v %+v", again, again.Break)
	}
	appendEvents(t, s, 5, 1)
	next := verifyAudit(t, s)
	if next.Break != nil || next.Events != 6 || next.Head != 6 || reflect.DeepEqual(next.HeadMAC, c.HeadMAC) {
		t.Fatalf("after one more append: %+v %+v", next, next.Break)
	}
	mustView(t, s, func(tx store.Tx) error {
		events, err := tx.AuditEvents(0)
		if err != nil || len(events) != 6 || events[0].Seq != 6 || events[5].Seq != 1 || events[0].Detail["n"] != "5" {
			t.Errorf("events = %+v, %v", events, err)
		}
		return nil
	})
}

// auditConcurrent appends from many writers at once, some of whose
// transactions fail; the chain must hold over what was committed, with
// every event once.
func auditConcurrent(t *testing.T, s store.Store) {
	const writers = 64
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := map[string]bool{}
	for i := range writers {
		wg.Go(func() {
			err := s.Update(context.Background(), func(tx store.Tx) error {
				for j := range 2 {
					if err := tx.AppendAudit(&store.AuditEvent{Time: T0, Type: "e", Detail: map[string]string{"w": fmt.Sprint(i, "/", j)}}); err != nil {
						return err
					}
				}
				if i%5 == 0 {
					return errors.New("rolled back") // its events must go with it
				}
				return nil
			})
			if err == nil {
				mu.Lock()
				committed[fmt.Sprint(i, "/0")], committed[fmt.Sprint(i, "/1")] = true, true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(committed) != 2*(writers-(writers+4)/5) {
		t.Errorf("%d events committed, want %d", len(committed), 2*(writers-(writers+4)/5))
	}
	c := verifyAudit(t, s)
	if c.Break != nil || c.Events != len(committed) || c.Head != uint64(len(committed)) {
		t.Fatalf("verify: %+v %+v, %d events committed", c, c.Break, len(committed))
	}
	seen := map[string]bool{}
	mustView(t, s, func(tx store.Tx) error {
		var seq uint64
		return tx.ScanAudit(func(e *store.AuditEvent) error {
			seq++
			if e.Seq != seq {
				t.Errorf("event %d has Seq %d", seq, e.Seq)
			}
			w := e.Detail["w"]
			if seen[w] || !committed[w] {
				t.Errorf("event %s: seen before %v, committed %v", w, seen[w], committed[w])
			}
			seen[w] = true
			return nil
		})
	})
	if len(seen) != len(committed) {
		t.Errorf("%d events in the log, %d committed", len(seen), len(committed))
	}
}
