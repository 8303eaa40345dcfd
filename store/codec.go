package store

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
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

// laterBinary is a binary record whose encoding has moved on from
// binaryVersion: it writes the version it names and reads that and every
// earlier one from binaryVersion, told by reader.version.
type laterBinary interface{ binaryVersion() byte }

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

// Identifiers of the service's own forms, which appendID packs: 128 random
// bits in base64url (user ids), a millisecond time prefix in hex and 128
// random bits (session ids) and 256 bits in base64url (key thumbprints).
const (
	idRaw     = 0
	idRandom  = 1
	idOrdered = 2
	idWide    = 3
	// idText, with a length n ≥ 1 (tag 4n+1), is a string coded with
	// textPhrases (appendText).
	idText = idRandom
)

var b64 = base64.RawURLEncoding.Strict()

// appendID writes a string that is most often an identifier of one of the
// service's forms, as the bytes it encodes: a uvarint tag, then, for tag
// 4n, the n bytes of any other string; for an id, its decoded bytes (16,
// 22 or 32). Only a string that decodes and encodes back to itself is
// packed, so every string reads back as written.
func appendID(b []byte, s string) []byte {
	switch len(s) {
	case 22:
		if raw, err := b64.DecodeString(s); err == nil && len(raw) == 16 {
			return append(append(b, idRandom), raw...)
		}
	case 34:
		var ms [6]byte
		if n, err := hex.Decode(ms[:], []byte(s[:12])); err == nil && n == 6 && hex.EncodeToString(ms[:]) == s[:12] {
			if raw, err := b64.DecodeString(s[12:]); err == nil && len(raw) == 16 {
				return append(append(append(b, idOrdered), ms[:]...), raw...)
			}
		}
	case 43:
		if raw, err := b64.DecodeString(s); err == nil && len(raw) == 32 {
			return append(append(b, idWide), raw...)
		}
	}
	return append(binary.AppendUvarint(b, uint64(len(s))<<2|idRaw), s...)
}

// id reads a string written by appendID.
func (r *reader) id() string {
	tag := r.uvarint()
	take := func(n int) []byte {
		if r.err != nil || n > len(r.b) {
			r.err, r.b = errShortRecord, nil
			return nil
		}
		out := r.b[:n]
		r.b = r.b[n:]
		return out
	}
	switch tag {
	case idRandom:
		return b64.EncodeToString(take(16))
	case idOrdered:
		ms := take(6)
		return hex.EncodeToString(ms) + b64.EncodeToString(take(16))
	case idWide:
		return b64.EncodeToString(take(32))
	}
	if tag&3 == idText && tag>>2 <= uint64(len(r.b)) {
		s, ok := decodeText(take(int(tag >> 2)))
		if !ok {
			r.err, r.b = errShortRecord, nil
		}
		return s
	}
	if tag&3 != idRaw {
		r.err, r.b = errShortRecord, nil
		return ""
	}
	if tag>>2 > uint64(len(r.b)) {
		r.err, r.b = errShortRecord, nil
		return ""
	}
	return string(take(int(tag >> 2)))
}

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
	// version is the record's version byte.
	version byte
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

// appendTimeFrom writes t as its distance from base: 0 for the zero time,
// else 1 + the zigzag encoding of the nanoseconds from base, one byte for a
// time equal to base. base must be stored before it.
func appendTimeFrom(b []byte, base, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	d := expiryNanosSigned(t) - expiryNanosSigned(base)
	return binary.AppendUvarint(b, uint64(d<<1^d>>63)+1)
}

func (r *reader) timeFrom(base time.Time) time.Time {
	v := r.uvarint()
	if v == 0 {
		return time.Time{}
	}
	v--
	return time.Unix(0, expiryNanosSigned(base)+(int64(v>>1)^-int64(v&1))).UTC()
}

// expiryNanosSigned is t in Unix nanoseconds, 0 for the zero time, clamped
// as appendTime clamps.
func expiryNanosSigned(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minTime):
		return math.MinInt64 + 1
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

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

func (r *reader) strings() []string { return r.list(r.string) }

// list reads a count and that many strings, each with read.
func (r *reader) list(read func() string) []string {
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
		out = append(out, read())
	}
	return out
}
