// Command latch-scale measures Latch on a large store: it builds a store of
// -users accounts (each with -passkeys passkeys and -sessions open login
// sessions, every session with its refresh token) by writing to the store
// directly in large transactions, and another of -small accounts built the
// same way; then, for each, it starts `latch serve` on the store and
// reports the start time, the Go heap and resident memory at idle and
// under sign-in load, the sign-in latency (measured by latch-load), the
// time of a backup through the running server, and the file's size and
// bytes per account.
//
// Through HTTP a million sign-ups would take hours on a small machine; the
// direct writes build one in minutes. The stores are built in key order
// with full pages (store.Options.FillPages), so their trees are packed as
// a compacted store's would be; how a store grows from sign-ups through the
// service, with pages about two thirds full, is what latch-load measures.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
	"github.com/latchid/latch/webauthn"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// config is what one run measures.
type config struct {
	users, small, passkeys, sessions int
	batch                            int
	latch, load                      string // binaries; load empty = no sign-in load
	addr                             string
	dur                              time.Duration
	clients                          int
	keep                             string // build here and keep the stores
	out                              io.Writer
}

func main() {
	var cfg config
	flag.IntVar(&cfg.users, "users", 1_000_000, "accounts in the large store")
	flag.IntVar(&cfg.small, "small", 1_000, "accounts in the small store it is compared with (0 = none)")
	flag.IntVar(&cfg.passkeys, "passkeys", 2, "passkeys per account")
	flag.IntVar(&cfg.sessions, "sessions", 2, "open login sessions per account, each with its refresh token")
	flag.IntVar(&cfg.batch, "batch", 10_000, "accounts per write transaction while building")
	flag.StringVar(&cfg.latch, "latch", "bin/latch", "the latch binary to start on each store")
	flag.StringVar(&cfg.load, "load", "bin/latch-load", "the latch-load binary for the sign-in load (empty = none)")
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8091", "address to serve on while measuring")
	flag.DurationVar(&cfg.dur, "d", 10*time.Second, "duration of the sign-in load")
	flag.IntVar(&cfg.clients, "c", 32, "concurrent clients of the sign-in load")
	flag.StringVar(&cfg.keep, "keep", "", "build the stores under this directory and keep them (default: a temporary one, removed)")
	flag.Parse()
	cfg.out = os.Stdout
	if _, err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "latch-scale:", err)
		os.Exit(1)
	}
}

// report is what was measured on one store.
type report struct {
	users, passkeys, sessions int
	build                     time.Duration
	fileBytes                 int64
	buckets                   []store.BucketStats
	start                     time.Duration
	idleRSS, idleHeap         int64
	loadRSS, loadHeap         int64
	signins                   float64 // per second
	p50, p99                  float64 // ms
	loadErrors                int64
	backup                    time.Duration
	backupBytes               int64
}

