package postgres_test

import (
	"testing"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/store/postgres/pgtest"
	"github.com/latchid/latch/store/storetest"
)

// TestConformance runs the store conformance suite on PostgreSQL, each
// test on a database of its own.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.URL(t)) })
}
