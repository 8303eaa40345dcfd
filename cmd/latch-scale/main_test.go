package main

import (
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestScaleAtATinySize runs the whole benchmark on stores of a few
// accounts: build, start, sign-in load, backup.
func TestScaleAtATinySize(t *testing.T) {
	bin := t.TempDir()
	for _, cmd := range []string{"latch", "latch-load"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "../"+cmd).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", cmd, err, out)
		}
	}
	cfg := config{
		users: 40, small: 7, passkeys: 2, sessions: 3, batch: 16,
		latch: filepath.Join(bin, "latch"), load: filepath.Join(bin, "latch-load"),
		addr: freeAddr(t), dur: time.Second, clients: 2, out: io.Discard,
	}
	reports, err := run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 || reports[0].users != 7 || reports[1].users != 40 {
		t.Fatalf("reports for %+v", reports)
	}
	for _, r := range reports {
		keys := map[string]int{}
		for _, b := range r.buckets {
			keys[b.Name] = b.Keys
		}
		want := map[string]int{
			// The user, its passkeys and the head of its session list.
			"accounts": r.users * (1 + 2 + 1), "usernames": r.users, "credential_owners": r.users * 2,
			"sessions": r.users * 3, "refresh_tokens": 0,
		}
		for name, n := range want {
			if keys[name] != n {
				t.Errorf("%d accounts: %s holds %d entries, want %d", r.users, name, keys[name], n)
			}
		}
		if r.fileBytes <= 0 || r.start <= 0 || r.idleRSS <= 0 || r.idleHeap <= 0 || r.backupBytes < r.fileBytes {
			t.Errorf("%d accounts: missing figures %+v", r.users, r)
		}
		if r.signins <= 0 || r.p99 <= 0 || r.loadErrors != 0 {
			t.Errorf("%d accounts: sign-in load %.0f/s, p99 %.1f ms, %d errors", r.users, r.signins, r.p99, r.loadErrors)
		}
	}
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
