package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchid/latch/store"

	"github.com/latchid/latch/tokens/jose"
)

// Admin performs operator tasks on the data directory of a stopped server.
// bbolt allows one process per file, so while the server runs Open fails
// with a clear "store in use" error instead of waiting; the commands then
// go through the server (AdminClient).
type Admin struct {
	cfg Config
	db  store.Store
}

// ErrStoreInUse is returned by OpenAdmin while a server holds the store.
var ErrStoreInUse = errors.New("the store is in use by another process (a server that does not answer on its admin socket, or another command); stop it first (or run this against a backup)")

// OpenAdmin opens the store of cfg.DataDir for administration. A store in
// an earlier layout is moved to the current one first (see store.Open).
func OpenAdmin(cfg Config) (*Admin, error) { return openAdmin(cfg, openExisting) }

// OpenAdminCreating is OpenAdmin for a command that may come before the
// first start, as provisioning does (`latch clients add`): a data
// directory with no store yet gets one, made as the server's first start
// makes it (the master key, then the store file); the server creates its
// signing key when it starts.
func OpenAdminCreating(cfg Config) (*Admin, error) { return openAdmin(cfg, openOrCreate) }

// OpenAdminReadOnly opens the store of cfg.DataDir for a task that only
// reads it, a backup or an audit check: the file is left exactly as it
// is, so a backup taken with a new version before its first start is
// still in the layout the running version wrote. Only Backup and
// VerifyAudit may be used.
func OpenAdminReadOnly(cfg Config) (*Admin, error) { return openAdmin(cfg, openReadOnly) }

// How openAdmin opens the store.
type openMode int

const (
	openExisting openMode = iota
	openOrCreate
	openReadOnly
)

func openAdmin(cfg Config, mode openMode) (*Admin, error) {
	cfg = cfg.Defaults()
	if cfg.Store != nil {
		// A shared store is opened by the caller and takes any number of
		// processes: the command works on it beside running nodes.
		return &Admin{cfg: cfg, db: cfg.Store}, nil
	}
	dir, err := store.InspectDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	path := dir.DBPath()
	if dir.New && mode == openOrCreate {
		// Provisioning before the first start: the same new store serve
		// would make (InspectDir, MasterKey, Open).
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no store at %s: start the server once to create it", path)
	}
	kek := cfg.MasterKey
	if kek == nil {
		if kek, err = dir.MasterKey(); err != nil {
			return nil, err
		}
	}
	db, err := dir.Open(store.Options{KEK: kek, Timeout: 500 * time.Millisecond, ReadOnly: mode == openReadOnly})
	if errors.Is(err, store.ErrInUse) {
		return nil, ErrStoreInUse
	}
	if err != nil {
		return nil, err
	}
	return &Admin{cfg: cfg, db: db}, nil
}

// Close releases the store.
func (a *Admin) Close() error { return a.db.Close() }

// UserSummary is one line of `latch users list`.
type UserSummary struct {
	ID, Username, DisplayName string
	CreatedAt                 time.Time
	Disabled                  bool
	Passkeys                  int
	TOTP                      bool
}

// Users lists every account.
func (a *Admin) Users(ctx context.Context) ([]UserSummary, error) { return listUsers(ctx, a.db) }

func listUsers(ctx context.Context, db store.Store) ([]UserSummary, error) {
	var out []UserSummary
	err := db.View(ctx, func(tx store.Tx) error {
		users, err := tx.Users()
		if err != nil {
			return err
		}
		for _, u := range users {
			creds, err := tx.CredentialsByUser(u.ID)
			if err != nil {
				return err
			}
			t, terr := tx.TOTPStatus(u.ID)
			out = append(out, UserSummary{
				ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, CreatedAt: u.CreatedAt,
				Disabled: u.Disabled, Passkeys: len(creds), TOTP: terr == nil && t.Confirmed,
			})
		}
		return nil
	})
	return out, err
}

// SetDisabled disables or re-enables an account. Disabling also ends every
// login session of the account: the sessions are marked revoked (their
// refresh tokens stop working) and blacklisted, which a server picks up when
// it next starts. (Through a running server, Server.SetDisabled applies
// it at once.)
func (a *Admin) SetDisabled(ctx context.Context, username string, disabled bool) error {
	now := time.Now()
	_, _, _, err := setDisabled(ctx, a.db, username, disabled, now, offlineBlacklistUntil(now))
	return err
}

// offlineBlacklistUntil is how long a session ended with the server stopped
// stays blacklisted: the server's access-token lifetime is not known here,
// so as long as any access token can live.
func offlineBlacklistUntil(now time.Time) time.Time { return now.Add(maxAccessTTL + time.Minute) }

// userNamed finds the account an operator named, with the errors an
// operator should see.
func userNamed(tx store.Tx, username string) (*store.User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, badRequest("invalid username %q", username)
	}
	u, err := tx.UserByUsername(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, Errorf(http.StatusNotFound, CodeNotFound, "no user named %q", name)
	}
	return u, err
}

