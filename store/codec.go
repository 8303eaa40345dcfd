package store

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// The hot records (users, credentials, sessions, refresh tokens) are kept
// in a compact binary encoding, record version 2; every other record, and
// every record written before, is JSON (version 1), which decode still
// reads. A JSON record starts with '{', a binary one with its version
// byte, so the two never mix up. JSON spent most of a record on field
// names, RFC 3339 times and base64 (a passkey's WebAuthn record was
// base64 inside JSON), and what is not stored is not paged, written,
// fsync'd or read at start.
//
// A binary record is the version byte and then its fields in a fixed
// order: strings and byte strings as a uvarint length and the bytes, times
// as a uvarint (0 for the zero time, else Unix nanoseconds + 1), numbers as
// uvarints, booleans as one byte. Fields are only ever added at the end; a
// reader takes a missing tail as zero values, so a record written by a
// later version with more fields still reads. Identifiers that are part of
// the record's key are not repeated in its value.
const binaryVersion = 2

// binaryRecord is a record with a binary encoding. key is the record's
// bbolt key, from which decodeBinary restores what the value leaves out.
type binaryRecord interface {
	appendBinary(b []byte) []byte
	decodeBinary(key []byte, r *reader) error
}

var errShortRecord = errors.New("store: decode record: truncated binary record")

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBytes(b, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendTime writes t as 0 for the zero time, else 1 + the zigzag
// encoding of its Unix nanoseconds (9 bytes for this century). Times
// beyond what nanoseconds since 1970 can hold (before 1678, after 2262)
// are clamped to those bounds, as the expiry indexes clamp them.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	var n int64
	switch {
	case t.Before(minTime):
		n = math.MinInt64 + 1
	case t.After(maxNanoTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return binary.AppendUvarint(b, uint64(n<<1^n>>63)+1)
}

var minTime = time.Unix(0, math.MinInt64+1)

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// reader decodes the fields of a binary record. Past the end of the data
// every field reads as its zero value (a record from before the field was
// added); malformed data sets err, and every later read is zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil || len(r.b) == 0 {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errShortRecord, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns a copy of the next byte string (nil if empty).
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err, r.b = errShortRecord, nil
		return nil
	}
	out := append([]byte(nil), r.b[:n]...)
	r.b = r.b[n:]
	return out
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) time() time.Time {
	v := r.uvarint()
	if v == 0 {
		return time.Time{}
	}
	v--
	return time.Unix(0, int64(v>>1)^-int64(v&1)).UTC()
}

func (r *reader) bool() bool { return r.uvarint() != 0 }

func (r *reader) uint32() uint32 {
	v := r.uvarint()
	if v > math.MaxUint32 && r.err == nil {
		r.err = errShortRecord
	}
	return uint32(v)
}

// appendStrings writes a list as a count and the strings.
func appendStrings(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = appendString(b, s)
	}
	return b
}

func (r *reader) strings() []string {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) { // each takes at least a byte
		r.err, r.b = errShortRecord, nil
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, r.string())
	}
	return out
}
