package store

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// The audit log is a hash chain: each event carries the MAC of the event
// before it and its own MAC, an HMAC-SHA256 over a canonical encoding of
// its position, that previous MAC and its fields (see auditMAC), keyed by a
// key derived from the master key. The meta bucket keeps the head (the
// chain's first position and the last event's position and MAC), written in
// the same transaction as each event, so the chain is exactly as durable as
// the events: an altered, inserted or removed event, or a cut-off tail,
// breaks it where it happened. Keyed, it cannot be rebuilt by someone who
// can write the file but does not hold the master key; someone who does
// can rebuild it, or roll the whole file back, which only an outside copy
// of the head (`latch audit verify` prints it) reveals.
//
// Events written before the chain existed carry no MAC: the chain begins
// (its genesis, whose previous MAC is all zeros) at the first event
// appended after the upgrade, and VerifyAudit counts the earlier events as
// unchained.
//
// Events are stored in the binary record encoding (codec.go): the time,
// type, user id, detail (sorted by key) and the event's MAC, with ids
// packed (appendID), some 85 bytes for a sign-in instead of the 280 its
// JSON took. The previous event's
// MAC is not stored with it, since it is the MAC of the event stored
// before; VerifyAudit takes it from there. And a binary event keeps the
// first half of its MAC (auditStoredMACLen). Events written as JSON, with or
// without their chain fields, still read and verify.

// AuditEvent is one entry of the append-only audit log. Detail must not
// carry secrets: the log is stored in clear.
type AuditEvent struct {
	// Seq is the event's position in the log, from 1, set when it is read.
	Seq    uint64            `json:"-"`
	Time   time.Time         `json:"time"`
	Type   string            `json:"type"`
	UserID string            `json:"user_id,omitempty"`
	Detail map[string]string `json:"detail,omitempty"`
}

type auditRecord struct {
	header
	AuditEvent
	// Prev is the MAC of the event before, as JSON records carried it;
	// absent before the chain, and not stored by the binary encoding.
	Prev []byte `json:"prev,omitempty"`
	MAC  []byte `json:"mac,omitempty"`
}

// An event is of version 3: the version 2 fields with its type and its
// detail's keys and values coded as texts (appendText).
const auditVersion = 3

func (r *auditRecord) binaryVersion() byte { return auditVersion }

func (r *auditRecord) appendBinary(b []byte) []byte {
	e := &r.AuditEvent
	b = appendTime(b, e.Time)
	b = appendText(b, e.Type)
	b = appendID(b, e.UserID)
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = appendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendText(appendText(b, k), e.Detail[k])
	}
	return appendBytes(b, r.MAC)
}

// decodeBinary reads an event; its position is its key, set by the caller.
func (r *auditRecord) decodeBinary(_ []byte, d *reader) error {
	r.header = current()
	text := d.string // version 2
	if d.version >= 3 {
		text = d.id
	}
	r.AuditEvent = AuditEvent{Time: d.time(), Type: text(), UserID: d.id()}
	n := d.uvarint()
	if n > uint64(len(d.b)) { // each entry takes at least two bytes
		return errShortRecord
	}
	if n > 0 {
		r.Detail = make(map[string]string, n)
		for range n {
			k := text()
			r.Detail[k] = d.id()
		}
	}
	r.Prev, r.MAC = nil, d.bytes()
	return nil
}

// binary reports whether data is a record in the binary encoding, which
// leaves out the previous event's MAC.
func binaryAudit(data []byte) bool { return len(data) > 0 && data[0] != '{' }

// auditStoredMACLen is how much of its MAC a binary event keeps: 128
// bits, as much as it takes to make a forged event fail to verify. The
// chain runs on the whole MACs, which verification recomputes, and the
// head keeps the last one whole.
const auditStoredMACLen = 16

// auditHeadName keys the chain's head in the meta bucket: be64(genesis
// position) || be64(last position) || MAC of the last event.
var auditHeadName = []byte("audit_head")

type auditHead struct {
	genesis, last uint64
	mac           []byte
}

// auditChainKey derives the chain's MAC key from the master key, apart
// from every other use of it.
func auditChainKey(kek []byte) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte("latch audit chain v1"))
	return m.Sum(nil)
}

// auditMAC is the MAC of the event at seq following prev: over the fields
// length-prefixed, the time as RFC 3339 with nanoseconds in UTC, the detail
// sorted by key, so the encoding is the same however the record is stored.
func auditMAC(key []byte, seq uint64, prev []byte, e *AuditEvent) []byte {
	m := hmac.New(sha256.New, key)
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint32(n[:4], uint32(len(b)))
		m.Write(n[:4])
		m.Write(b)
	}
	m.Write([]byte("latch audit event v1\x00"))
	binary.BigEndian.PutUint64(n[:], seq)
	m.Write(n[:])
	field(prev)
	field([]byte(e.Time.UTC().Format(time.RFC3339Nano)))
	field([]byte(e.Type))
	field([]byte(e.UserID))
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	binary.BigEndian.PutUint32(n[:4], uint32(len(keys)))
	m.Write(n[:4])
	for _, k := range keys {
		field([]byte(k))
		field([]byte(e.Detail[k]))
	}
	return m.Sum(nil)
}

func (tx *boltTx) auditHead() (auditHead, bool) {
	v := tx.btx.Bucket(bucketMeta).Get(auditHeadName)
	if len(v) != 16+sha256.Size {
		return auditHead{}, false
	}
	return auditHead{
		genesis: binary.BigEndian.Uint64(v[:8]),
		last:    binary.BigEndian.Uint64(v[8:16]),
		mac:     bytes.Clone(v[16:]),
	}, true
}

