package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// appendEvents appends n events, one transaction each.
func appendEvents(t *testing.T, db *DB, n int) {
	t.Helper()
	for i := range n {
		mustUpdate(t, db, func(tx *boltTx) error {
			return tx.AppendAudit(&AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Type: "signin", UserID: fmt.Sprint("u", i),
				Detail: map[string]string{"amr": "passkey", "n": fmt.Sprint(i)}})
		})
	}
}

func verifyAudit(t *testing.T, db *DB) AuditCheck {
	t.Helper()
	var check AuditCheck
	mustView(t, db, func(tx *boltTx) (err error) {
		check, err = tx.VerifyAudit()
		return err
	})
	return check
}

// rawAudit changes the stored log directly, as someone writing the file
// would.
func rawAudit(t *testing.T, db *DB, fn func(tx *boltTx) error) {
	t.Helper()
	mustUpdate(t, db, fn)
}

// The chain survives a reopen: its MAC key comes from the master key.
// (What the chain holds through appends is checked by the conformance
// suite, store/storetest.)
func TestAuditChainSurvivesAReopen(t *testing.T) {
	db := openTestDB(t)
	appendEvents(t, db, 5)
	path := db.bolt.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path)
	appendEvents(t, db, 1)
	if c := verifyAudit(t, db); c.Break != nil || c.Events != 6 || c.Head != 6 {
		t.Fatalf("after a reopen: %+v %+v", c, c.Break)
	}
}

func TestAuditChainFindsTheFirstBreak(t *testing.T) {
	put := func(tx *boltTx, seq uint64, rec *auditRecord) error {
		return tx.put(bucketAudit, auditEntryKey(seq), rec)
	}
	get := func(tx *boltTx, seq uint64) *auditRecord {
		var rec auditRecord
		if err := tx.get(bucketAudit, auditEntryKey(seq), &rec); err != nil {
			t.Fatal(err)
		}
		return &rec
	}
	cases := []struct {
		name   string
		tamper func(tx *boltTx) error
		at     uint64
		reason string
	}{
		{"an altered detail", func(tx *boltTx) error {
			rec := get(tx, 3)
			rec.Detail["amr"] = "otp"
			return put(tx, 3, rec)
		}, 3, "altered"},
		{"altered bytes", func(tx *boltTx) error {
			v := bytes.Clone(tx.raw(bucketAudit, auditEntryKey(4)))
			i := bytes.Index(v, []byte("u3"))
			if i < 0 {
				return errors.New("the user id is not in the stored event")
			}
			v[i+1] = '9'
			return tx.btx.Bucket(bucketAudit).Put(auditEntryKey(4), v)
		}, 4, "altered"},
		{"an event removed", func(tx *boltTx) error { return tx.del(bucketAudit, auditEntryKey(3)) }, 3, "missing"},
		{"the first event removed", func(tx *boltTx) error { return tx.del(bucketAudit, auditEntryKey(1)) }, 1, "missing"},
		{"the last event removed", func(tx *boltTx) error { return tx.del(bucketAudit, auditEntryKey(6)) }, 6, "missing"},
		{"an event replaced by another's copy", func(tx *boltTx) error {
			return put(tx, 3, get(tx, 2))
		}, 3, "altered"},
		{"an event re-chained with another key", func(tx *boltTx) error {
			rec := get(tx, 2)
			rec.Type = "forged"
			rec.MAC = auditMAC(auditChainKey(make([]byte, KeySize)), 2, rec.Prev, &rec.AuditEvent)
			return put(tx, 2, rec)
		}, 2, "altered"},
		{"two events swapped", func(tx *boltTx) error {
			a, b := get(tx, 2), get(tx, 3)
			return errors.Join(put(tx, 2, b), put(tx, 3, a))
		}, 2, "altered"},
		{"its MAC cut shorter", func(tx *boltTx) error {
			rec := get(tx, 4)
			rec.MAC = rec.MAC[:8]
			return put(tx, 4, rec)
		}, 4, "altered"},
		{"its MAC stripped", func(tx *boltTx) error {
			rec := get(tx, 5)
			rec.MAC, rec.Prev = nil, nil
			return put(tx, 5, rec)
		}, 5, "no chain MAC"},
		{"an event added behind the chain's back", func(tx *boltTx) error {
			// Even with a valid MAC: the head was not moved.
			head, _ := tx.auditHead() // the whole MAC of event 6
			rec := &auditRecord{header: current(), AuditEvent: AuditEvent{Time: t0, Type: "forged"}, Prev: head.mac}
			rec.MAC = auditMAC(tx.db.auditMACKey, 7, rec.Prev, &rec.AuditEvent)
			return put(tx, 7, rec)
		}, 7, "behind the chain's back"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			appendEvents(t, db, 6)
			rawAudit(t, db, tc.tamper)
			c := verifyAudit(t, db)
			if c.Break == nil || c.Break.Seq != tc.at || !strings.Contains(c.Break.Reason, tc.reason) {
				t.Fatalf("break = %+v, want at %d (%s)", c.Break, tc.at, tc.reason)
			}
		})
	}
}

