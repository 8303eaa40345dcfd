package auth

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchid/latch/store"
)

// The audit log records sign-ins and failed sign-ins beside the account
// and operator events. A sign-in's event is appended in the transaction
// that starts its session, and a failed TOTP code's in the one that counts
// the failure, so neither costs a commit of its own. A failed passkey
// finish for a known account has no transaction, and gets one, within a
// budget (failureBurst, then one a second across all accounts): past it,
// and for every failure that names no account (anyone can send those, as
// fast as the begin rate limit lets them), the failures are only counted
// in memory and written as one signin_failures event a minute. The log so
// grows with failures by at most the budget whatever an attacker sends.

const (
	failureBurst        = 60
	failureRefill       = time.Second
	failureFlushEvery   = time.Minute
	auditSignIn         = "signin"
	auditSignInFailed   = "signin_failed"
	auditSignInFailures = "signin_failures"
)

// failureAudit budgets and counts failed sign-ins. Its zero value starts
// with a full budget.
type failureAudit struct {
	mu      sync.Mutex
	used    float64   // of the budget, refilled over time
	last    time.Time // of the last refill
	unknown uint64    // failures naming no account since the last flush
	over    uint64    // failures of known accounts past the budget
	since   time.Time // of the first failure counted
}

// allow takes one from the budget, or counts the failure when none is
// left.
func (f *failureAudit) allow(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.last.IsZero() {
		f.used = max(0, f.used-float64(now.Sub(f.last))/float64(failureRefill))
	}
	f.last = now
	if f.used+1 <= failureBurst {
		f.used++
		return true
	}
	f.count(&f.over, now)
	return false
}

// countUnknown counts a failure that names no account.
func (f *failureAudit) countUnknown(now time.Time) {
	f.mu.Lock()
	f.count(&f.unknown, now)
	f.mu.Unlock()
}

func (f *failureAudit) count(n *uint64, now time.Time) {
	if f.unknown == 0 && f.over == 0 {
		f.since = now
	}
	*n++
}

// pending returns the event of the failures counted so far (nil when
// there are none) with the counts it carries, which stay counted until
// written is called with them.
func (f *failureAudit) pending(now time.Time) (e *store.AuditEvent, unknown, over uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unknown == 0 && f.over == 0 {
		return nil, 0, 0
	}
	e = &store.AuditEvent{Time: now, Type: auditSignInFailures, Detail: map[string]string{
		"since":              f.since.UTC().Format(time.RFC3339),
		"unknown_credential": strconv.FormatUint(f.unknown, 10),
		"over_budget":        strconv.FormatUint(f.over, 10),
	}}
	return e, f.unknown, f.over
}

// written takes counts returned by pending off, once their event is in
// the log; failures counted meanwhile stay, counted from now.
func (f *failureAudit) written(unknown, over uint64, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unknown -= unknown
	f.over -= over
	f.since = now
}

// flushFailures writes the failures counted since the last flush as one
// event, if there were any.
func (s *Server) flushFailures(ctx context.Context) error {
	now := s.now()
	e, unknown, over := s.failures.pending(now)
	if e == nil {
		return nil
	}
	if err := s.db.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(e) }); err != nil {
		return err
	}
	s.failures.written(unknown, over, now)
	return nil
}

// runFailureFlush flushes the counted failures every minute, and once more
// when ctx ends (the server stopping, before the store closes).
func (s *Server) runFailureFlush(ctx context.Context) {
	t := time.NewTicker(failureFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := s.flushFailures(context.Background()); err != nil {
				s.log.Error("audit: failed sign-ins not written", "err", err)
			}
			return
		case <-t.C:
			if err := s.flushFailures(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("audit: failed sign-ins not written", "err", err)
			}
		}
	}
}

// signInEvent is the event of a completed sign-in.
func signInEvent(now time.Time, is *issuedSession) *store.AuditEvent {
	return &store.AuditEvent{Time: now, Type: auditSignIn, UserID: is.user.ID, Detail: map[string]string{
		"amr": strings.Join(is.session.AMR, " "), "sid": is.session.ID,
	}}
}

// signInFailedEvent is the event of a failed sign-in of a known account.
// reason is one of a few fixed phrases: nothing the client sent.
func signInFailedEvent(now time.Time, userID, factor, reason string) *store.AuditEvent {
	return &store.AuditEvent{Time: now, Type: auditSignInFailed, UserID: userID, Detail: map[string]string{
		"factor": factor, "reason": reason,
	}}
}

