package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
)

// ClientOptions registers a client (`latch clients add`). With no redirect
// URI it is an introspection client, as every client was before OpenID
// Connect; with some it is a relying party of the authorization code flow:
// confidential (a secret, or private_key_jwt with JWKS/JWKSURI) unless
// Public.
type ClientOptions struct {
	ID                     string   `json:"id"`
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	Public                 bool     `json:"public,omitempty"`
	FirstParty             bool     `json:"first_party,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	WebOrigins             []string `json:"web_origins,omitempty"`
	IDTokenAlg             string   `json:"id_token_alg,omitempty"`
	JWKSURI                string   `json:"jwks_uri,omitempty"`
	JWKS                   string   `json:"jwks,omitempty"`
	// BackchannelLogoutURI receives the client's logout tokens (OpenID
	// Connect Back-Channel Logout 1.0).
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
}

// Client kinds shown by `latch clients list`.
const (
	clientKindIntrospection = "introspection"
	clientKindConfidential  = "confidential"
	clientKindPublic        = "public"
)

// Bounds on what a registration may hold.
const (
	maxClientURIs = 16
	maxURILen     = 2048
)

// clientKind names what c is.
func clientKind(c *store.Client) string {
	switch {
	case len(c.RedirectURIs) == 0:
		return clientKindIntrospection
	case c.Public:
		return clientKindPublic
	}
	return clientKindConfidential
}

// usesKeyJWT reports whether c authenticates with private_key_jwt.
func usesKeyJWT(c *store.Client) bool { return len(c.JWKS) > 0 || c.JWKSURI != "" }

// checkClientID validates a client id as CreateClient always has.
func checkClientID(id string) error {
	if id == "" || len(id) > 128 || strings.ContainsAny(id, ": \t\r\n") {
		return badRequest("client id must be 1 to 128 characters without spaces or colons")
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return badRequest("client id must be printable ASCII")
		}
	}
	return nil
}

// validate checks a registration and returns the client it describes,
// without a secret.
func (o ClientOptions) validate() (*store.Client, error) {
	if err := checkClientID(o.ID); err != nil {
		return nil, err
	}
	c := &store.Client{ID: o.ID, Public: o.Public, FirstParty: o.FirstParty, IDTokenAlg: o.IDTokenAlg}
	oidc := len(o.RedirectURIs) > 0
	if !oidc && (o.Public || o.FirstParty || len(o.PostLogoutRedirectURIs) > 0 || len(o.WebOrigins) > 0 ||
		o.IDTokenAlg != "" || o.JWKSURI != "" || o.JWKS != "" || o.BackchannelLogoutURI != "") {
		return nil, badRequest("--public, --first-party, --post-logout-redirect-uri, --web-origin, --id-token-alg, --backchannel-logout-uri and the client keys need at least one --redirect-uri")
	}
	if len(o.RedirectURIs) > maxClientURIs || len(o.PostLogoutRedirectURIs) > maxClientURIs || len(o.WebOrigins) > maxClientURIs {
		return nil, badRequest("at most %d of each kind of URI", maxClientURIs)
	}
	for _, u := range o.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return nil, badRequest("redirect URI %q: %s", u, err.Error())
		}
		if !slices.Contains(c.RedirectURIs, u) {
			c.RedirectURIs = append(c.RedirectURIs, u)
		}
	}
	for _, u := range o.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return nil, badRequest("post-logout redirect URI %q: %s", u, err.Error())
		}
		if !slices.Contains(c.PostLogoutRedirectURIs, u) {
			c.PostLogoutRedirectURIs = append(c.PostLogoutRedirectURIs, u)
		}
	}
	for _, o := range o.WebOrigins {
		origin, err := checkWebOrigin(o)
		if err != nil {
			return nil, badRequest("web origin %q: %s", o, err.Error())
		}
		if !slices.Contains(c.WebOrigins, origin) {
			c.WebOrigins = append(c.WebOrigins, origin)
		}
	}
	switch o.IDTokenAlg {
	case "", "RS256":
	case "ES256":
		c.IDTokenAlg = "" // the signing key's algorithm, ES256 unless --key-alg says otherwise
	default:
		return nil, badRequest("--id-token-alg %q is not supported (RS256; the default is the signing key's, ES256)", o.IDTokenAlg)
	}
	if o.JWKSURI != "" && o.JWKS != "" {
		return nil, badRequest("give --jwks-uri or --jwks, not both")
	}
	if o.Public && (o.JWKSURI != "" || o.JWKS != "") {
		return nil, badRequest("a public client has no keys: --public excludes --jwks-uri and --jwks")
	}
	if o.JWKSURI != "" {
		u, err := url.Parse(o.JWKSURI)
		if err != nil || len(o.JWKSURI) > maxURILen || u.Host == "" || u.Fragment != "" || u.User != nil ||
			!(u.Scheme == "https" || u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
			return nil, badRequest("--jwks-uri must be an https URL (plain http only on localhost)")
		}
		c.JWKSURI = o.JWKSURI
	}
	if o.BackchannelLogoutURI != "" {
		if err := checkBackchannelLogoutURI(o.BackchannelLogoutURI); err != nil {
			return nil, badRequest("--backchannel-logout-uri %q: %s", o.BackchannelLogoutURI, err.Error())
		}
		c.BackchannelLogoutURI = o.BackchannelLogoutURI
	}
	if o.JWKS != "" {
		if err := tokens.CheckClientJWKS([]byte(o.JWKS)); err != nil {
			return nil, badRequest("--jwks: %s", strings.TrimPrefix(err.Error(), "tokens: "))
		}
		c.JWKS = []byte(o.JWKS)
	}
	return c, nil
}

// checkRedirectURI admits the redirect URIs of RFC 8252 and OAuth 2.0
// Security BCP (RFC 9700 section 2.1): absolute, without a fragment or
// user info, and https; plain http only to a loopback host (native apps,
// RFC 8252 section 7.3); or a private-use scheme with a dot in it (a
// reversed domain name, RFC 8252 section 7.1), which rules out
// javascript:, data: and the like.
func checkRedirectURI(raw string) error {
	if len(raw) > maxURILen {
		return errors.New("too long")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return errors.New("not an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	if u.User != nil {
		return errors.New("must not have user information")
	}
	switch {
	case u.Scheme == "https":
		if u.Host == "" {
			return errors.New("has no host")
		}
	case u.Scheme == "http":
		if !isLoopbackHost(u.Hostname()) {
			return errors.New("plain http is allowed only to a loopback address (127.0.0.1, [::1], localhost)")
		}
	case strings.Contains(u.Scheme, "."):
		// A private-use scheme of a native app.
	default:
		return errors.New("must be https, http to a loopback address, or a private-use scheme such as com.example.app")
	}
	return nil
}

// checkBackchannelLogoutURI admits a back-channel logout URI (OpenID
// Connect Back-Channel Logout 1.0 section 2.2): an absolute https URL,
// plain http only to a loopback host, without a fragment or user
// information. A query is allowed, as the specification allows.
func checkBackchannelLogoutURI(raw string) error {
	if len(raw) > maxURILen {
		return errors.New("too long")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Hostname() == "" || u.Opaque != "" {
		return errors.New("not an absolute URL")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	if u.User != nil {
		return errors.New("must not have user information")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return errors.New("must use https (plain http only to a loopback address)")
	}
	for _, r := range raw {
		if r <= 0x20 || r >= 0x7f {
			return errors.New("must be printable ASCII")
		}
	}
	return nil
}

// checkWebOrigin normalises a browser origin: scheme://host[:port], https
// or plain http on localhost.
func checkWebOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("must be scheme://host[:port]")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return "", errors.New("must use https (plain http only on localhost)")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// RegisterClient registers a client described by o and returns its
// secret, shown once and stored only as a hash; a public client and one
// authenticating with private_key_jwt get none (""). A client whose ID
// tokens are RS256 makes sure the store has an RSA signing key.
func RegisterClient(ctx context.Context, db store.Store, o ClientOptions, now time.Time) (string, error) {
	c, err := o.validate()
	if err != nil {
		return "", err
	}
	var secret string
	if !c.Public && !usesKeyJWT(c) {
		secret, c.SecretHash = newClientSecret()
	}
	c.CreatedAt = now
	err = db.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Client(c.ID); err == nil {
			return Errorf(http.StatusConflict, CodeInvalidRequest, "a client with this id already exists")
		}
		if err := tx.PutClient(c); err != nil {
			return err
		}
		detail := map[string]string{"client": c.ID}
		if kind := clientKind(c); kind != clientKindIntrospection {
			detail["kind"] = kind
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "client_created", Detail: detail})
	})
	if err != nil {
		return "", err
	}
	if c.IDTokenAlg == "RS256" {
		if err := ensureRSAKey(ctx, db, now); err != nil {
			return "", err
		}
	}
	return secret, nil
}

// ClientInfo is what `latch clients show` and `list` tell of a client; the
// secret is never shown again.
type ClientInfo struct {
	ID                     string
	Kind                   string
	CreatedAt              time.Time
	RotatedAt              time.Time `json:",omitzero"`
	RedirectURIs           []string  `json:",omitempty"`
	FirstParty             bool      `json:",omitempty"`
	PostLogoutRedirectURIs []string  `json:",omitempty"`
	WebOrigins             []string  `json:",omitempty"`
	IDTokenAlg             string    `json:",omitempty"`
	AuthMethod             string    `json:",omitempty"`
	JWKSURI                string    `json:",omitempty"`
	BackchannelLogoutURI   string    `json:",omitempty"`
}

func clientInfo(c *store.Client) ClientInfo {
	info := ClientInfo{
		ID: c.ID, Kind: clientKind(c), CreatedAt: c.CreatedAt, RotatedAt: c.RotatedAt, RedirectURIs: c.RedirectURIs,
		FirstParty: c.FirstParty, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, WebOrigins: c.WebOrigins,
		IDTokenAlg: c.IDTokenAlg, JWKSURI: c.JWKSURI, BackchannelLogoutURI: c.BackchannelLogoutURI,
	}
	switch {
	case c.Public:
		info.AuthMethod = "none"
	case usesKeyJWT(c):
		info.AuthMethod = "private_key_jwt"
	default:
		info.AuthMethod = "client_secret_basic client_secret_post"
	}
	return info
}

func showClient(ctx context.Context, db store.Store, id string) (ClientInfo, error) {
	var info ClientInfo
	err := db.View(ctx, func(tx store.Tx) error {
		c, err := tx.Client(id)
		if errors.Is(err, store.ErrNotFound) {
			return errNoClient(id)
		} else if err != nil {
			return err
		}
		info = clientInfo(c)
		return nil
	})
	return info, err
}

// RegisterClient registers a client on a stopped server's store.
func (a *Admin) RegisterClient(ctx context.Context, o ClientOptions) (string, error) {
	return RegisterClient(ctx, a.db, o, time.Now())
}

// ShowClient describes one client.
func (a *Admin) ShowClient(ctx context.Context, id string) (ClientInfo, error) {
	return showClient(ctx, a.db, id)
}

// RegisterClient registers a client on the running server; an RS256
// client's key signs at once.
func (a *AdminClient) RegisterClient(ctx context.Context, o ClientOptions) (string, error) {
	var out clientResponse
	return out.Secret, a.call(ctx, "POST", "/v1/clients/register", o, &out)
}

// ShowClient describes one client of the running server.
func (a *AdminClient) ShowClient(ctx context.Context, id string) (ClientInfo, error) {
	var out ClientInfo
	return out, a.call(ctx, "POST", "/v1/clients/show", clientRequest{id}, &out)
}

// registerClient is the running server's RegisterClient: a new RSA key
// joins its keyring.
func (s *Server) registerClient(ctx context.Context, o ClientOptions) (string, error) {
	secret, err := RegisterClient(ctx, s.db, o, s.now())
	if err != nil {
		return "", err
	}
	if o.IDTokenAlg == "RS256" {
		if _, ok := s.keys.IDSigner("RS256"); !ok {
			s.keyMu.Lock()
			defer s.keyMu.Unlock()
			if _, err := s.reloadKeys(ctx); err != nil {
				return "", err
			}
		}
	}
	return secret, nil
}
