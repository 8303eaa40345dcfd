package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// Session lanes let the sweep find expired sessions without an expiry
// index entry per session, which cost a sign-in some 58 bytes of file. The
// service starts nearly every session with the same lifetime (its refresh
// token lifetime) under a time-ordered id, so in the sessions bucket,
// ordered by id, those sessions are also ordered by expiry: the sweep
// walks them from the oldest and stops at the first that has not expired.
//
// A lane is the sessions of one lifetime, each joined as it was created:
// its id is a time-ordered id of its CreatedAt millisecond, not earlier
// than the lane's newest session's (so a clock that steps back cannot put
// a session behind one that expires later). Any other session, and a lane
// member whose times change, keeps an expiry index entry as before. The
// lanes (at most maxSessionLanes: a changed lifetime setting opens a new
// one, and a lane whose sessions are all gone is closed) live in the meta
// bucket, rewritten in place when a session joins one.
type sessionLane struct {
	lifetime time.Duration // ExpiresAt - CreatedAt of each of its sessions
	cursor   []byte        // every member keyed before it has been swept
	last     []byte        // the key of its newest member
}

const maxSessionLanes = 4

// laneExamineFactor bounds a lane walk's reads per chunk, as a multiple of
// its budget of deletions: the sessions it passes over (other lifetimes,
// sessions that never expire) cost a read each, and a chunk is one
// transaction.
const laneExamineFactor = 16

var sessionLanesName = []byte("session_lanes")

func (tx *boltTx) sessionLanes() ([]sessionLane, error) {
	r := &reader{b: tx.btx.Bucket(bucketMeta).Get(sessionLanesName)}
	n := r.uvarint()
	if n > maxSessionLanes {
		return nil, fmt.Errorf("store: %d session lanes recorded, more than %d", n, maxSessionLanes)
	}
	lanes := make([]sessionLane, 0, n)
	for range n {
		lanes = append(lanes, sessionLane{lifetime: time.Duration(r.uvarint()), cursor: r.bytes(), last: r.bytes()})
	}
	if r.err != nil {
		return nil, fmt.Errorf("store: session lanes: %w", r.err)
	}
	return lanes, nil
}

func (tx *boltTx) putSessionLanes(lanes []sessionLane) error {
	b := binary.AppendUvarint(nil, uint64(len(lanes)))
	for _, l := range lanes {
		b = appendBytes(appendBytes(binary.AppendUvarint(b, uint64(l.lifetime)), l.cursor), l.last)
	}
	if err := tx.btx.Bucket(bucketMeta).Put(sessionLanesName, b); err != nil {
		return fmt.Errorf("store: put session lanes: %w", err)
	}
	return nil
}

// orderedKeyMillis returns the millisecond of a packed session key
// (packSessionID).
func orderedKeyMillis(key []byte) (int64, bool) {
	if len(key) != packedSessionKeyLen || key[0] != 0 {
		return 0, false
	}
	var ms [8]byte
	copy(ms[2:], key[1:7])
	return int64(binary.BigEndian.Uint64(ms[:])), true
}

// joinLane puts the new session s, keyed key, in the lane of its lifetime
// when it may join one, and reports whether it did.
func (tx *boltTx) joinLane(key []byte, s *Session) (bool, error) {
	ms, ok := orderedKeyMillis(key)
	if !ok || !storableTime(s.CreatedAt) || !storableTime(s.ExpiresAt) || ms != s.CreatedAt.UnixMilli() {
		return false, nil
	}
	life := s.ExpiresAt.Sub(s.CreatedAt)
	if life <= 0 {
		return false, nil
	}
	lanes, err := tx.sessionLanes()
	if err != nil {
		return false, err
	}
	i := laneOf(lanes, life)
	switch {
	case i < 0 && len(lanes) == maxSessionLanes:
		return false, nil
	case i < 0:
		lanes = append(lanes, sessionLane{lifetime: life, cursor: key})
		i = len(lanes) - 1
	case !laneMayTake(lanes[i], key, ms):
		return false, nil
	}
	if bytes.Compare(key, lanes[i].last) > 0 {
		lanes[i].last = key
	}
	return true, tx.putSessionLanes(lanes)
}

