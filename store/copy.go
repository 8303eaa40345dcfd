package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// CopyReport counts what Copy copied, and what the copy's audit chain is.
type CopyReport struct {
	CopyCounts
	// Audit is the copy's audit chain as VerifyAudit found it.
	Audit AuditCheck
}

// CopyCounts counts the records of each kind.
type CopyCounts struct {
	Users, Credentials, TOTP, RecoveryCodes, SignInFailures int
	Sessions, RefreshTokens, Revoked, Consents              int
	SigningKeys, Clients, AuditEvents                       int
}

// ErrTargetNotEmpty is returned by Copy for a target that has records.
var ErrTargetNotEmpty = errors.New("store: the target store is not empty; copy only into a new one")

// copyBatch is how many records Copy writes per transaction.
const copyBatch = 256

// Copy copies every lasting record of from into to, which must be empty,
// and checks the copy: the counts of each kind read back from to, and its
// audit chain, which is rebuilt event by event in the same order and must
// verify (and, under the same master key, end in the same MAC as from's).
// Both stores must be sealed under the same master key. What lives for
// seconds or minutes only (ceremonies, authorization codes, pushed
// requests, recovery links, spent DPoP proofs) is not copied: requests
// under way at the switch start again. The source's audit chain must
// verify before anything is written.
//
// It reads from in one View, so the copy is of one moment; to is written
// in batches, so an interrupted copy leaves a partial target, which a new
// Copy refuses: start again on an empty database.
func Copy(ctx context.Context, from, to Store, now time.Time) (CopyReport, error) {
	var rep CopyReport
	if err := to.View(ctx, func(tx Tx) error { return checkEmpty(tx) }); err != nil {
		return rep, err
	}
	var source AuditCheck
	err := from.View(ctx, func(src Tx) error {
		var err error
		if source, err = src.VerifyAudit(); err != nil {
			return err
		}
		if source.Break != nil {
			return fmt.Errorf("store: the source's audit chain breaks at event %d (%s); it is not copied", source.Break.Seq, source.Break.Reason)
		}
		w := &copyWriter{ctx: ctx, to: to}
		if err := copyAccounts(src, w, &rep); err != nil {
			return err
		}
		if err := copyShared(src, w, &rep, now); err != nil {
			return err
		}
		if err := src.ScanAudit(func(e *AuditEvent) error {
			ev := *e
			rep.AuditEvents++
			return w.add(func(tx Tx) error { return tx.AppendAudit(&ev) })
		}); err != nil {
			return err
		}
		return w.flush()
	})
	if err != nil {
		return rep, err
	}
	return rep, verifyCopy(ctx, to, &rep, source, now)
}

// checkEmpty refuses a store that has any account, client, key or event.
func checkEmpty(tx Tx) error {
	users, err := tx.Users()
	if err != nil {
		return err
	}
	clients, err := tx.Clients()
	if err != nil {
		return err
	}
	keys, err := tx.SigningKeys()
	if err != nil {
		return err
	}
	events, err := tx.AuditEvents(1)
	if err != nil {
		return err
	}
	if len(users)+len(clients)+len(keys)+len(events) > 0 {
		return ErrTargetNotEmpty
	}
	return nil
}

// copyWriter queues writes and commits them copyBatch at a time.
type copyWriter struct {
	ctx     context.Context
	to      Store
	pending []func(Tx) error
}

func (w *copyWriter) add(fn func(Tx) error) error {
	w.pending = append(w.pending, fn)
	if len(w.pending) < copyBatch {
		return nil
	}
	return w.flush()
}