// auditSignInFailure records a failed passkey sign-in of a known account
// in a transaction of its own, within the failure budget. It never fails
// the request: the answer is an error already.
func (s *Server) auditSignInFailure(ctx context.Context, userID, reason string) {
	now := s.now()
	if !s.failures.allow(now) {
		return
	}
	err := s.db.Update(ctx, func(tx store.Tx) error {
		return tx.AppendAudit(signInFailedEvent(now, userID, "passkey", reason))
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("audit: failed sign-in not written", "err", err)
	}
}

// AuditEntry is one event of `latch audit list`. Username is the
// account's name now, empty once it is deleted.
type AuditEntry struct {
	Seq      uint64
	Time     time.Time
	Type     string
	UserID   string            `json:",omitempty"`
	Username string            `json:",omitempty"`
	Detail   map[string]string `json:",omitempty"`
}

// AuditFilter selects the events of `latch audit list`: User is a username
// or an account id (a deleted account is found by its id), Since the
// earliest time; zero values select everything.
type AuditFilter struct {
	User  string
	Since time.Time
}

// auditEntries calls fn with each event f selects, oldest first, inside
// one read transaction.
func auditEntries(ctx context.Context, db store.Store, f AuditFilter, fn func(*AuditEntry) error) error {
	return db.View(ctx, func(tx store.Tx) error {
		userID := f.User
		if f.User != "" {
			if name, err := NormalizeUsername(f.User); err == nil {
				if u, err := tx.UserByUsername(name); err == nil {
					userID = u.ID
				}
			}
		}
		names := map[string]string{}
		return tx.ScanAudit(func(e *store.AuditEvent) error {
			if userID != "" && e.UserID != userID || e.Time.Before(f.Since) {
				return nil
			}
			name, ok := names[e.UserID]
			if !ok && e.UserID != "" {
				if u, err := tx.User(e.UserID); err == nil {
					name = u.Username
				}
				names[e.UserID] = name
			}
			return fn(&AuditEntry{Seq: e.Seq, Time: e.Time, Type: e.Type, UserID: e.UserID, Username: name, Detail: e.Detail})
		})
	})
}

// AuditReport is what `latch audit verify` found: the counts of events
// and of those before the chain began, the chain's first and last
// positions and the last MAC in hex (to keep outside, and compare later),
// and, if the chain does not hold, where it first breaks and why.
type AuditReport struct {
	Events, Unchained int
	Genesis, Head     uint64
	HeadMAC           string `json:",omitempty"`
	BrokenAt          uint64 `json:",omitempty"`
	Problem           string `json:",omitempty"`
}

func verifyAudit(ctx context.Context, db store.Store) (AuditReport, error) {
	var r AuditReport
	err := db.View(ctx, func(tx store.Tx) error {
		c, err := tx.VerifyAudit()
		if err != nil {
			return err
		}
		r = AuditReport{Events: c.Events, Unchained: c.Unchained, Genesis: c.Genesis, Head: c.Head}
		if c.HeadMAC != nil {
			r.HeadMAC = hex.EncodeToString(c.HeadMAC)
		}
		if c.Break != nil {
			r.BrokenAt, r.Problem = c.Break.Seq, c.Break.Reason
		}
		return nil
	})
	return r, err
}

// Audit calls fn with each audit event f selects, oldest first.
func (a *Admin) Audit(ctx context.Context, f AuditFilter, fn func(*AuditEntry) error) error {
	return auditEntries(ctx, a.db, f, fn)
}

// VerifyAudit checks the audit log's chain (see AuditReport).
func (a *Admin) VerifyAudit(ctx context.Context) (AuditReport, error) { return verifyAudit(ctx, a.db) }

// mfaFailedEvent is the event of a wrong second factor at sign-in; the
// TOTP lockout bounds how many there can be. locked says whether the
// factor is locked after this attempt.
func mfaFailedEvent(now time.Time, userID string, req verifyRequest, failure error, locked bool) *store.AuditEvent {
	factor, reason := "totp", "wrong code"
	if req.RecoveryCode != "" {
		factor, reason = "recovery_code", "wrong recovery code"
	}
	if e, ok := asError(failure); ok && e.Code == CodeRateLimited {
		reason = "refused: the factor is locked after repeated failures"
	} else if locked {
		reason += "; the factor is now locked after repeated failures"
	}
	return signInFailedEvent(now, userID, factor, reason)
}

// auditLine is one line of the socket's audit listing: an event, or the
// end mark that tells a whole listing from one cut short.
type auditLine struct {
	Event *AuditEntry `json:"event,omitempty"`
	End   bool        `json:"end,omitempty"`
}

// handleAdminAudit streams the selected events as JSON lines, ending with
// the end mark: the log can be long, and neither side holds it whole.
func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := AuditFilter{User: q.Get("user")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			s.adminReply(w, nil, badRequest("since must be an RFC 3339 time"))
			return
		}
		f.Since = t
	}
	started := false
	enc := json.NewEncoder(w)
	err := auditEntries(r.Context(), s.db, f, func(e *AuditEntry) error {
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			started = true
		}
		return enc.Encode(auditLine{Event: e})
	})
	switch {
	case err != nil && !started:
		s.adminReply(w, nil, err)
	case err != nil:
		// Too late for an error status: the missing end mark tells.
		s.log.Error("admin socket: audit list", "err", err)
	default:
		w.Header().Set("Content-Type", "application/x-ndjson")
		_ = enc.Encode(auditLine{End: true})
	}
}

// Audit calls fn with each audit event f selects, oldest first, as the
// server streams them.
func (a *AdminClient) Audit(ctx context.Context, f AuditFilter, fn func(*AuditEntry) error) error {
	q := url.Values{}
	if f.User != "" {
		q.Set("user", f.User)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	res, err := a.send(ctx, "GET", "/v1/audit?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var line auditLine
		if err := dec.Decode(&line); err != nil {
			return fmt.Errorf("audit list: the server's answer stopped short: %w", err)
		}
		switch {
		case line.End:
			return nil
		case line.Event == nil:
			return errors.New("audit list: malformed answer from the server")
		}
		if err := fn(line.Event); err != nil {
			return err
		}
	}
}

// VerifyAudit checks the running server's audit log (see AuditReport).
func (a *AdminClient) VerifyAudit(ctx context.Context) (AuditReport, error) {
	var out AuditReport
	return out, a.call(ctx, "GET", "/v1/audit/verify", nil, &out)
}
