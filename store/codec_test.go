package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestRecordsInTheJSONEncodingStillRead writes users, credentials, sessions
// and refresh tokens the way earlier versions did (JSON, version 1) and
// reads them back; a rewrite stores the binary encoding, which reads back
// the same.
func TestRecordsInTheJSONEncodingStillRead(t *testing.T) {
	db := openTestDB(t)
	user := User{ID: "u1", Handle: []byte("handle-1"), Username: "alice", DisplayName: "Alice", CreatedAt: t0}
	own := User{ID: "u2", Handle: []byte("u2"), Username: "bob", CreatedAt: t0, Disabled: true}
	cred := Credential{
		ID: []byte{1, 2, 3}, UserID: "u1", Name: "key", CreatedAt: t0, LastUsedAt: t0.Add(time.Hour),
		Transports: []string{"usb", "nfc"}, AAGUID: bytes.Repeat([]byte{7}, 16), BackupEligible: true,
		BackupState: true, SignCount: 42, Record: []byte(`{"id":"AQID"}`),
	}
	sess := Session{
		ID: "s1", UserID: "u1", CreatedAt: t0, AuthTime: t0, ExpiresAt: t0.Add(time.Hour),
		AMR: []string{"hwk", "user"}, JKT: "thumb", RevokedAt: t0.Add(time.Minute), Device: "Firefox",
	}
	rt := RefreshToken{
		Hash: "h1", SessionID: "s1", UserID: "u1", ClientID: "latch", Scope: "profile", JKT: "thumb",
		IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), RotatedAt: t0.Add(time.Minute),
	}
	legacy := []struct {
		bucket, key []byte
		rec         any
	}{
		{bucketAccounts, accountKey(user.ID), userRecord{header: current(), User: user}},
		{bucketAccounts, accountKey(own.ID), userRecord{header: current(), User: own}},
		{bucketAccounts, entryKey(cred.UserID, entryCredential, cred.ID), credentialRecord{header: current(), Credential: cred}},
		{bucketSessions, []byte(sess.ID), sessionRecord{header: current(), Session: sess}},
		{bucketRefreshTokens, []byte(rt.Hash), refreshTokenRecord{header: current(), RefreshToken: rt}},
	}
	mustUpdate(t, db, func(tx *boltTx) error {
		for _, l := range legacy {
			data, err := json.Marshal(l.rec) // the version 1 encoding
			if err != nil {
				return err
			}
			if err := tx.btx.Bucket(l.bucket).Put(l.key, data); err != nil {
				return err
			}
		}
		return tx.btx.Bucket(bucketCredentialOwners).Put(cred.ID, []byte(cred.UserID))
	})
	check := func(stage string) {
		t.Helper()
		mustView(t, db, func(tx *boltTx) error {
			for _, want := range []User{user, own} {
				if got, err := tx.User(want.ID); err != nil || !reflect.DeepEqual(*got, want) {
					t.Errorf("%s: user %+v, %v; want %+v", stage, got, err, want)
				}
			}
			if got, err := tx.Credential(cred.ID); err != nil || !reflect.DeepEqual(*got, cred) {
				t.Errorf("%s: credential %+v, %v; want %+v", stage, got, err, cred)
			}
			if got, err := tx.Session(sess.ID); err != nil || !reflect.DeepEqual(*got, sess) {
				t.Errorf("%s: session %+v, %v; want %+v", stage, got, err, sess)
			}
			if got, err := tx.RefreshToken(rt.Hash); err != nil || !reflect.DeepEqual(*got, rt) {
				t.Errorf("%s: refresh token %+v, %v; want %+v", stage, got, err, rt)
			}
			return nil
		})
	}
	check("JSON")
	mustUpdate(t, db, func(tx *boltTx) error {
		return errorsJoin(tx.PutUser(&user), tx.PutUser(&own), tx.PutCredential(&cred), tx.PutSession(&sess), tx.PutRefreshToken(&rt))
	})
	mustView(t, db, func(tx *boltTx) error {
		for _, l := range legacy {
			if v := tx.btx.Bucket(l.bucket).Get(l.key); len(v) == 0 || v[0] < binaryVersion || v[0] == '{' {
				t.Errorf("%s %q was rewritten as %q, not in the binary encoding", l.bucket, l.key, v)
			}
		}
		return nil
	})
	check("binary")
}