func run(cfg config) ([]report, error) {
	root := cfg.keep
	if root == "" {
		dir, err := os.MkdirTemp("", "latch-scale-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		root = dir
	}
	sizes := []int{cfg.users}
	if cfg.small > 0 {
		sizes = []int{cfg.small, cfg.users}
	}
	var reports []report
	for _, n := range sizes {
		dir := filepath.Join(root, fmt.Sprintf("store-%d", n))
		r := report{users: n, passkeys: n * cfg.passkeys, sessions: n * cfg.sessions}
		fmt.Fprintf(cfg.out, "building %d accounts, %d passkeys, %d sessions in %s\n", n, r.passkeys, r.sessions, dir)
		var err error
		if r.build, r.fileBytes, r.buckets, err = build(dir, n, cfg); err != nil {
			return nil, err
		}
		if err := measure(dir, cfg, &r); err != nil {
			return nil, err
		}
		reports = append(reports, r)
		printReport(cfg.out, r)
	}
	if len(reports) == 2 {
		printComparison(cfg.out, reports[0], reports[1])
	}
	return reports, nil
}

// build writes the store of n accounts in dir.
func build(dir string, n int, cfg config) (took time.Duration, size int64, buckets []store.BucketStats, err error) {
	start := time.Now()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, 0, nil, err
	}
	d, err := store.InspectDir(dir)
	if err != nil {
		return 0, 0, nil, err
	}
	if !d.New {
		return 0, 0, nil, fmt.Errorf("%s is not empty: a store is built only in a new directory", dir)
	}
	key, err := d.MasterKey()
	if err != nil {
		return 0, 0, nil, err
	}
	db, err := d.Open(store.Options{KEK: key, FillPages: true})
	if err != nil {
		return 0, 0, nil, err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	// Random ids, as the service makes them, but written in key order: the
	// order of the keys of the trees they index.
	userIDs := randomIDs(n, 16, true)
	credIDs := randomIDs(n*cfg.passkeys, 32, false)
	record, err := credentialRecord()
	if err != nil {
		return 0, 0, nil, err
	}
	now := time.Now().Add(-time.Hour)
	clock := now
	tick := func() time.Time { clock = clock.Add(10 * time.Microsecond); return clock }
	ctx := context.Background()
	for lo := 0; lo < n; lo += cfg.batch {
		hi := min(lo+cfg.batch, n)
		err := db.Update(ctx, func(tx store.Tx) error {
			for i := lo; i < hi; i++ {
				id := userIDs[i]
				created := now.Add(-time.Duration(n-i) * time.Second)
				u := &store.User{ID: id, Handle: []byte(id), Username: fmt.Sprintf("user%08d", i), DisplayName: fmt.Sprintf("User %d", i), CreatedAt: created}
				if err := tx.PutUser(u); err != nil {
					return err
				}
				for p := range cfg.passkeys {
					c := &store.Credential{
						ID: []byte(credIDs[i*cfg.passkeys+p]), UserID: id, Name: "Passkey", CreatedAt: created, LastUsedAt: created,
						Transports: []string{"internal", "hybrid"}, AAGUID: make([]byte, 16), BackupEligible: true, BackupState: true,
						Record: record,
					}
					if err := tx.PutCredential(c); err != nil {
						return err
					}
				}
				for range cfg.sessions {
					at := tick()
					// A session keeps its refresh token's state, as the
					// service's sessions do (the token itself is not kept).
					refresh, _ := tokens.NewOrderedOpaque(at)
					s := &store.Session{
						ID: tokens.NewOrderedID(at), UserID: id, CreatedAt: at, AuthTime: at, ExpiresAt: at.Add(30 * 24 * time.Hour),
						AMR: []string{"hwk", "user"}, JKT: thumbprint(), Device: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
						Refresh: tokens.RefreshDigest(refresh), ClientID: "latch", Scope: "profile",
					}
					if err := tx.PutSession(s); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return 0, 0, nil, err
		}
	}
	if size, err = db.Size(); err != nil {
		return 0, 0, nil, err
	}
	if buckets, err = db.Buckets(); err != nil {
		return 0, 0, nil, err
	}
	return time.Since(start), size, buckets, nil
}

// randomIDs returns n random identifiers of size random bytes, base64url
// (as user ids are) or raw (as credential ids are), sorted.
func randomIDs(n, size int, encode bool) []string {
	ids := make([]string, n)
	buf := make([]byte, size)
	for i := range ids {
		_, _ = rand.Read(buf)
		if encode {
			ids[i] = base64.RawURLEncoding.EncodeToString(buf)
		} else {
			ids[i] = string(buf)
		}
	}
	slices.Sort(ids)
	return ids
}

func thumbprint() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// credentialRecord registers one passkey with the webauthn package and a
// software authenticator and returns its record: every passkey of the
// store carries one of that size and shape.
func credentialRecord() ([]byte, error) {
	const origin = "http://localhost"
	rp, err := webauthn.New(webauthn.Config{RPID: "localhost", RPDisplayName: "Latch", Origins: []string{origin}})
	if err != nil {
		return nil, err
	}
	user := webauthn.User{Handle: []byte("scale-user-handle"), Name: "scale", DisplayName: "Scale"}
	options, session, err := rp.BeginRegistration(user, nil)
	if err != nil {
		return nil, err
	}
	response, err := webauthntest.New("localhost", origin).Create(options, webauthntest.Options{NoneAttestation: true, BackupEligible: true, BackupState: true})
	if err != nil {
		return nil, err
	}
	cred, err := rp.FinishRegistration(user, session, response)
	if err != nil {
		return nil, err
	}
	return cred.Record, nil
}

// measure starts the server on the store in dir and takes r's figures.
func measure(dir string, cfg config, r *report) error {
	_, port, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	base := "http://localhost:" + port // the default RP ID is localhost
	cmd := exec.Command(cfg.latch, "serve", "--data", dir, "--addr", cfg.addr, "--issuer", base, "--begin-rate", "0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-exited
	}()
	for {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("the server stopped: %s", stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Since(began) > time.Minute {
			return errors.New("the server did not become ready in a minute")
		}
	}
	r.start = time.Since(began)
	pid := cmd.Process.Pid
	time.Sleep(time.Second)
	r.idleRSS, r.idleHeap = rss(pid), heap(base)

	if cfg.load != "" {
		done := make(chan struct{})
		peak := make(chan [2]int64)
		go func() {
			var m [2]int64
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					peak <- m
					return
				case <-t.C:
					m[0], m[1] = max(m[0], rss(pid)), max(m[1], heap(base))
				}
			}
		}()
		out, err := exec.Command(cfg.load, "-url", base, "-pid", strconv.Itoa(pid), "-s", "signin",
			"-d", cfg.dur.String(), "-c", strconv.Itoa(cfg.clients)).CombinedOutput()
		close(done)
		m := <-peak
		r.loadRSS, r.loadHeap = m[0], m[1]
		if err != nil {
			return fmt.Errorf("latch-load: %v\n%s", err, out)
		}
		if err := parseLoad(out, r); err != nil {
			return err
		}
	}

	copyPath := filepath.Join(dir, "backup.db")
	t := time.Now()
	if out, err := exec.Command(cfg.latch, "backup", copyPath, "--data", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("backup: %v\n%s", err, out)
	}
	r.backup = time.Since(t)
	if info, err := os.Stat(copyPath); err == nil {
		r.backupBytes = info.Size()
	}
	return os.Remove(copyPath)
}

// parseLoad reads latch-load's row of the signin scenario: ops/s, errors,
// p50 ms, p99 ms, ...
func parseLoad(out []byte, r *report) error {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[0] != "signin" {
			continue
		}
		var errs []error
		num := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			errs = append(errs, err)
			return v
		}
		r.signins, r.p50, r.p99 = num(f[1]), num(f[3]), num(f[4])
		r.loadErrors = int64(num(f[2]))
		return errors.Join(errs...)
	}
	return fmt.Errorf("no signin row in latch-load's output:\n%s", out)
}

// rss is a process's resident memory in bytes (Linux), 0 if unknown.
func rss(pid int) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// heap is the server's Go heap in use, from its metrics, 0 if unknown.
func heap(base string) int64 {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int64(f)
		}
	}
	return 0
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

