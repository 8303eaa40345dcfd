package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestUnavailableSortsTheDatabaseFromTheRequest: what the database says
// of itself (going down, starting, out of time, unreachable) is the
// database unavailable (503); what it says of a statement (a constraint,
// a conflict, bad input) is not; a caller's cancel is neither.
func TestUnavailableSortsTheDatabaseFromTheRequest(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code}) }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"administrator shutdown (a restart)", pg("57P01"), true},
		{"crash shutdown", pg("57P02"), true},
		{"starting up", pg("57P03"), true},
		{"connection failure", pg("08006"), true},
		{"too many connections", pg("53300"), true},
		{"statement timeout", pg("57014"), true},
		{"lock timeout", pg("55P03"), true},
		{"connection closed", io.ErrUnexpectedEOF, true},
		{"network", &net.OpError{Op: "read", Err: errors.New("connection reset")}, true},
		{"unique violation", pg("23505"), false},
		{"serialisation failure", pg("40001"), false},
		{"foreign key", pg("23503"), false},
		{"invalid input", pg("22P02"), false},
		{"session moved", pg(sessionMovedCode), false},
		{"caller cancelled", context.Canceled, false},
	}
	for _, c := range cases {
		if got := unavailable(c.err); got != c.want {
			t.Errorf("%s (%v): unavailable = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
