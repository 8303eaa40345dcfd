package postgres

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchid/latch/store"
)

// Token status lists, as in the bbolt store (store/statuslist.go): a list
// row with its shape and use, a row per assigned entry, the current list
// named in latch_meta.

const (
	statusListIDLen       = 22
	statusListRandomTries = 32
	statusListCurrent     = "status_list_current"
)

type statusListRec struct {
	header
	Bits      int       `json:"bits"`
	Size      int       `json:"size"`
	Used      int       `json:"used"`
	CreatedAt time.Time `json:"created_at"`
}

func randomIndex(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("store: status index: %w", err)
	}
	return int(v.Int64()), nil
}

// AllocateStatus assigns an entry of the current list chosen uniformly at
// random among its free ones, opening a new list of size entries when it
// is full or there is none. Each try is an insert that takes the entry or
// finds it taken, so an entry is never assigned twice.
func (t *pgTx) AllocateStatus(now time.Time, size int) (listID string, idx int, err error) {
	if err := t.writable(); err != nil {
		return "", 0, err
	}
	if size < 8 || size > 1<<23 || size%8 != 0 {
		return "", 0, errors.New("store: status list size must be a multiple of 8 between 8 and 2^23")
	}
	var rec statusListRec
	var cur []byte
	switch err := t.row("SELECT value FROM latch_meta WHERE name = $1", []any{statusListCurrent}, &cur); {
	case err == nil:
		listID = string(cur)
		if err := t.get("SELECT rec FROM status_lists WHERE id = $1", &rec, cur); err != nil {
			return "", 0, fmt.Errorf("store: current status list: %w", err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return "", 0, err
	}
	if listID == "" || rec.Used >= rec.Size {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", 0, fmt.Errorf("store: status list id: %w", err)
		}
		listID = base64.RawURLEncoding.EncodeToString(b)
		rec = statusListRec{header: current(), Bits: 1, Size: size, CreatedAt: store.UTC(now)}
		if _, err := t.exec(`INSERT INTO latch_meta (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, statusListCurrent, []byte(listID)); err != nil {
			return "", 0, err
		}
	}
	take := func(i int) (bool, error) {
		tag, err := t.exec("INSERT INTO status_entries (list_id, idx) VALUES ($1, $2) ON CONFLICT DO NOTHING", []byte(listID), i)
		return err == nil && tag.RowsAffected() == 1, err
	}
	idx = -1
	for range statusListRandomTries {
		i, err := randomIndex(rec.Size)
		if err != nil {
			return "", 0, err
		}
		ok, err := take(i)
		if err != nil {
			return "", 0, err
		}
		if ok {
			idx = i
			break
		}
	}
	if idx < 0 {
		// Nearly full: the first free entry from a random start.
		start, err := randomIndex(rec.Size)
		if err != nil {
			return "", 0, err
		}
		var free int
		err = t.row(`SELECT i FROM generate_series(0, $2::int - 1) AS i
			WHERE NOT EXISTS (SELECT 1 FROM status_entries WHERE list_id = $1 AND idx = i)
			ORDER BY (i - $3::int + $2::int) % $2::int LIMIT 1`, []any{[]byte(listID), rec.Size, start}, &free)
		if errors.Is(err, store.ErrNotFound) {
			return "", 0, errors.New("store: status list has no free entry although not full")
		}
		if err != nil {
			return "", 0, err
		}
		if ok, err := take(free); err != nil || !ok {
			return "", 0, errors.Join(err, errors.New("store: status entry taken meanwhile"))
		}
		idx = free
	}
	rec.Used++
	b, err := encode(&rec)
	if err != nil {
		return "", 0, err
	}
	if _, err := t.exec(`INSERT INTO status_lists (id, rec) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET rec = excluded.rec`, []byte(listID), b); err != nil {
		return "", 0, err
	}
	return listID, idx, nil
}

// SetStatus sets an assigned entry's status; ErrNotFound for a list or an
// entry never assigned.
func (t *pgTx) SetStatus(listID string, idx int, status byte) error {
	if err := t.writable(); err != nil {
		return err
	}
	if len(listID) != statusListIDLen || idx < 0 || idx > 1<<31-1 {
		return store.ErrNotFound
	}
	var rec statusListRec
	if err := t.get("SELECT rec FROM status_lists WHERE id = $1", &rec, []byte(listID)); err != nil {
		return err
	}
	if idx >= rec.Size || int(status) >= 1<<rec.Bits {
		return fmt.Errorf("store: status %d at %d does not fit the list", status, idx)
	}
	return t.deleteOne("UPDATE status_entries SET status = $3 WHERE list_id = $1 AND idx = $2", []byte(listID), idx, int16(status))
}

// StatusList returns the list with every entry whose status is not 0.
func (t *pgTx) StatusList(listID string) (*store.StatusList, error) {
	if len(listID) != statusListIDLen {
		return nil, store.ErrNotFound
	}
	var rec statusListRec
	if err := t.get("SELECT rec FROM status_lists WHERE id = $1", &rec, []byte(listID)); err != nil {
		return nil, err
	}
	out := &store.StatusList{ID: listID, Bits: rec.Bits, Size: rec.Size, Used: rec.Used, CreatedAt: rec.CreatedAt, Statuses: map[int]byte{}}
	err := t.rows("SELECT idx, status FROM status_entries WHERE list_id = $1 AND status <> 0", []any{[]byte(listID)}, func(r pgx.Rows) error {
		var i int32
		var s int16
		if err := r.Scan(&i, &s); err != nil {
			return err
		}
		out.Statuses[int(i)] = byte(s)
		return nil
	})
	return out, err
}
