package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/latchid/latch/auth"
	"github.com/latchid/latch/store"
	"github.com/latchid/latch/store/postgres"
)

// storeFlags are the flags that choose a shared store (PostgreSQL) over
// the bbolt file of the data directory.
type storeFlags struct {
	url, maxConns, timeout *string
}

// addStoreFlags registers --store and the database's tuning on fs, with
// defaults from LATCH_STORE, LATCH_DB_MAX_CONNS, LATCH_DB_STATEMENT_TIMEOUT.
func addStoreFlags(fs *flag.FlagSet) *storeFlags {
	str := func(name, def, help string) *string {
		if v, ok := os.LookupEnv("LATCH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
			def = v
		}
		return fs.String(name, def, help)
	}
	return &storeFlags{
		url:      str("store", "", "where the records are kept: empty for <data>/latch.db, or a postgres:// URL of a database that several nodes share"),
		maxConns: str("db-max-conns", "16", "most connections a node opens to the shared store's database"),
		timeout:  str("db-statement-timeout", "5s", "longest a statement on the shared store's database may run"),
	}
}

// shared reports whether --store names a shared store.
func (f *storeFlags) shared() bool { return strings.TrimSpace(*f.url) != "" }

// open opens the shared store named by --store into cfg (Store and
// MasterKey); without --store it does nothing and the data directory's
// store is used. The master key comes from LATCH_MASTER_KEY or the data
// directory's key file, as for the bbolt store: every node must get the
// same one.
func (f *storeFlags) open(ctx context.Context, cfg *auth.Config) error {
	if !f.shared() {
		return nil
	}
	url := strings.TrimSpace(*f.url)
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return fmt.Errorf("--store: %q is not a postgres:// URL (leave it empty for the data directory's store)", redactURL(url))
	}
	conns, err := strconv.ParseInt(*f.maxConns, 10, 32)
	if err != nil || conns < 1 {
		return fmt.Errorf("--db-max-conns: %q is not a positive number", *f.maxConns)
	}
	timeout, err := time.ParseDuration(*f.timeout)
	if err != nil || timeout <= 0 {
		return fmt.Errorf("--db-statement-timeout: %q is not a positive duration (e.g. 5s)", *f.timeout)
	}
	kek := cfg.MasterKey
	if kek == nil {
		dir, err := store.InspectDir(cfg.Defaults().DataDir)
		if err != nil {
			return err
		}
		if kek, err = dir.MasterKey(); err != nil {
			return err
		}
	}
	db, err := postgres.Open(ctx, postgres.Options{URL: url, KEK: kek, MaxConns: int32(conns), StatementTimeout: timeout, Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("--store %s: %w", redactURL(url), err)
	}
	cfg.Store, cfg.MasterKey = db, kek
	return nil
}

// redactURL hides a URL's password, for messages.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "…"
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return u
	}
	if user, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
		return scheme + "://" + user + ":…@" + rest[at+1:]
	}
	return u
}

// migrate copies the bbolt store of a data directory into an empty shared
// store and checks the copy (store.Copy).
func migrate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the data directory whose store is copied (its server stopped)")
	to := fs.String("to", "", "the postgres:// URL of the empty database to copy into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || *to == "" || fs.NArg() > 0 {
		return errors.New("migrate: usage: latch migrate --from DIR --to postgres://…")
	}
	dir, err := store.InspectDir(*from)
	if err != nil {
		return err
	}
	if dir.New {
		return fmt.Errorf("migrate: no store in %s", *from)
	}
	kek, err := dir.MasterKey()
	if err != nil {
		return err
	}
	src, err := dir.Open(store.Options{KEK: kek, Timeout: 500 * time.Millisecond, ReadOnly: true})
	if errors.Is(err, store.ErrInUse) {
		return fmt.Errorf("migrate: %w", auth.ErrStoreInUse)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	ctx := context.Background()
	target := &storeFlags{url: to, maxConns: new("4"), timeout: new("60s")}
	cfg := auth.Config{DataDir: *from, MasterKey: kek}
	if err := target.open(ctx, &cfg); err != nil {
		return err
	}
	defer cfg.Store.Close()
	rep, err := store.Copy(ctx, src, cfg.Store, time.Now())
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	c := rep.CopyCounts
	fmt.Fprintf(stdout, "copied %d users, %d passkeys, %d TOTP factors, %d recovery code sets, %d sign-in throttles, %d sessions, %d refresh tokens, %d blacklist entries, %d consents, %d signing keys, %d clients, %d audit events\n",
		c.Users, c.Credentials, c.TOTP, c.RecoveryCodes, c.SignInFailures, c.Sessions, c.RefreshTokens, c.Revoked, c.Consents, c.SigningKeys, c.Clients, c.AuditEvents)
	fmt.Fprintf(stdout, "verified: every count read back; audit chain of %d events intact, head %d %x\n", rep.Audit.Events, rep.Audit.Head, rep.Audit.HeadMAC)
	return nil
}