// setDisabled disables or enables the account named username and, when
// disabling, ends its live sessions, blacklisted until until. It returns
// the account's id, the ids of the sessions it ended and the back-channel
// logouts they call for.
func setDisabled(ctx context.Context, db store.Store, username string, disabled bool, now, until time.Time) (userID string, ended []string, lt *logoutTargets, err error) {
	err = db.Update(ctx, func(tx store.Tx) error {
		userID, ended, lt = "", nil, newLogoutTargets()
		u, err := userNamed(tx, username)
		if err != nil {
			return err
		}
		userID = u.ID
		u.Disabled = disabled
		if err := tx.PutUser(u); err != nil {
			return err
		}
		typ := "user_enabled"
		if disabled {
			typ = "user_disabled"
			sessions, err := tx.SessionsByUser(u.ID)
			if err != nil {
				return err
			}
			for _, s := range sessions {
				if !s.RevokedAt.IsZero() || !s.ExpiresAt.After(now) {
					continue
				}
				if err := endSessionTx(tx, &s, now, until, lt); err != nil {
					return err
				}
				ended = append(ended, s.ID)
			}
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: typ, UserID: u.ID})
	})
	return userID, ended, lt, err
}

// DeleteUser deletes the account named username and everything kept under
// it (see store.DB's DeleteUser); its live sessions are blacklisted first,
// which a server picks up when it next starts. (Through a running server,
// Server.DeleteUser applies it at once.)
func (a *Admin) DeleteUser(ctx context.Context, username string) error {
	now := time.Now()
	id, err := userIDByName(ctx, a.db, username)
	if err != nil {
		return err
	}
	_, _, err = deleteUser(ctx, a.db, id, now, offlineBlacklistUntil(now))
	return err
}

// userIDByName resolves an operator's username argument to an account id.
func userIDByName(ctx context.Context, db store.Store, username string) (id string, err error) {
	err = db.View(ctx, func(tx store.Tx) error {
		u, err := userNamed(tx, username)
		if err == nil {
			id = u.ID
		}
		return err
	})
	return id, err
}

// deleteUser deletes the account userID in one transaction: its live
// sessions are blacklisted until until, then the account and everything
// under it is removed and the deletion audited. It returns the ids of the
// sessions it ended and the back-channel logouts they call for.
func deleteUser(ctx context.Context, db store.Store, userID string, now, until time.Time) (ended []string, lt *logoutTargets, err error) {
	err = db.Update(ctx, func(tx store.Tx) error {
		ended, lt = nil, newLogoutTargets()
		sessions, err := tx.SessionsByUser(userID)
		if err != nil {
			return err
		}
		for _, s := range sessions {
			// Even a session past its expiry: an access token issued
			// just before it expired lives on for its own lifetime.
			if !s.RevokedAt.IsZero() {
				continue
			}
			if err := tx.PutRevoked(revokedSession(s.ID), until); err != nil {
				return err
			}
			if err := lt.ended(tx, &s); err != nil {
				return err
			}
			ended = append(ended, s.ID)
		}
		if err := tx.DeleteUser(userID); errors.Is(err, store.ErrNotFound) {
			return errNotFound("account")
		} else if err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "user_deleted", UserID: userID})
	})
	return ended, lt, err
}

// CreateClient registers an introspection client and returns its secret.
func (a *Admin) CreateClient(ctx context.Context, id string) (string, error) {
	return CreateClient(ctx, a.db, id, time.Now())
}

// KeySummary is one line of `latch keys list`.
type KeySummary struct {
	ID, Alg      string
	CreatedAt    time.Time
	RetiredAt    time.Time
	PublishUntil time.Time
}

// Keys lists the signing keys, oldest first.
func (a *Admin) Keys(ctx context.Context) ([]KeySummary, error) { return listKeys(ctx, a.db) }

func listKeys(ctx context.Context, db store.Store) ([]KeySummary, error) {
	var out []KeySummary
	err := db.View(ctx, func(tx store.Tx) error {
		keys, err := tx.SigningKeys()
		for _, k := range keys {
			out = append(out, KeySummary{ID: k.ID, Alg: k.Alg, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt, PublishUntil: k.PublishUntil})
		}
		return err
	})
	return out, err
}

// RotateKeys creates a new signing key with alg ("" = the configured
// default) and retires the current one; the retired key stays published
// until every token it signed has expired.
func (a *Admin) RotateKeys(ctx context.Context, alg string) (KeySummary, error) {
	alg, err := keyAlg(alg, a.cfg.KeyAlg)
	if err != nil {
		return KeySummary{}, err
	}
	k, err := RotateKeys(ctx, a.db, alg, publishWindow(a.cfg), time.Now())
	if err != nil {
		return KeySummary{}, err
	}
	return keySummary(k), nil
}

// keyAlg checks the algorithm asked of a rotation; "" means configured.
func keyAlg(alg, configured string) (string, error) {
	if alg == "" {
		alg = configured
	}
	if alg != "ES256" && alg != "EdDSA" {
		return "", badRequest("unsupported algorithm %q (ES256 or EdDSA)", alg)
	}
	return alg, nil
}

