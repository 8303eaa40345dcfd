package store

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzVerifyAudit replaces one stored event with arbitrary bytes: the
// check must never panic, and must report a break at that event unless
// the bytes are, as a record, the original.
func FuzzVerifyAudit(f *testing.F) {
	db := openTestDB(f)
	mustUpdate(f, db, func(tx *Tx) error {
		for range 3 {
			if err := tx.AppendAudit(&AuditEvent{Time: t0, Type: "signin", UserID: "u", Detail: map[string]string{"amr": "pop"}}); err != nil {
				return err
			}
		}
		return nil
	})
	var original []byte
	mustView(f, db, func(tx *Tx) error {
		original = bytes.Clone(tx.raw(bucketAudit, auditEntryKey(2)))
		return nil
	})
	f.Add(original)
	f.Add([]byte(`{"v":1,"time":"2030-01-02T03:04:05Z","type":"signin"}`))
	f.Add([]byte(`{"v":1,"type":"","detail":{"a":"b"},"prev":"AAAA","mac":null}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, value []byte) {
		mustUpdate(t, db, func(tx *Tx) error { return tx.btx.Bucket(bucketAudit).Put(auditEntryKey(2), value) })
		var c AuditCheck
		mustView(t, db, func(tx *Tx) (err error) {
			c, err = tx.VerifyAudit()
			return err
		})
		// The same event, however encoded: its MAC recomputes to the
		// original's.
		var rec, orig auditRecord
		_ = decode(original, &orig)
		same := decode(value, &rec) == nil && bytes.Equal(rec.Prev, orig.Prev) &&
			bytes.Equal(auditMAC(db.auditMACKey, 2, rec.Prev, &rec.AuditEvent), orig.MAC) && bytes.Equal(rec.MAC, orig.MAC)
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
