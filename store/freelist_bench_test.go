package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkFreelistSync measures the policies of writing bbolt's freelist
// (see freelistPolicy): an open after a clean close (its time and the file
// pages it makes resident) and a commit of one small write, on the same store of LATCH_BENCH_ACCOUNTS accounts
// (default 50,000), each with a passkey, a session and a refresh token.
func BenchmarkFreelistSync(b *testing.B) {
	accounts := 50_000
	if v, err := strconv.Atoi(os.Getenv("LATCH_BENCH_ACCOUNTS")); err == nil && v > 0 {
		accounts = v
	}
	path := filepath.Join(b.TempDir(), DBFile)
	buildBenchStore(b, path, accounts)
	defer func(v freelistPolicy) { freelist = v }(freelist)
	for _, mode := range []struct {
		name   string
		policy freelistPolicy
	}{{"written at close", freelistAtClose}, {"written every commit", freelistEveryCommit}, {"rebuilt at open", freelistNever}} {
		b.Run(mode.name, func(b *testing.B) {
			freelist = mode.policy
			// One open to write (or drop) the freelist in this mode.
			db, err := Open(Options{Path: path, KEK: testKEK})
			if err != nil {
				b.Fatal(err)
			}
			mustUpdate(b, db, func(tx *boltTx) error { return tx.PutClient(&Client{ID: "bench"}) })
			db.Close()
			var openTime time.Duration
			var resident int64
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				before := fileRSS()
				start := time.Now()
				db, err := Open(Options{Path: path, KEK: testKEK})
				if err != nil {
					b.Fatal(err)
				}
				openTime += time.Since(start)
				resident += fileRSS() - before
				b.StopTimer()
				commitStart := time.Now()
				const commits = 50
				for j := range commits {
					mustUpdate(b, db, func(tx *boltTx) error {
						return tx.PutSession(&Session{ID: fmt.Sprintf("bench-%d-%d", i, j), UserID: "u", ExpiresAt: t0})
					})
				}
				b.ReportMetric(float64(time.Since(commitStart).Microseconds())/commits, "µs/commit")
				b.ReportMetric(float64(db.bolt.Stats().FreePageN), "free-pages")
				b.ReportMetric(float64(db.Stats().PagesWritten)/commits, "pages/commit")
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(openTime.Microseconds())/float64(b.N)/1000, "ms/open")
			b.ReportMetric(float64(resident)/float64(b.N)/1e6, "MB-resident/open")
		})
	}
}

func buildBenchStore(b *testing.B, path string, accounts int) {
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	record := []byte(strings.Repeat("r", 450))
	for lo := 0; lo < accounts; lo += 10_000 {
		mustUpdate(b, db, func(tx *boltTx) error {
			for i := lo; i < min(lo+10_000, accounts); i++ {
				id := fmt.Sprintf("user-%08d", i)
				if err := tx.PutUser(&User{ID: id, Handle: []byte(id), Username: id}); err != nil {
					return err
				}
				if err := tx.PutCredential(&Credential{ID: []byte("cred-" + id), UserID: id, Record: record}); err != nil {
					return err
				}
				sid := fmt.Sprintf("s-%08d", i)
				if err := tx.PutSession(&Session{ID: sid, UserID: id, ExpiresAt: t0.Add(time.Hour)}); err != nil {
					return err
				}
				if err := tx.PutRefreshToken(&RefreshToken{Hash: "h-" + sid, SessionID: sid, UserID: id, ExpiresAt: t0.Add(time.Hour)}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// Some free pages, as a store in use has.
	mustUpdate(b, db, func(tx *boltTx) error {
		for i := 0; i < accounts; i += 10 {
			if _, err := tx.deleteSession([]byte(fmt.Sprintf("s-%08d", i))); err != nil {
				return err
			}
		}
		return nil
	})
}

// fileRSS is the process's resident file-backed memory (Linux), which
// counts the mapped store pages read.
func fileRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