// TestAuditChainBeginsAfterAnUpgrade checks a log written before the
// chain: its events stay readable and are counted as unchained, and the
// chain starts at the first event appended after.
func TestAuditChainBeginsAfterAnUpgrade(t *testing.T) {
	db := openTestDB(t)
	rawAudit(t, db, func(tx *boltTx) error {
		for i := range 3 {
			seq, err := tx.btx.Bucket(bucketAudit).NextSequence()
			if err != nil {
				return err
			}
			// The record as the earlier version wrote it: no prev, no mac.
			v := fmt.Sprintf(`{"v":1,"time":"2029-01-0%dT00:00:00Z","type":"signup","user_id":"u%d"}`, i+1, i)
			if err := tx.btx.Bucket(bucketAudit).Put(binary.BigEndian.AppendUint64(nil, seq), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if c := verifyAudit(t, db); c.Break != nil || c.Events != 3 || c.Unchained != 3 || c.Head != 0 {
		t.Fatalf("before the chain: %+v", c)
	}
	appendEvents(t, db, 2)
	c := verifyAudit(t, db)
	if c.Break != nil || c.Events != 5 || c.Unchained != 3 || c.Genesis != 4 || c.Head != 5 {
		t.Fatalf("after the upgrade: %+v %+v", c, c.Break)
	}
	var types []string
	mustView(t, db, func(tx *boltTx) error {
		return tx.ScanAudit(func(e *AuditEvent) error {
			types = append(types, fmt.Sprint(e.Seq, e.Type))
			return nil
		})
	})
	if want := []string{"1signup", "2signup", "3signup", "4signin", "5signin"}; !reflect.DeepEqual(types, want) {
		t.Fatalf("scan = %v, want %v", types, want)
	}
	// The genesis event removed is a break, not a longer unchained prefix.
	rawAudit(t, db, func(tx *boltTx) error { return tx.del(bucketAudit, auditEntryKey(4)) })
	if c := verifyAudit(t, db); c.Break == nil || c.Break.Seq != 4 {
		t.Fatalf("genesis removed: %+v", c.Break)
	}
}

// BenchmarkAppendAudit is the work one sign-in's event adds to the
// transaction it shares (head read, MAC, two puts), without the commit:
// all in one bbolt transaction, whose commit is left out of the timing.
// Run with a fixed count (-benchtime 20000x): one transaction holds them all.
func BenchmarkAppendAudit(b *testing.B) {
	db := openTestDB(b)
	e := AuditEvent{Time: t0, Type: "signin", UserID: "AAAAAAAAAAAAAAAAAAAAAA", Detail: map[string]string{"amr": "pop", "sid": "0123456789abcdefghijkl"}}
	b.ReportAllocs()
	mustUpdate(b, db, func(tx *boltTx) error {
		for b.Loop() {
			if err := tx.AppendAudit(&e); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestAuditJSONEventsStillVerify: a log whose chained events were written
// as JSON, each naming the MAC it follows, as the earlier version stored
// them, still reads and verifies, and binary events appended after chain
// on to it; an altered JSON event is still found.
func TestAuditJSONEventsStillVerify(t *testing.T) {
	db := openTestDB(t)
	appendEvents(t, db, 3)
	// Rewrite the three as JSON, as the earlier version stored them.
	rawAudit(t, db, func(tx *boltTx) error {
		prev := make([]byte, 32)
		for seq := uint64(1); seq <= 3; seq++ {
			var rec auditRecord
			if err := tx.get(bucketAudit, auditEntryKey(seq), &rec); err != nil {
				return err
			}
			// That version kept the whole MAC and the one it follows.
			rec.Prev = prev
			rec.MAC = auditMAC(tx.db.auditMACKey, seq, prev, &rec.AuditEvent)
			prev = rec.MAC
			v, err := json.Marshal(&rec)
			if err != nil {
				return err
			}
			if err := tx.btx.Bucket(bucketAudit).Put(auditEntryKey(seq), v); err != nil {
				return err
			}
		}
		return nil
	})
	appendEvents(t, db, 2)
	var raw [][]byte
	mustView(t, db, func(tx *boltTx) error {
		for seq := uint64(1); seq <= 5; seq++ {
			raw = append(raw, bytes.Clone(tx.raw(bucketAudit, auditEntryKey(seq))))
		}
		return nil
	})
	if raw[2][0] != '{' || raw[3][0] != auditVersion {
		t.Fatalf("not a JSON log with binary events after it: %q, %q", raw[2], raw[3])
	}
	if len(raw[3]) >= len(raw[2])/2 {
		t.Fatalf("a binary event takes %d bytes, its JSON %d", len(raw[3]), len(raw[2]))
	}
	if c := verifyAudit(t, db); c.Break != nil || c.Events != 5 || c.Unchained != 0 || c.Head != 5 {
		t.Fatalf("verify: %+v %+v", c, c.Break)
	}
	var events []AuditEvent
	mustView(t, db, func(tx *boltTx) (err error) { events, err = tx.AuditEvents(0); return err })
	if len(events) != 5 || events[4].Detail["n"] != "0" || events[0].Detail["n"] != "1" || events[0].UserID != "u1" {
		t.Fatalf("events = %+v", events)
	}
	rawAudit(t, db, func(tx *boltTx) error {
		v := bytes.Replace(bytes.Clone(tx.raw(bucketAudit, auditEntryKey(2))), []byte(`"u1"`), []byte(`"u9"`), 1)
		return tx.btx.Bucket(bucketAudit).Put(auditEntryKey(2), v)
	})
	if c := verifyAudit(t, db); c.Break == nil || c.Break.Seq != 2 {
		t.Fatalf("an altered JSON event: %+v", c.Break)
	}
}

// TestAuditEventsOfVersion2AndVersion3FormOneChain: events stored in the
// version 2 encoding (texts as plain strings) and events appended after
// them in version 3 (texts coded) verify as one chain.
func TestAuditEventsOfVersion2AndVersion3FormOneChain(t *testing.T) {
	db := openTestDB(t)
	event := func(i int) *AuditEvent {
		return &AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Type: "signin_failed", UserID: "AAAAAAAAAAAAAAAAAAAAAA",
			Detail: map[string]string{"reason": "wrong code \xff", "sid": testOrderedID(t0), "amr": "pop"}}
	}
	mustUpdate(t, db, func(tx *boltTx) error {
		for i := range 3 {
			if err := tx.AppendAudit(event(i)); err != nil {
				return err
			}
		}
		// Rewrite them as version 2 wrote them.
		for seq := uint64(1); seq <= 3; seq++ {
			var rec auditRecord
			if err := tx.get(bucketAudit, auditEntryKey(seq), &rec); err != nil {
				return err
			}
			e := &rec.AuditEvent
			b := appendID(appendString(appendTime([]byte{binaryVersion}, e.Time), e.Type), e.UserID)
			b = appendUvarint(b, 3)
			for _, k := range []string{"amr", "reason", "sid"} {
				b = appendID(appendString(b, k), e.Detail[k])
			}
			if err := tx.btx.Bucket(bucketAudit).Put(auditEntryKey(seq), appendBytes(b, rec.MAC)); err != nil {
				return err
			}
		}
		for i := 3; i < 6; i++ {
			if err := tx.AppendAudit(event(i)); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx *boltTx) error {
		if v := tx.raw(bucketAudit, auditEntryKey(1)); v[0] != binaryVersion {
			t.Fatalf("event 1 is of version %d, want 2", v[0])
		}
		return nil
	})
	if c := verifyAudit(t, db); c.Break != nil || c.Events != 6 || c.Unchained != 0 {
		t.Fatalf("verify: %+v %+v", c, c.Break)
	}
}
