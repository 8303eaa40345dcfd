package store

import (
	bolt "go.etcd.io/bbolt"
)

// BucketStats describes how one bucket of the store uses the file.
type BucketStats struct {
	Name string
	// Keys is the number of entries.
	Keys int
	// LeafInUse is the bytes of leaf pages holding entries (keys, values
	// and their headers), LeafAlloc the bytes of the leaf pages: their
	// ratio is how full the pages are. BranchAlloc is the bytes of the
	// tree's branch pages.
	LeafInUse, LeafAlloc, BranchAlloc int
}

// Buckets returns the statistics of every bucket, in name order. It reads
// every page of the store: an operator's or a benchmark's question, not a
// request's.
func (db *DB) Buckets() ([]BucketStats, error) {
	var out []BucketStats
	err := db.bolt.View(func(btx *bolt.Tx) error {
		return btx.ForEach(func(name []byte, b *bolt.Bucket) error {
			s := b.Stats()
			out = append(out, BucketStats{
				Name: string(name), Keys: s.KeyN, LeafInUse: s.LeafInuse, LeafAlloc: s.LeafAlloc, BranchAlloc: s.BranchAlloc,
			})
			return nil
		})
	})
	return out, err
}

// Size is the length in bytes of the store's file in use: its pages up to
// the high-water mark, without the room bbolt reserves ahead of growth.
func (db *DB) Size() (int64, error) {
	var n int64
	err := db.bolt.View(func(btx *bolt.Tx) error {
		n = btx.Size()
		return nil
	})
	return n, err
}