func printReport(w io.Writer, r report) {
	fmt.Fprintf(w, "\n%d accounts, %d passkeys, %d sessions: built in %.1f s\n", r.users, r.passkeys, r.sessions, r.build.Seconds())
	fmt.Fprintf(w, "  file %s, %.0f bytes per account\n", mb(r.fileBytes), float64(r.fileBytes)/float64(r.users))
	fmt.Fprintf(w, "  %-18s %10s %12s %12s %6s\n", "bucket", "keys", "leaf bytes", "leaf pages", "fill")
	for _, b := range r.buckets {
		if b.Keys == 0 {
			continue
		}
		fill := 0.0
		if b.LeafAlloc > 0 {
			fill = 100 * float64(b.LeafInUse) / float64(b.LeafAlloc)
		}
		fmt.Fprintf(w, "  %-18s %10d %12d %12d %5.0f%%\n", b.Name, b.Keys, b.LeafInUse, b.LeafAlloc/4096, fill)
	}
	fmt.Fprintf(w, "  start (until /readyz) %.3f s; idle: RSS %s, Go heap %s\n", r.start.Seconds(), mb(r.idleRSS), mb(r.idleHeap))
	if r.signins > 0 {
		fmt.Fprintf(w, "  sign-in load: %.0f/s, p50 %.1f ms, p99 %.1f ms, %d errors; peak RSS %s, Go heap %s\n",
			r.signins, r.p50, r.p99, r.loadErrors, mb(r.loadRSS), mb(r.loadHeap))
	}
	fmt.Fprintf(w, "  backup through the running server: %.2f s (%s)\n", r.backup.Seconds(), mb(r.backupBytes))
}

func printComparison(w io.Writer, small, large report) {
	fmt.Fprintf(w, "\n| | %d accounts | %d accounts |\n|---|---|---|\n", small.users, large.users)
	row := func(name, a, b string) { fmt.Fprintf(w, "| %s | %s | %s |\n", name, a, b) }
	row("passkeys / open sessions", fmt.Sprintf("%d / %d", small.passkeys, small.sessions), fmt.Sprintf("%d / %d", large.passkeys, large.sessions))
	row("build (direct writes)", fmt.Sprintf("%.1f s", small.build.Seconds()), fmt.Sprintf("%.1f s", large.build.Seconds()))
	row("file", mb(small.fileBytes), mb(large.fileBytes))
	row("bytes per account", fmt.Sprintf("%.0f", float64(small.fileBytes)/float64(small.users)), fmt.Sprintf("%.0f", float64(large.fileBytes)/float64(large.users)))
	row("start (until /readyz)", fmt.Sprintf("%.3f s", small.start.Seconds()), fmt.Sprintf("%.3f s", large.start.Seconds()))
	row("idle RSS / Go heap", mb(small.idleRSS)+" / "+mb(small.idleHeap), mb(large.idleRSS)+" / "+mb(large.idleHeap))
	if small.signins > 0 && large.signins > 0 {
		row("under sign-in load: peak RSS / Go heap", mb(small.loadRSS)+" / "+mb(small.loadHeap), mb(large.loadRSS)+" / "+mb(large.loadHeap))
		row("sign-ins/s", fmt.Sprintf("%.0f", small.signins), fmt.Sprintf("%.0f", large.signins))
		row("sign-in p50 / p99", fmt.Sprintf("%.1f / %.1f ms", small.p50, small.p99),
			fmt.Sprintf("%.1f / %.1f ms (p99 %.2f×)", large.p50, large.p99, large.p99/small.p99))
	}
	row("backup", fmt.Sprintf("%.2f s", small.backup.Seconds()), fmt.Sprintf("%.2f s", large.backup.Seconds()))
}