func (w *copyWriter) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	batch := w.pending
	w.pending = nil
	return w.to.Update(w.ctx, func(tx Tx) error {
		for _, fn := range batch {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

// copyAccounts copies each account with what is kept under it. An
// account's records are queued after the account, so a batch never writes
// a passkey before its user.
func copyAccounts(src Tx, w *copyWriter, rep *CopyReport) error {
	users, err := src.Users()
	if err != nil {
		return err
	}
	for i := range users {
		u := users[i]
		rep.Users++
		if err := w.add(func(tx Tx) error { return tx.PutUser(&u) }); err != nil {
			return err
		}
		creds, err := src.CredentialsByUser(u.ID)
		if err != nil {
			return err
		}
		for j := range creds {
			c := creds[j]
			rep.Credentials++
			if err := w.add(func(tx Tx) error { return tx.PutCredential(&c) }); err != nil {
				return err
			}
		}
		if t, err := src.TOTP(u.ID); err == nil {
			rep.TOTP++
			if err := w.add(func(tx Tx) error { return tx.PutTOTP(t) }); err != nil {
				return err
			}
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if rc, err := src.RecoveryCodes(u.ID); err == nil {
			rep.RecoveryCodes++
			if err := w.add(func(tx Tx) error { return tx.PutRecoveryCodes(rc) }); err != nil {
				return err
			}
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		f, err := src.SignInFailures(u.ID)
		if err != nil {
			return err
		}
		if hasFailures(f) {
			rep.SignInFailures++
			if err := w.add(func(tx Tx) error { return tx.PutSignInFailures(f) }); err != nil {
				return err
			}
		}
		sessions, err := src.SessionsByUser(u.ID)
		if err != nil {
			return err
		}
		for j := range sessions { // oldest first, so the copy lists them alike
			s := sessions[j]
			rep.Sessions++
			if err := w.add(func(tx Tx) error { return tx.PutSession(&s) }); err != nil {
				return err
			}
		}
		consents, err := src.Consents(u.ID)
		if err != nil {
			return err
		}
		for j := range consents {
			c := consents[j]
			rep.Consents++
			if err := w.add(func(tx Tx) error { return tx.PutConsent(&c) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyShared copies what is not kept under one account: refresh tokens,
// the blacklist, signing keys and clients.
func copyShared(src Tx, w *copyWriter, rep *CopyReport, now time.Time) error {
	if err := src.ScanRefreshTokens(func(rt *RefreshToken) error {
		t := *rt
		rep.RefreshTokens++
		return w.add(func(tx Tx) error { return tx.PutRefreshToken(&t) })
	}); err != nil {
		return err
	}
	revoked, err := src.Revoked(now)
	if err != nil {
		return err
	}
	for key, until := range revoked {
		rep.Revoked++
		if err := w.add(func(tx Tx) error { return tx.PutRevoked(key, until) }); err != nil {
			return err
		}
	}
	keys, err := src.SigningKeys()
	if err != nil {
		return err
	}
	for i := range keys {
		k := keys[i]
		rep.SigningKeys++
		if err := w.add(func(tx Tx) error { return tx.PutSigningKey(&k) }); err != nil {
			return err
		}
	}
	clients, err := src.Clients()
	if err != nil {
		return err
	}
	for i := range clients {
		c := clients[i]
		rep.Clients++
		if err := w.add(func(tx Tx) error { return tx.PutClient(&c) }); err != nil {
			return err
		}
	}
	return nil
}

// verifyCopy reads the copy back: every count must match what was copied,
// and its audit chain must verify and cover every event.
func verifyCopy(ctx context.Context, to Store, rep *CopyReport, source AuditCheck, now time.Time) error {
	var got CopyReport
	err := to.View(ctx, func(tx Tx) error {
		users, err := tx.Users()
		if err != nil {
			return err
		}
		got.Users = len(users)
		for _, u := range users {
			creds, err := tx.CredentialsByUser(u.ID)
			if err != nil {
				return err
			}
			got.Credentials += len(creds)
			sessions, err := tx.SessionsByUser(u.ID)
			if err != nil {
				return err
			}
			got.Sessions += len(sessions)
			consents, err := tx.Consents(u.ID)
			if err != nil {
				return err
			}
			got.Consents += len(consents)
			if _, err := tx.TOTP(u.ID); err == nil {
				got.TOTP++
			}
			if _, err := tx.RecoveryCodes(u.ID); err == nil {
				got.RecoveryCodes++
			}
			if f, err := tx.SignInFailures(u.ID); err == nil && (hasFailures(f)) {
				got.SignInFailures++
			}
		}
		if err := tx.ScanRefreshTokens(func(*RefreshToken) error { got.RefreshTokens++; return nil }); err != nil {
			return err
		}
		revoked, err := tx.Revoked(now)
		if err != nil {
			return err
		}
		got.Revoked = len(revoked)
		keys, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		got.SigningKeys = len(keys)
		clients, err := tx.Clients()
		if err != nil {
			return err
		}
		got.Clients = len(clients)
		got.Audit, err = tx.VerifyAudit()
		got.AuditEvents = got.Audit.Events
		return err
	})
	if err != nil {
		return fmt.Errorf("store: read the copy back: %w", err)
	}
	rep.Audit = got.Audit
	if got.CopyCounts != rep.CopyCounts {
		return fmt.Errorf("store: the copy does not match: copied %+v, read back %+v", rep.CopyCounts, got.CopyCounts)
	}
	if rep.Audit.Break != nil || rep.Audit.Unchained != 0 {
		return fmt.Errorf("store: the copy's audit chain does not verify: %+v", rep.Audit)
	}
	// Rebuilt from position 1 under the same key, the chain ends where the
	// source's did whenever the source's began at 1 with every event.
	if source.Genesis == 1 && source.Unchained == 0 && !bytes.Equal(rep.Audit.HeadMAC, source.HeadMAC) {
		return fmt.Errorf("store: the copy's audit chain ends in another MAC than the source's: the stores are sealed under different master keys")
	}
	return nil
}

// hasFailures reports whether an account's throttling state is worth a
// record (SignInFailures returns a zero state for an account without one).
func hasFailures(f *SignInFailures) bool {
	return f.Failures > 0 || f.Lockouts > 0 || !f.LockedUntil.IsZero()
}
