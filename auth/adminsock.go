package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// A running server holds its store, so the operator commands (`latch
// users`, `keys`, `clients`, `backup`, `audit`) reach it through a Unix socket in
// the data directory instead: an account is disabled, a key rotated or a
// backup taken without stopping the service, and the server applies the
// change to what it holds in memory at once (its blacklist, its profile
// cache, its keyring).
//
// The socket is as private as the store beside it: mode 0600, and on Linux
// a peer must run as the server's user (or root); elsewhere the data
// directory must be closed to other users, since the mode is set only just
// after the socket is made. Only the server that holds the store's lock
// creates it, so a socket file left by a crash is safely replaced.

// adminSocketName is the socket's file name in the data directory.
const adminSocketName = "latch.sock"

// adminBodyLimit bounds an admin request's JSON body.
const adminBodyLimit = 64 << 10

// AdminSocketPath is where the server of dataDir takes operator commands.
func AdminSocketPath(dataDir string) string { return filepath.Join(dataDir, adminSocketName) }

// openAdminSocket starts serving the operator commands. It only warns when
// it cannot: the service works without it, and the commands then report
// the store in use.
func (s *Server) openAdminSocket() {
	path := AdminSocketPath(s.cfg.DataDir)
	if err := adminSocketAllowed(s.cfg.DataDir); err != nil {
		s.log.Warn("admin commands cannot reach this server while it runs", "err", err)
		return
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
		_ = os.Remove(path) // left by a server that did not stop cleanly
	}
	ln, err := net.Listen("unix", path)
	if err == nil {
		err = os.Chmod(path, 0o600)
		if err != nil {
			ln.Close()
		}
	}
	if err != nil {
		s.log.Warn("admin commands cannot reach this server while it runs", "err", err)
		return
	}
	s.log.Info("admin commands are taken on a socket", "path", path)
	s.adminSrv = &http.Server{
		Handler:           s.adminHandler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.adminSrv.Serve(peerCheckedListener{ln, s.log}); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin socket", "err", err)
		}
	}()
}

// closeAdminSocket stops taking commands, letting one in progress (a
// backup) finish for up to grace; one still running then is cut off, and
// its client reports the copy incomplete.
func (s *Server) closeAdminSocket(grace time.Duration) error {
	if s.adminSrv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.adminSrv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
		return s.adminSrv.Close()
	} else if err != nil {
		return err
	}
	return nil
}

// peerCheckedListener drops connections from other users (see peerAllowed).
type peerCheckedListener struct {
	net.Listener
	log *slog.Logger
}

func (l peerCheckedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err := peerAllowed(c); err != nil {
			l.log.Warn("admin socket: connection refused", "err", err)
			c.Close()
			continue
		}
		return c, nil
	}
}

