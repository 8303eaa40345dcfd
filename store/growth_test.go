package store

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"
)

// Budgets of file growth per operation, in bytes of pages in use: what a
// sign-in leaves in the store (its session, with a real browser's
// User-Agent as its device, the move of its user's session list, its
// passkey's counter, its audit event) and what a refresh rotation leaves
// (a rewrite of its session, in place).
const (
	signInGrowthBudget   = 300
	rotationGrowthBudget = 0
)

// inUse is the bytes of the file's pages that hold data: its size less its
// free pages, which the next writes reuse.
func inUse(t *testing.T, db *DB) int64 {
	t.Helper()
	var size int64
	mustView(t, db, func(tx *boltTx) error { size = tx.btx.Size(); return nil })
	st := db.bolt.Stats()
	return size - int64(st.FreePageN+st.PendingPageN)*int64(db.bolt.Info().PageSize)
}

// testUserAgent is what a desktop Chrome sends, kept as a session's device.
const testUserAgent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// testOrderedID is an id in the form of the service's session ids: a
// millisecond time prefix in hex and 128 random bits in base64url.
func testOrderedID(at time.Time) string {
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	return hex.EncodeToString(ms[2:]) + testRandomID(16)
}

func testRandomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestSignInAndRotationGrowth does the store writes of sign-ins and of
// refresh rotations, in commits shared by several, and checks the growth
// of the pages in use per operation against the budgets. Sizes, not
// times: the result is the same on every machine.
func TestSignInAndRotationGrowth(t *testing.T) {
	db := openTestDB(t)
	const users, perCommit, commits = 32, 32, 100
	ids := make([]string, users)
	creds := make([][]byte, users)
	now := t0
	mustUpdate(t, db, func(tx *boltTx) error {
		for i := range ids {
			ids[i], creds[i] = testRandomID(16), []byte(testRandomID(16))
			if err := tx.PutUser(&User{ID: ids[i], Handle: []byte(testRandomID(32)), Username: "user" + ids[i]}); err != nil {
				return err
			}
			err := tx.PutCredential(&Credential{ID: creds[i], UserID: ids[i], Name: "Passkey", CreatedAt: now,
				AAGUID: make([]byte, 16), Record: make([]byte, 160)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	jkt := testRandomID(32)
	var sessions []string
	signIns := func(n int) {
		for range n {
			mustUpdate(t, db, func(tx *boltTx) error {
				for i := range perCommit {
					now = now.Add(time.Millisecond)
					u := (len(sessions) + i) % users
					c, err := tx.Credential(creds[u])
					if err != nil {
						return err
					}
					c.SignCount++
					c.LastUsedAt = now
					if err := tx.PutCredential(c); err != nil {
						return err
					}
					s := &Session{
						ID: testOrderedID(now), UserID: ids[u], CreatedAt: now, AuthTime: now, ExpiresAt: now.Add(720 * time.Hour),
						AMR: []string{"pop"}, JKT: jkt, Device: testUserAgent, Refresh: make([]byte, 16), ClientID: "latch", Scope: "profile groups",
					}
					_, _ = rand.Read(s.Refresh)
					if err := tx.PutSession(s); err != nil {
						return err
					}
					sessions = append(sessions, s.ID)
					err = tx.AppendAudit(&AuditEvent{Time: now, Type: "sign_in", UserID: ids[u],
						Detail: map[string]string{"amr": "pop", "sid": s.ID}})
					if err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	signIns(10) // past the first pages of every tree
	before := inUse(t, db)
	signIns(commits)
	perSignIn := (inUse(t, db) - before) / (commits * perCommit)
	t.Logf("a sign-in grows the pages in use by %d bytes", perSignIn)
	if perSignIn > signInGrowthBudget {
		t.Errorf("a sign-in grows the pages in use by %d bytes, over the budget of %d", perSignIn, signInGrowthBudget)
	}

	rotations := func(n int) {
		for range n {
			mustUpdate(t, db, func(tx *boltTx) error {
				for i := range perCommit {
					s, err := tx.Session(sessions[len(sessions)-1-i])
					if err != nil {
						return err
					}
					_, _ = rand.Read(s.Refresh)
					if err := tx.PutSession(s); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	rotations(10)
	before = inUse(t, db)
	rotations(commits)
	perRotation := (inUse(t, db) - before) / (commits * perCommit)
	t.Logf("a rotation grows the pages in use by %d bytes", perRotation)
	if perRotation > rotationGrowthBudget {
		t.Errorf("a rotation grows the pages in use by %d bytes, over the budget of %d", perRotation, rotationGrowthBudget)
	}
}