// AppendAudit appends e to the audit log, chained to the event before it.
// Events appended in one transaction, by one caller or by several sharing
// a commit, chain in the order they are appended.
func (tx *boltTx) AppendAudit(e *AuditEvent) error {
	if e.Type == "" {
		return fmt.Errorf("store: audit event has no type")
	}
	b := tx.btx.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("store: audit sequence: %w", err)
	}
	head, ok := tx.auditHead()
	if !ok {
		head = auditHead{genesis: seq, mac: make([]byte, sha256.Size)}
	}
	rec := auditRecord{header: current(), AuditEvent: *e, Prev: head.mac}
	rec.Time = utc(rec.Time)
	mac := auditMAC(tx.db.auditMACKey, seq, rec.Prev, &rec.AuditEvent)
	rec.MAC = mac[:auditStoredMACLen]
	if err := tx.put(bucketAudit, auditEntryKey(seq), &rec); err != nil {
		return err
	}
	v := make([]byte, 16, 16+sha256.Size)
	binary.BigEndian.PutUint64(v[:8], head.genesis)
	binary.BigEndian.PutUint64(v[8:16], seq)
	if err := tx.btx.Bucket(bucketMeta).Put(auditHeadName, append(v, mac...)); err != nil {
		return fmt.Errorf("store: put audit head: %w", err)
	}
	return nil
}

func auditEntryKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// AuditEvents returns up to limit events, newest first; limit <= 0 means
// all of them.
func (tx *boltTx) AuditEvents(limit int) ([]AuditEvent, error) {
	var events []AuditEvent
	c := tx.btx.Bucket(bucketAudit).Cursor()
	for k, v := c.Last(); k != nil && (limit <= 0 || len(events) < limit); k, v = c.Prev() {
		var rec auditRecord
		if err := decode(v, &rec); err != nil {
			return nil, err
		}
		rec.Seq = seqOf(k)
		events = append(events, rec.AuditEvent)
	}
	return events, nil
}

// ScanAudit calls fn with every event, oldest first, until fn returns an
// error, which ScanAudit returns.
func (tx *boltTx) ScanAudit(fn func(e *AuditEvent) error) error {
	c := tx.btx.Bucket(bucketAudit).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var rec auditRecord
		if err := decode(v, &rec); err != nil {
			return fmt.Errorf("store: audit event %d: %w", seqOf(k), err)
		}
		rec.Seq = seqOf(k)
		if err := fn(&rec.AuditEvent); err != nil {
			return err
		}
	}
	return nil
}

func seqOf(k []byte) uint64 {
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}

// AuditCheck is what VerifyAudit found.
type AuditCheck struct {
	// Events counts the events in the log, Unchained those before the
	// chain began (written before it existed), which it does not cover.
	Events, Unchained int
	// Genesis and Head are the positions of the chain's first and last
	// events, HeadMAC the last one's MAC; all zero with no chain yet.
	Genesis, Head uint64
	HeadMAC       []byte
	// Break is the first place the chain does not hold, or nil.
	Break *AuditBreak
}

// AuditBreak locates the first break of the chain: Seq is the position of
// the first event (or missing event) that is not as it was appended.
type AuditBreak struct {
	Seq    uint64
	Reason string
}

// VerifyAudit walks the whole log and checks the chain against the head.
func (tx *boltTx) VerifyAudit() (AuditCheck, error) {
	var check AuditCheck
	head, chained := tx.auditHead()
	if chained {
		check.Genesis, check.Head, check.HeadMAC = head.genesis, head.last, head.mac
	}
	fail := func(seq uint64, format string, args ...any) (AuditCheck, error) {
		check.Break = &AuditBreak{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return check, nil
	}
	last, prev := head.genesis-1, make([]byte, sha256.Size)
	c := tx.btx.Bucket(bucketAudit).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		check.Events++
		if len(k) != 8 {
			return fail(last+1, "an entry with a malformed key (%d bytes) follows event %d", len(k), last)
		}
		seq := seqOf(k)
		var rec auditRecord
		if err := decode(v, &rec); err != nil {
			return fail(seq, "the event cannot be read: %v", err)
		}
		if binaryAudit(v) {
			// What it follows is the event stored before it: a MAC that
			// does not match says it was altered, or that one replaced.
			rec.Prev = prev
		}
		if !chained || seq < head.genesis {
			if rec.MAC != nil {
				return fail(seq, "the event carries a chain MAC but comes before the chain's start (event %d)", head.genesis)
			}
			check.Unchained++
			continue
		}
		mac := auditMAC(tx.db.auditMACKey, seq, rec.Prev, &rec.AuditEvent)
		switch n := len(rec.MAC); {
		case seq != last+1:
			return fail(last+1, "events %d to %d are missing", last+1, seq-1)
		case n == 0:
			return fail(seq, "the event has no chain MAC")
		case n != len(mac) && !(n == auditStoredMACLen && binaryAudit(v)), !hmac.Equal(rec.MAC, mac[:n]):
			return fail(seq, "the event was altered (its MAC does not match its contents and the event before it)")
		case !hmac.Equal(rec.Prev, prev):
			return fail(seq, "the event does not follow event %d (that one was replaced, or this one moved)", last)
		}
		last, prev = seq, mac
	}
	if !chained {
		return check, nil
	}
	switch {
	case last < head.last:
		return fail(last+1, "events %d to %d, the end of the log, are missing", last+1, head.last)
	case last > head.last:
		return fail(head.last+1, "events after %d, the head's last event, were added behind the chain's back", head.last)
	case !hmac.Equal(prev, head.mac):
		return fail(last, "the event does not match the head")
	}
	return check, nil
}
