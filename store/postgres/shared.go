package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchid/latch/store"
)

// changeChannel is the LISTEN/NOTIFY channel of changes.
const changeChannel = "latch_changes"

// encodeChange is a notification's payload: the kind in decimal, a colon,
// the key in unpadded base64url (a key is bytes, a payload text), and for
// a blacklist entry a colon and its end in Unix nanoseconds. A key is at
// most store.MaxKeyLen bytes, so a payload stays far below PostgreSQL's
// 8000-byte limit.
func encodeChange(c store.Change) string {
	p := strconv.Itoa(int(c.Kind)) + ":" + base64.RawURLEncoding.EncodeToString([]byte(c.Key))
	if c.Kind == store.ChangeRevoked {
		p += ":" + strconv.FormatInt(nanos(c.Until), 10)
	}
	return p
}

// decodeChange parses a payload; anything but one encodeChange makes is an
// error (a stranger's NOTIFY on the channel is no change of ours).
func decodeChange(payload string) (store.Change, error) {
	malformed := errors.New("postgres: malformed change notification")
	kind, rest, ok := strings.Cut(payload, ":")
	if !ok || len(kind) != 1 {
		return store.Change{}, malformed
	}
	c := store.Change{Kind: store.ChangeKind(kind[0] - '0')}
	key, until, timed := strings.Cut(rest, ":")
	switch c.Kind {
	case store.ChangeRevoked:
		n, err := strconv.ParseInt(until, 10, 64)
		if !timed || err != nil || strconv.FormatInt(n, 10) != until {
			return store.Change{}, malformed
		}
		c.Until = time.Unix(0, n).UTC()
	case store.ChangeUser, store.ChangeSigningKeys, store.ChangeClient:
		if timed {
			return store.Change{}, malformed
		}
	default:
		return store.Change{}, errors.New("postgres: change notification of an unknown kind")
	}
	if len(key) > base64.RawURLEncoding.EncodedLen(store.MaxKeyLen) {
		return store.Change{}, malformed
	}
	// The decoder skips line breaks; a payload has none.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(key)
	if err != nil || strings.ContainsAny(key, "\r\n") {
		return store.Change{}, malformed
	}
	c.Key = string(raw)
	return c, nil
}

// Watch listens for the changes every node commits (pg_notify inside the
// writing transaction, so each fires at its commit and only then) on a
// connection of its own. It calls fn with ChangeResync first, once it
// listens, and again after every reconnection, since what was sent while
// it was away is lost; it reconnects with a growing back-off, up to 5s.
// It returns ctx.Err() when ctx ends, or store.ErrClosed once the store is
// closed.
func (db *DB) Watch(ctx context.Context, fn func(store.Change)) error {
	if db.stopped == nil {
		return store.ErrClosed
	}
	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(db.stopped, cancel)()
	for wait := 50 * time.Millisecond; ; {
		listened, err := db.listen(ctx, fn)
		if db.stopped.Err() != nil && outer.Err() == nil {
			return store.ErrClosed
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if listened {
			wait = 50 * time.Millisecond
		}
		db.logger.Warn("postgres: change notifications lost, reconnecting", "err", redact(err), "in", wait)
		select {
		case <-ctx.Done():
			if db.stopped.Err() != nil && outer.Err() == nil {
				return store.ErrClosed
			}
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// listen is one connection's worth of Watch: it returns when the
// connection fails, reporting whether it got as far as listening.
func (db *DB) listen(ctx context.Context, fn func(store.Change)) (listened bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, db.timeout)
	conn, err := pgx.ConnectConfig(cctx, db.cfg.ConnConfig.Copy())
	if err == nil {
		_, err = conn.Exec(cctx, "LISTEN "+changeChannel)
	}
	cancel()
	if err != nil {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
		return false, err
	}
	defer conn.Close(context.Background())
	fn(store.Change{Kind: store.ChangeResync})
	for {
		// A wait bounded in time, so that a server gone silent (no reset,
		// no answer) is found out by a ping rather than never.
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			c, derr := decodeChange(n.Payload)
			if derr != nil {
				db.logger.Warn("postgres: ignoring a notification", "err", derr)
				continue
			}
			fn(c)
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, db.timeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, err
			}
		default:
			return true, err
		}
	}
}

// SpendOnce records key as used until until, cluster-wide, in one
// statement: an insert, or the takeover of an expired row; a live row
// makes it report false. Of concurrent calls with one key, the database
// lets exactly one insert or take over. Sweep removes expired keys.
func (db *DB) SpendOnce(ctx context.Context, key string, until time.Time) (fresh bool, err error) {
	if err := store.CheckKey("spent key", len(key)); err != nil {
		return false, err
	}
	if until.IsZero() {
		return false, errors.New("store: spent key has no end time")
	}
	tag, err := db.execOn(db.spendPool, ctx, `INSERT INTO spent (key, until_ns) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET until_ns = excluded.until_ns WHERE spent.until_ns <= $3`,
		[]byte(key), nanos(until), nanos(time.Now()))
	if err != nil {
		return false, fmt.Errorf("postgres: spend once: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