func keySummary(k *jose.SigningKey) KeySummary {
	return KeySummary{ID: k.ID, Alg: k.Alg, CreatedAt: k.CreatedAt}
}

// Backup writes a consistent copy of the store to path (which must not exist).
func (a *Admin) Backup(path string) error {
	b, ok := a.db.(store.Backuper)
	if !ok {
		return store.ErrNoBackup
	}
	return b.BackupFile(path)
}

// ClientSummary is one line of `latch clients list`; the secret is never
// shown again.
type ClientSummary struct {
	ID        string
	CreatedAt time.Time
	RotatedAt time.Time `json:",omitzero"`
	// Kind is introspection, confidential or public.
	Kind string `json:",omitempty"`
}

// Clients lists the introspection clients by id.
func (a *Admin) Clients(ctx context.Context) ([]ClientSummary, error) { return listClients(ctx, a.db) }

func listClients(ctx context.Context, db store.Store) ([]ClientSummary, error) {
	var out []ClientSummary
	err := db.View(ctx, func(tx store.Tx) error {
		clients, err := tx.Clients()
		for _, c := range clients {
			out = append(out, ClientSummary{ID: c.ID, CreatedAt: c.CreatedAt, RotatedAt: c.RotatedAt, Kind: clientKind(&c)})
		}
		return err
	})
	return out, err
}

// DeleteClient removes an introspection client: its secret stops working
// at the next request.
func (a *Admin) DeleteClient(ctx context.Context, id string) error {
	return deleteClient(ctx, a.db, id, time.Now())
}

func deleteClient(ctx context.Context, db store.Store, id string, now time.Time) error {
	return db.Update(ctx, func(tx store.Tx) error {
		if err := tx.DeleteClient(id); errors.Is(err, store.ErrNotFound) {
			return errNoClient(id)
		} else if err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "client_removed", Detail: map[string]string{"client": id}})
	})
}

// RotateClientSecret gives an introspection client a new secret, which it
// returns; the old one stops working at the next request.
func (a *Admin) RotateClientSecret(ctx context.Context, id string) (string, error) {
	return rotateClientSecret(ctx, a.db, id, time.Now())
}

func rotateClientSecret(ctx context.Context, db store.Store, id string, now time.Time) (string, error) {
	secret, hash := newClientSecret()
	err := db.Update(ctx, func(tx store.Tx) error {
		c, err := tx.Client(id)
		if errors.Is(err, store.ErrNotFound) {
			return errNoClient(id)
		} else if err != nil {
			return err
		}
		if c.Public || usesKeyJWT(c) {
			return badRequest("client %q has no secret: it is public or authenticates with private_key_jwt", id)
		}
		c.SecretHash, c.RotatedAt = hash, now
		if err := tx.PutClient(c); err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "client_secret_rotated", Detail: map[string]string{"client": id}})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

func errNoClient(id string) *Error {
	return Errorf(http.StatusNotFound, CodeNotFound, "no client with id %q", id)
}

// Restore installs the backup at file as the store of cfg.DataDir, once a
// copy of it has passed store.VerifyFile: a whole, consistent Latch store
// whose sealed secrets open with the data directory's master key. It
// refuses while a server runs on the directory, and refuses to replace an
// existing store unless replace is set; a replaced store is kept beside
// the new one, under the name returned. The master key is never created
// here: a backup opens only with the key of the store it was taken from.
func Restore(ctx context.Context, cfg Config, file string, replace bool) (kept string, err error) {
	cfg = cfg.Defaults()
	if c, err := DialAdmin(cfg.DataDir); err == nil {
		c.Close()
		return "", fmt.Errorf("a server is running on %s (it answers on its admin socket): stop it before restoring", cfg.DataDir)
	}
	kek := cfg.MasterKey
	if kek == nil {
		if v, _ := os.LookupEnv(store.MasterKeyEnv); strings.TrimSpace(v) == "" {
			keyPath := filepath.Join(cfg.DataDir, store.MasterKeyFile)
			if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("no master key at %s: a backup opens only with the master key of the store it was taken from; put that key there (mode 0600) or set %s", keyPath, store.MasterKeyEnv)
			}
		}
		if kek, err = store.LoadOrCreateMasterKey(cfg.DataDir); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "latch.db")
	kept, err = store.RestoreFile(ctx, file, path, kek, replace)
	switch {
	case errors.Is(err, store.ErrWrongKey):
		return "", fmt.Errorf("%s was not written with the master key of %s: restore it beside the master key of the store it was taken from (%w)", file, cfg.DataDir, err)
	case errors.Is(err, store.ErrStoreExists):
		return "", fmt.Errorf("%s already holds a store: replacing it must be asked for (latch restore --force keeps the replaced file beside it)", cfg.DataDir)
	case errors.Is(err, store.ErrInUse):
		return "", ErrStoreInUse
	}
	return kept, err
}