// Requests and answers of the admin socket.
type (
	usernameRequest struct {
		Username string `json:"username"`
	}
	addUserRequest struct {
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
	}
	clientRequest struct {
		ID string `json:"id"`
	}
	clientResponse struct {
		Secret string `json:"secret"`
	}
	rotateRequest struct {
		Alg string `json:"alg"`
	}
)

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		users, err := listUsers(r.Context(), s.db)
		s.adminReply(w, users, err)
	})
	for _, action := range []string{"disable", "enable"} {
		mux.HandleFunc("POST /v1/users/"+action, command(s, func(ctx context.Context, req usernameRequest) (any, error) {
			return struct{}{}, s.SetDisabled(ctx, req.Username, action == "disable")
		}))
	}
	mux.HandleFunc("POST /v1/users/recover", command(s, func(ctx context.Context, req usernameRequest) (any, error) {
		return s.IssueRecoveryLink(ctx, req.Username)
	}))
	mux.HandleFunc("POST /v1/users/add", command(s, func(ctx context.Context, req addUserRequest) (any, error) {
		return s.AddUser(ctx, req.Username, req.DisplayName)
	}))
	mux.HandleFunc("POST /v1/users/delete", command(s, func(ctx context.Context, req usernameRequest) (any, error) {
		id, err := userIDByName(ctx, s.db, req.Username)
		if err != nil {
			return nil, err
		}
		return struct{}{}, s.DeleteUser(ctx, id)
	}))
	mux.HandleFunc("POST /v1/users/groups", command(s, func(ctx context.Context, req GroupChange) (any, error) {
		return s.ChangeGroups(ctx, req)
	}))
	mux.HandleFunc("POST /v1/clients", command(s, func(ctx context.Context, req clientRequest) (any, error) {
		secret, err := CreateClient(ctx, s.db, req.ID, s.now())
		return clientResponse{secret}, err
	}))
	mux.HandleFunc("POST /v1/clients/register", command(s, func(ctx context.Context, req ClientOptions) (any, error) {
		secret, err := s.registerClient(ctx, req)
		if err == nil {
			err = s.loadClientOrigins(ctx)
		}
		return clientResponse{secret}, err
	}))
	mux.HandleFunc("POST /v1/clients/show", command(s, func(ctx context.Context, req clientRequest) (any, error) {
		return showClient(ctx, s.db, req.ID)
	}))
	mux.HandleFunc("GET /v1/clients", func(w http.ResponseWriter, r *http.Request) {
		clients, err := listClients(r.Context(), s.db)
		s.adminReply(w, clients, err)
	})
	mux.HandleFunc("POST /v1/clients/delete", command(s, func(ctx context.Context, req clientRequest) (any, error) {
		err := deleteClient(ctx, s.db, req.ID, s.now())
		if err == nil {
			err = s.loadClientOrigins(ctx)
		}
		return struct{}{}, err
	}))
	mux.HandleFunc("POST /v1/clients/rotate-secret", command(s, func(ctx context.Context, req clientRequest) (any, error) {
		secret, err := rotateClientSecret(ctx, s.db, req.ID, s.now())
		return clientResponse{secret}, err
	}))
	mux.HandleFunc("GET /v1/keys", func(w http.ResponseWriter, r *http.Request) {
		keys, err := listKeys(r.Context(), s.db)
		s.adminReply(w, keys, err)
	})
	mux.HandleFunc("POST /v1/keys/rotate", command(s, func(ctx context.Context, req rotateRequest) (any, error) {
		k, err := s.RotateKeys(ctx, req.Alg)
		if err != nil {
			return nil, err
		}
		return keySummary(k), nil
	}))
	mux.HandleFunc("GET /v1/audit", s.handleAdminAudit)
	mux.HandleFunc("GET /v1/audit/verify", func(w http.ResponseWriter, r *http.Request) {
		report, err := verifyAudit(r.Context(), s.db)
		s.adminReply(w, report, err)
	})
	mux.HandleFunc("GET /v1/backup", func(w http.ResponseWriter, r *http.Request) {
		b, ok := s.db.(store.Backuper)
		if !ok {
			s.adminReply(w, nil, badRequest("%s", store.ErrNoBackup.Error()))
			return
		}
		started := false
		err := b.BackupSized(func(size int64) io.Writer {
			started = true
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			return w
		})
		if err != nil && !started {
			s.adminReply(w, nil, err)
		} else if err != nil {
			// Too late for an error status: the body stops short of its
			// Content-Length, which the client reports.
			s.log.Error("admin socket: backup", "err", err)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern == "" {
			// No command here: answer the mux's 404 or 405 in JSON.
			status := statusRecorder{header: http.Header{}}
			h.ServeHTTP(&status, r)
			if allow := status.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			code := CodeNotFound
			if status.code == http.StatusMethodNotAllowed {
				code = CodeMethodNotAllowed
			}
			s.adminReply(w, nil, Errorf(status.code, code, "no such command"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// statusRecorder keeps the status and headers of a response, nothing else.
type statusRecorder struct {
	header http.Header
	code   int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.code = code }

// SetDisabled disables or re-enables an account of the running server.
// Disabling ends the account's sessions, and takes effect at the next
// request: the sessions' tokens are blacklisted in memory too, and the
// cached profile is dropped.
func (s *Server) SetDisabled(ctx context.Context, username string, disabled bool) error {
	now := s.now()
	userID, ended, lt, err := setDisabled(ctx, s.db, username, disabled, now, s.sessionBlacklistUntil(now))
	if err != nil {
		return err
	}
	s.accountChanged(userID, ended, now)
	s.afterSessionsEnd(lt)
	return nil
}

// DeleteUser deletes an account of the running server and everything kept
// under it. Its tokens are refused at their next request: its sessions are
// blacklisted in memory too, and the cached profile is dropped.
func (s *Server) DeleteUser(ctx context.Context, userID string) error {
	now := s.now()
	ended, lt, err := deleteUser(ctx, s.db, userID, now, s.sessionBlacklistUntil(now))
	if err != nil {
		return err
	}
	s.accountChanged(userID, ended, now)
	s.afterSessionsEnd(lt)
	return nil
}

// accountChanged mirrors a committed change of an account in memory: the
// sessions it ended join the blacklist, and the cached profile goes.
func (s *Server) accountChanged(userID string, ended []string, now time.Time) {
	for _, sid := range ended {
		s.mirrorSessionRevocation(sid, now)
	}
	s.users.forget(userID)
}

// command is an admin route that takes a JSON request: run's answer, or
// its error, is the reply.
func command[Req any](s *Server, run func(ctx context.Context, req Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := readAdminJSON(w, r, &req); err != nil {
			s.adminReply(w, nil, err)
			return
		}
		v, err := run(r.Context(), req)
		s.adminReply(w, v, err)
	}
}

func readAdminJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, adminBodyLimit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed request: %v", err)
	}
	return nil
}

// adminReply writes v as JSON, or err as an error body: an *Error as it
// is, anything else as a 500 whose detail goes to the log only.
func (s *Server) adminReply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		e, ok := asError(err)
		if !ok {
			s.log.Error("admin socket", "err", err)
			e = Errorf(http.StatusInternalServerError, CodeServerError, "the command failed; see the server's log")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.Status)
		_ = json.NewEncoder(w).Encode(errorBody{Error: e.Code, Description: e.Description})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is the JSON error of the admin socket, as of the HTTP API.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// AdminClient sends operator commands to the running server of a data
// directory. It has the methods of Admin, with the same results.
type AdminClient struct {
	http *http.Client
}

// ErrNoServer is returned by DialAdmin when no server answers on the data
// directory's admin socket.
var ErrNoServer = errors.New("no running server answers on the admin socket")

// DialAdmin connects to the server running on dataDir, or returns an error
// wrapping ErrNoServer.
func DialAdmin(dataDir string) (*AdminClient, error) {
	path := AdminSocketPath(dataDir)
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	c, err := dial(context.Background(), "", "")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoServer, err)
	}
	c.Close()
	return &AdminClient{http: &http.Client{Transport: &http.Transport{DialContext: dial}}}, nil
}

// Close releases the client's connections.
func (a *AdminClient) Close() error {
	a.http.CloseIdleConnections()
	return nil
}

// call sends one command and decodes its JSON answer into out (if not nil).
func (a *AdminClient) call(ctx context.Context, method, path string, in, out any) error {
	res, err := a.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("admin socket: malformed answer: %w", err)
	}
	return nil
}

// send sends one command and returns a successful response, whose body
// the caller closes, or the server's error as an *Error.
func (a *AdminClient) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://latch"+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if res.StatusCode == http.StatusOK {
		return res, nil
	}
	defer res.Body.Close()
	var e errorBody
	if err := json.NewDecoder(io.LimitReader(res.Body, adminBodyLimit)).Decode(&e); err != nil || e.Error == "" {
		return nil, fmt.Errorf("admin socket: status %d", res.StatusCode)
	}
	return nil, &Error{Status: res.StatusCode, Code: e.Error, Description: e.Description}
}

