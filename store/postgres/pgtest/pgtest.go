// Package pgtest gives tests a real, empty PostgreSQL database.
//
// With LATCH_TEST_POSTGRES set to a server URL (one whose user may create
// databases), every URL call creates a database of its own there and drops
// it when the test ends. Otherwise the first call starts one throwaway
// cluster for the test binary: initdb and pg_ctl, found in PATH or in
// /usr/lib/postgresql/*/bin, in a temporary directory, listening on
// 127.0.0.1 on a free port with its unix socket in that directory, fsync
// on. Run as root, the server runs as the postgres system user, as
// PostgreSQL requires. A machine without PostgreSQL fails the test with a
// message saying what to install; it never skips.
//
// A test binary that uses URL calls Main from its TestMain, so that the
// cluster is stopped and removed when the tests end.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvServer names the variable holding the URL of a server to use instead
// of a throwaway cluster.
const EnvServer = "LATCH_TEST_POSTGRES"

type cluster struct {
	bin, dir, data string
	port           int
	cred           *syscall.Credential
}

var (
	mu      sync.Mutex
	started *cluster
	failed  error
)

// URL returns the URL of a fresh, empty database, dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	server, err := serverURL()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL: %v", EnvServer, err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "latch_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin(ctx, server, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin(ctx, server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// admin runs one statement on the server's maintenance database.
func admin(ctx context.Context, server, sql string) error {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// serverURL is the server to create databases on: LATCH_TEST_POSTGRES, or
// the throwaway cluster, started on first use.
func serverURL() (string, error) {
	if s := os.Getenv(EnvServer); s != "" {
		return s, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if failed != nil {
		return "", failed
	}
	if started == nil {
		c, err := startCluster()
		if err != nil {
			failed = err
			return "", err
		}
		started = c
	}
	return started.url("postgres"), nil
}

func (c *cluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// findBin returns the directory of initdb and pg_ctl.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL is not installed: initdb and pg_ctl are neither in PATH nor in /usr/lib/postgresql/*/bin " +
		"(install Debian's postgresql package, or set " + EnvServer + " to a server URL)")
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func startCluster() (*cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "latch-pgtest-")
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: the cluster is the postgres
		// user's, in a directory it owns.
		pu, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres system user: %w", err)
		}
		uid, _ := strconv.Atoi(pu.Uid)
		gid, _ := strconv.Atoi(pu.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	out, err := c.run("initdb", "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	if err := c.start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

func (c *cluster) start() error {
	opts := strings.Join([]string{
		"-c listen_addresses=127.0.0.1",
		"-p " + strconv.Itoa(c.port),
		"-k " + c.dir,
		"-c fsync=on",
		"-c shared_buffers=16MB",
		"-c max_connections=200",
		"-c max_pred_locks_per_transaction=256",
	}, " ")
	out, err := c.run("pg_ctl", "start", "-w", "-t", "60", "-D", c.data, "-l", filepath.Join(c.dir, "server.log"), "-o", opts)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
	return nil
}

func (c *cluster) stop(mode string) error {
	out, err := c.run("pg_ctl", "stop", "-w", "-t", "60", "-D", c.data, "-m", mode)
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return nil
}

// Restart stops the throwaway cluster (pg_ctl stop -m fast, which ends
// every connection) and starts it again on the same port: a database
// restart, for tests of what a store does meanwhile and after. With
// LATCH_TEST_POSTGRES set there is no server of the test's to restart; it
// ends every connection to the test databases instead.
func Restart(t testing.TB) {
	t.Helper()
	if s := os.Getenv(EnvServer); s != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := admin(ctx, s, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname LIKE 'latch_test_%' AND pid <> pg_backend_pid()")
		if err != nil {
			t.Fatalf("pgtest: restart: %v", err)
		}
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if started == nil {
		t.Fatal("pgtest: Restart before URL: no cluster runs")
	}
	if err := started.stop("fast"); err != nil {
		t.Fatalf("pgtest: restart: %v", err)
	}
	if err := started.start(); err != nil {
		t.Fatalf("pgtest: restart: %v", err)
	}
}

// Stop stops the throwaway cluster, for tests of a database that is down;
// Start starts it again. Both fail the test with LATCH_TEST_POSTGRES set.
func Stop(t testing.TB) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if started == nil {
		t.Fatal("pgtest: Stop needs the throwaway cluster (unset " + EnvServer + ")")
	}
	if err := started.stop("fast"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Start starts the throwaway cluster that Stop stopped.
func Start(t testing.TB) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if started == nil {
		t.Fatal("pgtest: Start needs the throwaway cluster (unset " + EnvServer + ")")
	}
	if err := started.start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Main runs the tests and then stops and removes the throwaway cluster, if
// one was started: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if started != nil {
		if err := started.stop("immediate"); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
		_ = os.RemoveAll(started.dir)
		started = nil
	}
	mu.Unlock()
	os.Exit(code)
}

// External reports whether the tests use a server given in
// LATCH_TEST_POSTGRES rather than the throwaway cluster, which Stop and
// Start need.
func External() bool { return os.Getenv(EnvServer) != "" }