// laneMayTake reports whether a new session keyed key, of millisecond ms,
// keeps the lane's order: not started before its newest member's
// millisecond (within one, the walk judges each member), and not behind
// the cursor the walk resumes from.
func laneMayTake(lane sessionLane, key []byte, ms int64) bool {
	lastMs, _ := orderedKeyMillis(lane.last)
	return ms >= lastMs && bytes.Compare(key, lane.cursor) >= 0
}

// storableTime reports whether t is stored as it is: not zero, and within
// what Unix nanoseconds hold (appendTime clamps the rest, which would make
// a member's lifetime read back as another).
func storableTime(t time.Time) bool {
	return !t.IsZero() && !t.Before(minTime) && !t.After(maxNanoTime)
}

func laneOf(lanes []sessionLane, life time.Duration) int {
	for i, l := range lanes {
		if l.lifetime == life {
			return i
		}
	}
	return -1
}

// sweepLanes deletes up to budget expired members of each lane (examining
// at most laneExamineFactor × budget sessions) and reports whether a lane
// may have more.
func (tx *boltTx) sweepLanes(now time.Time, budget int) (removed int, more bool, err error) {
	lanes, err := tx.sessionLanes()
	if err != nil || len(lanes) == 0 {
		return 0, false, err
	}
	open := lanes[:0]
	for _, lane := range lanes {
		expired, cursor, full, err := tx.expiredInLane(lane, now, budget)
		if err != nil {
			return removed, more, err
		}
		// A walk that stopped at its budget goes on in the next chunk if it
		// got anywhere; one held at a live member of the boundary
		// millisecond with nothing to delete has done all it can at this
		// now, and asking for more would repeat it.
		more = more || full && (len(expired) > 0 || !bytes.Equal(cursor, lane.cursor))
		for _, key := range expired {
			n, err := tx.deleteSession(key)
			if err != nil {
				return removed, more, err
			}
			removed += n
		}
		lane.cursor = cursor
		if bytes.Compare(cursor, lane.last) <= 0 {
			open = append(open, lane)
		}
	}
	return removed, more, tx.putSessionLanes(open)
}

// expiredInLane walks lane from its cursor and returns the keys of its
// expired members, the cursor to resume from (the first member not yet
// expired, or the first session that can only expire later), and whether
// it stopped at the budget. Keys are copies: the caller deletes after the
// walk, since deleting under a cursor can skip entries.
func (tx *boltTx) expiredInLane(lane sessionLane, now time.Time, budget int) (expired [][]byte, cursor []byte, full bool, err error) {
	var blocked []byte
	c := tx.btx.Bucket(bucketSessions).Cursor()
	k, v := c.Seek(lane.cursor)
	for examined := 0; k != nil; k, v = c.Next() {
		ms, packed := orderedKeyMillis(k)
		if !packed || time.UnixMilli(ms).Add(lane.lifetime).After(now) {
			// Past the packed keys, where no member is, or created at ms or
			// later: every member from here on is live.
			break
		}
		if len(expired) == budget || examined == laneExamineFactor*budget {
			full = true
			break
		}
		examined++
		var rec sessionRecord
		if err := decodeAt(k, v, &rec); err != nil {
			// A record this code cannot read (damaged, or written by a later
			// version) is no member it knows of: passed over, so that it
			// stops no sweep.
			tx.db.logger.Warn("store: sweep passes over an unreadable session record", "key", fmt.Sprintf("%x", k), "err", err)
			continue
		}
		if !rec.InLane || rec.ExpiresAt.Sub(rec.CreatedAt) != lane.lifetime {
			continue
		}
		if rec.ExpiresAt.After(now) {
			if blocked == nil {
				blocked = bytes.Clone(k) // later in its millisecond
			}
			continue
		}
		expired = append(expired, bytes.Clone(k))
	}
	switch {
	case blocked != nil:
		cursor = blocked
	case k != nil:
		cursor = bytes.Clone(k)
	default: // past the last session: the lane is empty
		cursor = append(bytes.Clone(lane.last), 0)
	}
	return expired, cursor, full, nil
}
