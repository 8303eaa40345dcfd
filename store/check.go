package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
)

// checkFile looks at an existing database file before bbolt maps it.
// bbolt turns an empty file into a new store without a word, which would
// start a store whose file was lost to a full disk or a bad copy as an
// empty one: every account gone and the service ready. And bbolt reads a
// file cut short inside its data pages through its memory map, where the
// missing pages are a fault that kills the process with a goroutine dump;
// the file's meta pages say how long it must be, so that is checked first.
func checkFile(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("store: open %s: not a regular file", path)
	}
	if info.Size() == 0 {
		return fmt.Errorf("%w: %s is empty (0 bytes), so the accounts it held are gone: restore it from a backup; to start a new store instead, remove it (and its master key) or use an empty data directory", ErrStoreMissing, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	defer f.Close()
	if err := checkLength(f, info.Size()); err != nil {
		return fmt.Errorf("%w: %s %v: restore it from a backup (latch backup, or a copy of the file taken while the server was stopped)",
			ErrDamaged, path, err)
	}
	return nil
}

// The layout of a bbolt meta page (go.etcd.io/bbolt/internal/common):
// a 16-byte page header, then magic, version, page size and flags (four
// uint32), the root bucket (root page, sequence), the freelist page, the
// high-water mark (the number of pages in use), the transaction id and a
// 64-bit FNV-1a checksum of everything before it, in the machine's byte
// order. Two meta pages, 0 and 1, are written in turn; the valid one with
// the higher transaction id is current.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltPageHeader   = 16
	boltMetaSumStart = 56 // the checksum's offset in the meta
	boltMetaLen      = 64
)

type boltMeta struct {
	pageSize             uint32
	root, freelist, pgid uint64
	txid                 uint64
}

// readMeta parses the meta page at off; ok is false if there is none.
func readMeta(f io.ReaderAt, off int64) (m boltMeta, ok bool) {
	var buf [boltPageHeader + boltMetaLen]byte
	if _, err := f.ReadAt(buf[:], off); err != nil {
		return boltMeta{}, false
	}
	b := buf[boltPageHeader:]
	ne := binary.NativeEndian
	h := fnv.New64a()
	h.Write(b[:boltMetaSumStart])
	if ne.Uint32(b[0:]) != boltMagic || ne.Uint32(b[4:]) != boltVersion || ne.Uint64(b[boltMetaSumStart:]) != h.Sum64() {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: ne.Uint32(b[8:]), root: ne.Uint64(b[16:]), freelist: ne.Uint64(b[32:]),
		pgid: ne.Uint64(b[40:]), txid: ne.Uint64(b[48:]),
	}, true
}

// checkLength checks that a bbolt file of the given size holds every page
// its current meta page counts.
func checkLength(f io.ReaderAt, size int64) error {
	meta0, ok0 := readMeta(f, 0)
	var meta1 boltMeta
	ok1 := false
	if ok0 {
		meta1, ok1 = readMeta(f, int64(meta0.pageSize))
	} else {
		// The first meta is what says the page size; without it, look for
		// the second where each possible page size would put it, as bbolt
		// does.
		for ps := int64(1024); ps <= 16<<20 && ps < size && !ok1; ps <<= 1 {
			meta1, ok1 = readMeta(f, ps)
			ok1 = ok1 && int64(meta1.pageSize) == ps
		}
	}
	m := meta0
	switch {
	case !ok0 && !ok1:
		return errors.New("is not a Latch store, or its header is damaged (no valid bbolt meta page)")
	case !ok0 || ok1 && meta1.txid > meta0.txid:
		m = meta1
	}
	const noFreelist = 1<<64 - 1
	if m.pageSize < 512 || m.pgid < 2 || m.root >= m.pgid || (m.freelist != noFreelist && m.freelist >= m.pgid) {
		return errors.New("has a meta page that points outside the file")
	}
	if m.pgid > uint64(size)/uint64(m.pageSize) {
		return fmt.Errorf("is cut short: %d bytes, but its %d pages need %d", size, m.pgid, m.pgid*uint64(m.pageSize))
	}
	return nil
}