func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// FuzzDecodeBinary feeds arbitrary bytes to the binary decoders: they must
// fail or succeed, never panic, and whatever they accept must encode and
// decode to itself.
func FuzzDecodeBinary(f *testing.F) {
	rt := refreshTokenRecord{RefreshToken: RefreshToken{SessionID: "s", UserID: "u", IssuedAt: t0, Previous: "p"}}
	f.Add(rt.appendBinary([]byte{binaryVersion}))
	s := sessionRecord{Session: Session{UserID: "u", AMR: []string{"hwk"}, ExpiresAt: t0, JKT: "q2hP1ZWrVMH4fEBsY6sHKUzeGzHpxDiV2c4gKJXMJ0U"}, Listed: true, Prev: "0194c2a1b2c3AAAAAAAAAAAAAAAAAAAAAA"}
	if data, err := encodeRecord(&s); err == nil {
		f.Add(data)
	}
	// A session as version 2 wrote it.
	f.Add(append([]byte{binaryVersion, 1, 'u', 0, 0, 0, 1, 3, 'h', 'w', 'k', 0, 0, 7}, "Firefox"...))
	c := credentialRecord{Credential: Credential{Transports: []string{"usb"}, SignCount: 9, Record: []byte("r")}}
	f.Add(c.appendBinary([]byte{binaryVersion}))
	f.Add([]byte{binaryVersion, 0xff, 0xff, 0xff})
	key := entryKey("u", entryCredential, []byte("c"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, rec := range []interface {
			versioned
			binaryRecord
		}{&refreshTokenRecord{}, &sessionRecord{}, &credentialRecord{}, &userRecord{}} {
			k := key
			if _, ok := rec.(*userRecord); ok {
				k = accountKey("u")
			}
			if err := decodeAt(k, data, rec); err != nil {
				continue
			}
			again := reflect.New(reflect.TypeOf(rec).Elem()).Interface().(interface {
				versioned
				binaryRecord
			})
			data, err := encodeRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			if err := decodeAt(k, data, again); err != nil || !reflect.DeepEqual(rec, again) {
				t.Fatalf("%T: accepted record does not round-trip: %v\n%+v\n%+v", rec, err, rec, again)
			}
		}
	})
}

// TestPackedIDsReadBackAsWritten: ids of the service's forms are stored as
// the bytes they encode, and every other string, including ones that
// nearly have such a form, as itself; each reads back as written.
func TestPackedIDsReadBackAsWritten(t *testing.T) {
	cases := []struct {
		s    string
		size int // bytes written
	}{
		{"", 1},
		{"u3", 3},
		{"AAAAAAAAAAAAAAAAAAAAAA", 17}, // 128 bits
		{"AAAAAAAAAAAAAAAAAAAAAB", 23}, // not canonical: spare bits set
		{"0194c2a1b2c3AAAAAAAAAAAAAAAAAAAAAA", 23},          // an ordered id
		{"0194C2A1B2C3AAAAAAAAAAAAAAAAAAAAAA", 36},          // upper-case hex
		{"0194c2a1b2c3AAAAAAAAAAAAAAAAAAAA+A", 36},          // not base64url
		{"q2hP1ZWrVMH4fEBsY6sHKUzeGzHpxDiV2c4gKJXMJ0U", 33}, // 256 bits
		{"passkey", 8},
	}
	for _, c := range cases {
		b := appendID(nil, c.s)
		r := &reader{b: b}
		if got := r.id(); got != c.s || r.err != nil || len(r.b) != 0 || len(b) != c.size {
			t.Errorf("%q: read %q (%v), %d bytes written, want %d", c.s, got, r.err, len(b), c.size)
		}
	}
}

// TestSessionsOfVersion2StillRead: a session record in the binary encoding
// of version 2, as stored before, reads; rewritten, it is of the version
// now, and smaller.
func TestSessionsOfVersion2StillRead(t *testing.T) {
	db := openTestDB(t)
	want := Session{
		ID: "0194c2a1b2c3AAAAAAAAAAAAAAAAAAAAAA", UserID: "AAAAAAAAAAAAAAAAAAAAAA", CreatedAt: t0, AuthTime: t0,
		ExpiresAt: t0.Add(720 * time.Hour), AMR: []string{"passkey"}, JKT: "q2hP1ZWrVMH4fEBsY6sHKUzeGzHpxDiV2c4gKJXMJ0U",
		RevokedAt: t0.Add(time.Minute), Device: "Firefox",
	}
	// The version 2 layout.
	v2 := appendString([]byte{binaryVersion}, want.UserID)
	v2 = appendTime(appendTime(appendTime(v2, want.CreatedAt), want.AuthTime), want.ExpiresAt)
	v2 = appendString(appendStrings(v2, want.AMR), want.JKT)
	v2 = appendString(appendTime(v2, want.RevokedAt), want.Device)
	mustUpdate(t, db, func(tx *boltTx) error { return tx.btx.Bucket(bucketSessions).Put([]byte(want.ID), v2) })
	var got *Session
	mustView(t, db, func(tx *boltTx) (err error) { got, err = tx.Session(want.ID); return err })
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("read %+v\nwant %+v", *got, want)
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutSession(got) })
	mustView(t, db, func(tx *boltTx) error {
		v := tx.raw(bucketSessions, []byte(want.ID))
		if v[0] != sessionVersion || len(v) >= len(v2)-20 {
			t.Errorf("rewritten as version %d in %d bytes (version 2: %d)", v[0], len(v), len(v2))
		}
		again, err := tx.Session(want.ID)
		if err == nil && !reflect.DeepEqual(*again, want) {
			t.Errorf("read back %+v", *again)
		}
		return err
	})
}