// Users lists every account.
func (a *AdminClient) Users(ctx context.Context) ([]UserSummary, error) {
	var out []UserSummary
	return out, a.call(ctx, "GET", "/v1/users", nil, &out)
}

// SetDisabled disables or re-enables an account; the server applies it at
// once (see Server.SetDisabled).
func (a *AdminClient) SetDisabled(ctx context.Context, username string, disabled bool) error {
	path := "/v1/users/enable"
	if disabled {
		path = "/v1/users/disable"
	}
	return a.call(ctx, "POST", path, usernameRequest{username}, nil)
}

// IssueRecoveryLink asks the server for a recovery link for an account
// (see Admin.IssueRecoveryLink).
func (a *AdminClient) IssueRecoveryLink(ctx context.Context, username string) (*RecoveryLink, error) {
	var out RecoveryLink
	if err := a.call(ctx, "POST", "/v1/users/recover", usernameRequest{username}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteUser deletes an account; the server applies it at once (see
// Server.DeleteUser).
func (a *AdminClient) DeleteUser(ctx context.Context, username string) error {
	return a.call(ctx, "POST", "/v1/users/delete", usernameRequest{username}, nil)
}

// AddUser creates an account with a software passkey on the running
// server and returns the passkey file (see Server.AddUser).
func (a *AdminClient) AddUser(ctx context.Context, username, displayName string) (*webauthntest.PasskeyFile, error) {
	var out webauthntest.PasskeyFile
	if err := a.call(ctx, "POST", "/v1/users/add", addUserRequest{username, displayName}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateClient registers an introspection client and returns its secret.
func (a *AdminClient) CreateClient(ctx context.Context, id string) (string, error) {
	var out clientResponse
	return out.Secret, a.call(ctx, "POST", "/v1/clients", clientRequest{id}, &out)
}

// Clients lists the introspection clients by id.
func (a *AdminClient) Clients(ctx context.Context) ([]ClientSummary, error) {
	var out []ClientSummary
	return out, a.call(ctx, "GET", "/v1/clients", nil, &out)
}

// DeleteClient removes an introspection client.
func (a *AdminClient) DeleteClient(ctx context.Context, id string) error {
	return a.call(ctx, "POST", "/v1/clients/delete", clientRequest{id}, nil)
}

// RotateClientSecret gives an introspection client a new secret and
// returns it.
func (a *AdminClient) RotateClientSecret(ctx context.Context, id string) (string, error) {
	var out clientResponse
	return out.Secret, a.call(ctx, "POST", "/v1/clients/rotate-secret", clientRequest{id}, &out)
}

// Keys lists the signing keys, oldest first.
func (a *AdminClient) Keys(ctx context.Context) ([]KeySummary, error) {
	var out []KeySummary
	return out, a.call(ctx, "GET", "/v1/keys", nil, &out)
}

// RotateKeys rotates the server's signing key; the new key signs at once.
func (a *AdminClient) RotateKeys(ctx context.Context, alg string) (KeySummary, error) {
	var out KeySummary
	return out, a.call(ctx, "POST", "/v1/keys/rotate", rotateRequest{alg}, &out)
}

// Backup writes a consistent copy of the running server's store to path
// (which must not exist), as Admin.Backup does. A copy cut short is
// reported and removed.
func (a *AdminClient) Backup(path string) error {
	res, err := a.send(context.Background(), "GET", "/v1/backup", nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.ContentLength < 0 {
		// Without a length a copy cut short could not be told apart.
		return errors.New("backup: the server did not say how long the copy is")
	}
	return store.WriteNewFile(path, func(w io.Writer) error {
		// The client fails a body shorter than its Content-Length with
		// io.ErrUnexpectedEOF, so a copy cut off never looks complete.
		if _, err := io.Copy(w, res.Body); err != nil {
			return fmt.Errorf("backup: copy from the server: %w", err)
		}
		return nil
	})
}
