package store

import "errors"

var (
	// ErrInUse is returned by Open when another process holds the database
	// file lock for longer than Options.Timeout.
	ErrInUse = errors.New("store in use")

	// ErrNotFound is returned when a record does not exist (or, for
	// ceremonies, has expired).
	ErrNotFound = errors.New("store: not found")

	// ErrUsernameTaken is returned by PutUser when the username already
	// belongs to another user.
	ErrUsernameTaken = errors.New("store: username taken")

	// ErrHandleTaken is returned by PutUser when the WebAuthn user handle
	// already belongs to another user.
	ErrHandleTaken = errors.New("store: user handle taken")

	// ErrCredentialExists is returned by PutCredential when the credential
	// ID is already registered to another user.
	ErrCredentialExists = errors.New("store: credential already registered")

	// ErrWrongKey is returned when sealed data cannot be opened with the
	// configured key-encryption key: the master key is not the one the
	// database was written with, or the record was tampered with.
	ErrWrongKey = errors.New("store: wrong master key or corrupted secret")

	// ErrClosed is returned by operations on a DB after Close.
	ErrClosed = errors.New("store: closed")

	// ErrReadOnly is returned by Update on a DB opened with ReadOnly.
	ErrReadOnly = errors.New("store: opened read-only")

	// ErrStoreMissing is returned by Open and Dir.Open when a store
	// evidently existed but its database is gone: the file is empty, or a
	// data directory that is not new has no database file.
	ErrStoreMissing = errors.New("store: database missing")

	// ErrDamaged is returned by Open for a database file that cannot be a
	// whole store, such as one shorter than its own pages say.
	ErrDamaged = errors.New("store: database file damaged")

	// ErrNoMasterKey is returned by Dir.MasterKey when a data directory
	// that already holds a store has no key file and LATCH_MASTER_KEY is
	// not set.
	ErrNoMasterKey = errors.New("master key missing")
)
