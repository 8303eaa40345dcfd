package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/webauthn"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// Accounts for test suites without a browser (`latch users add NAME
// --passkey-out FILE`): the account gets a software passkey whose private
// key is handed to the caller, who signs in with it through the HTTP API
// like any client. The passkey is made by a real registration ceremony
// against the service's own relying party, answered by the software
// authenticator, so the stored credential is exactly what a sign-up makes.

// PasskeyFile is the file `latch users add --passkey-out` writes: a
// software passkey's credential id, user handle, RP ID, origin and private
// key (see webauthntest.PasskeyFile for the format).
type PasskeyFile = webauthntest.PasskeyFile

// WritePasskeyFile writes a passkey file with mode 0600.
func WritePasskeyFile(path string, f *PasskeyFile) error {
	return webauthntest.WritePasskeyFile(path, f)
}

// softwarePasskeyName labels the passkey in the account's list.
const softwarePasskeyName = "software passkey (latch users add)"

// addUserWithPasskey creates an account holding one software passkey and
// returns the passkey's file.
func addUserWithPasskey(ctx context.Context, db store.Store, rp *webauthn.RP, cfg Config, username, displayName string, now time.Time) (*webauthntest.PasskeyFile, error) {
	if err := checkLen("username", username, 1024); err != nil {
		return nil, err
	}
	if err := checkLen("display_name", displayName, 1024); err != nil {
		return nil, err
	}
	username, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	display, err := cleanDisplayName(displayName, username)
	if err != nil {
		return nil, err
	}
	origin := webOriginOf(cfg)
	if origin == "" {
		return nil, Errorf(http.StatusBadRequest, CodeInvalidRequest, "no web origin in --origins to make a passkey for")
	}
	userID := randomID(16)
	user := &store.User{ID: userID, Handle: []byte(userID), Username: username, DisplayName: display, CreatedAt: now}
	opts, session, err := rp.BeginRegistration(waUser(user), nil)
	if err != nil {
		return nil, err
	}
	authn := webauthntest.New(cfg.RPID, origin)
	response, err := authn.Create(opts, webauthntest.Options{NoneAttestation: true})
	if err != nil {
		return nil, err
	}
	wc, err := rp.FinishRegistration(waUser(user), session, response)
	if err != nil {
		return nil, err
	}
	cred := &store.Credential{
		ID: wc.ID, UserID: user.ID, Name: softwarePasskeyName, CreatedAt: now,
		Transports: wc.Transports, AAGUID: wc.AAGUID, BackupEligible: wc.BackupEligible, BackupState: wc.BackupState,
		SignCount: wc.SignCount, Record: wc.Record,
	}
	err = db.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutUser(user); err != nil {
			return err
		}
		if err := tx.PutCredential(cred); err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "user_added", UserID: user.ID,
			Detail: map[string]string{"passkey": "software"}})
	})
	if errors.Is(err, store.ErrUsernameTaken) {
		return nil, errUsernameTaken()
	}
	if err != nil {
		return nil, err
	}
	file, err := authn.Export(wc.ID)
	if err != nil {
		return nil, err
	}
	file.Username = username
	return file, nil
}

// webOriginOf is the first http(s) origin of the configuration: the one a
// software passkey's "browser" claims to run on.
func webOriginOf(cfg Config) string {
	for _, o := range cfg.Origins {
		if strings.HasPrefix(o, "https://") || strings.HasPrefix(o, "http://") {
			return strings.TrimRight(o, "/")
		}
	}
	return ""
}

// AddUser creates an account with a software passkey on a stopped server's
// store and returns the passkey file (see PasskeyFile in webauthntest). The
// configuration must name the same --rp-id and --origins as the server's.
func (a *Admin) AddUser(ctx context.Context, username, displayName string) (*webauthntest.PasskeyFile, error) {
	rp, err := webauthn.New(webauthn.Config{RPID: a.cfg.RPID, RPDisplayName: a.cfg.RPName, Origins: a.cfg.Origins, Timeout: a.cfg.CeremonyTTL})
	if err != nil {
		return nil, err
	}
	return addUserWithPasskey(ctx, a.db, rp, a.cfg, username, displayName, a.cfg.Now())
}

// AddUser creates an account with a software passkey on the running
// server, for its own relying party.
func (s *Server) AddUser(ctx context.Context, username, displayName string) (*webauthntest.PasskeyFile, error) {
	return addUserWithPasskey(ctx, s.db, s.rp, s.cfg, username, displayName, s.now())
}
