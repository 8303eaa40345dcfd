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
)
