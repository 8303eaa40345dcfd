package store

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// FuzzVerifyAudit replaces one stored event with arbitrary bytes: the
// check must never panic, and must report a break at that event unless
// the bytes are, as a record, the original.
func FuzzVerifyAudit(f *testing.F) {
	db := openTestDB(f)
	mustUpdate(f, db, func(tx *boltTx) error {
		for range 3 {
			if err := tx.AppendAudit(&AuditEvent{Time: t0, Type: "signin", UserID: "u", Detail: map[string]string{"amr": "pop"}}); err != nil {
				return err
			}
		}
		return nil
	})
	var original []byte
	var first auditRecord
	mustView(f, db, func(tx *boltTx) error {
		original = bytes.Clone(tx.raw(bucketAudit, auditEntryKey(2)))
		return tx.get(bucketAudit, auditEntryKey(1), &first)
	})
	f.Add(original)
	f.Add([]byte(`{"v":1,"time":"2030-01-02T03:04:05Z","type":"signin"}`))
	f.Add([]byte(`{"v":1,"type":"","detail":{"a":"b"},"prev":"AAAA","mac":null}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, value []byte) {
		mustUpdate(t, db, func(tx *boltTx) error { return tx.btx.Bucket(bucketAudit).Put(auditEntryKey(2), value) })
		var c AuditCheck
		mustView(t, db, func(tx *boltTx) (err error) {
			c, err = tx.VerifyAudit()
			return err
		})
		// The same event, however encoded: its MAC, following event 1's,
		// recomputes to the original's, and it keeps all of it or (binary)
		// its first half. A JSON record names what it
		// follows; a binary one follows the event stored before it.
		var rec, orig auditRecord
		_ = decode(original, &orig)
		after := auditMAC(db.auditMACKey, 1, make([]byte, 32), &first.AuditEvent)
		want := auditMAC(db.auditMACKey, 2, after, &orig.AuditEvent)
		same := decode(value, &rec) == nil && (binaryAudit(value) || bytes.Equal(rec.Prev, after)) &&
			bytes.Equal(auditMAC(db.auditMACKey, 2, after, &rec.AuditEvent), want) &&
			(bytes.Equal(rec.MAC, want) || binaryAudit(value) && bytes.Equal(rec.MAC, want[:auditStoredMACLen]))
		if !same && (c.Break == nil || c.Break.Seq != 2) {
			t.Fatalf("an altered event 2 was not found: %+v %q", c.Break, value)
		}
		if same && c.Break != nil {
			t.Fatalf("an event equal to the original broke the chain: %+v", c.Break)
		}
	})
}

// FuzzRecoveryCodesRecord decodes arbitrary bytes as a stored recovery-code
// set: an error or a record, never a panic, and a record that decodes
// encodes back to what decodes the same.
func FuzzRecoveryCodesRecord(f *testing.F) {
	key := entryKey("u1", entryRecoveryCodes, nil)
	good := &recoveryCodesRecord{header: current(), RecoveryCodes: RecoveryCodes{UserID: "u1", CreatedAt: t0, Hashes: [][]byte{[]byte("h1"), []byte("h2")}}}
	raw, _ := encodeRecord(good)
	f.Add(raw)
	f.Add([]byte(`{"v":1,"user_id":"u1","hashes":["aDE="]}`))
	f.Add([]byte{binaryVersion, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec recoveryCodesRecord
		if err := decodeAt(key, data, &rec); err != nil {
			return
		}
		again, err := encodeRecord(&rec)
		if err != nil {
			t.Fatal(err)
		}
		var back recoveryCodesRecord
		// The binary form takes the user id from the key, and clamps times
		// to what Unix nanoseconds hold.
		inRange := rec.CreatedAt.IsZero() || !rec.CreatedAt.Before(minTime) && !rec.CreatedAt.After(maxNanoTime)
		if err := decodeAt(key, again, &back); err != nil || back.UserID != "u1" || inRange && !back.CreatedAt.Equal(rec.CreatedAt) ||
			!reflect.DeepEqual(normalHashes(back.Hashes), normalHashes(rec.Hashes)) {
			t.Fatalf("%q: round trip %+v -> %+v (%v)", data, rec, back, err)
		}
	})
}

// normalHashes treats nil and empty hashes alike, as the binary form does.
func normalHashes(hs [][]byte) [][]byte {
	out := [][]byte{}
	for _, h := range hs {
		out = append(out, append([]byte{}, h...))
	}
	return out
}

// FuzzPackedID: every string reads back as appendID wrote it, and reading
// arbitrary bytes as an id never panics nor reads past them.
func FuzzPackedID(f *testing.F) {
	f.Add("0194c2a1b2c3AAAAAAAAAAAAAAAAAAAAAA", []byte{idOrdered, 1, 2})
	f.Add("AAAAAAAAAAAAAAAAAAAAAA", []byte{idRandom})
	f.Add("q2hP1ZWrVMH4fEBsY6sHKUzeGzHpxDiV2c4gKJXMJ0U", []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		r := &reader{b: appendID(nil, s)}
		if got := r.id(); got != s || r.err != nil || len(r.b) != 0 {
			t.Fatalf("%q read back as %q (%v)", s, got, r.err)
		}
		r = &reader{b: raw}
		_ = r.id()
		if len(r.b) > len(raw) {
			t.Fatal("read past the input")
		}
	})
}

// FuzzText: every string reads back as appendText wrote it, never longer
// than appendID would have written it, and reading arbitrary bytes as a
// text never panics nor reads past them.
func FuzzText(f *testing.F) {
	f.Add(testUserAgent, []byte{9, 0x80, 0xff})
	f.Add("profile groups \xff", []byte{5, 0xff})
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		b := appendText(nil, s)
		r := &reader{b: b}
		if got := r.id(); got != s || r.err != nil || len(r.b) != 0 {
			t.Fatalf("%q read back as %q (%v)", s, got, r.err)
		}
		if len(b) > len(appendID(nil, s)) {
			t.Fatalf("%q: coded in %d bytes, more than as it is", s, len(b))
		}
		r = &reader{b: raw}
		_ = r.id()
		if len(r.b) > len(raw) {
			t.Fatal("read past the input")
		}
	})
}

// FuzzSessionRecord decodes arbitrary bytes as a stored session under an
// arbitrary key: it never panics, and what decodes encodes to a record
// that decodes to the same session.
func FuzzSessionRecord(f *testing.F) {
	key, _ := packSessionID(testOrderedID(t0))
	s := sessionRecord{Session: Session{ID: sessionIDOf(key), UserID: "AAAAAAAAAAAAAAAAAAAAAA", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
		AMR: []string{"pop"}, Device: testUserAgent, ClientID: "latch", Scope: "profile groups"}, Listed: true, InLane: true}
	good, _ := encodeRecord(&s)
	f.Add(key, good)
	f.Add([]byte("ses-1"), []byte{3, 0, 0})
	f.Fuzz(func(t *testing.T, key, data []byte) {
		var rec sessionRecord
		if decodeAt(key, data, &rec) != nil || len(data) == 0 || data[0] == '{' {
			return
		}
		again, err := encodeRecord(&rec)
		if err != nil {
			t.Fatal(err)
		}
		var back sessionRecord
		if err := decodeAt(key, again, &back); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(back.clone(), rec.clone()) {
			t.Fatalf("round trip changed the session:\n%+v\n%+v", rec, back)
		}
	})
}
