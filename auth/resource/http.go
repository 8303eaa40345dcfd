package resource

import (
	"context"
	"encoding/json"
	"net/http"
)

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p; the adapters use it, and
// tests of handlers can too.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller a Guard verified for this request's
// context, or nil outside a protected handler.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Middleware protects next: a request reaches it only with a valid access
// token and, for a bound token, a valid DPoP proof; next finds the caller
// with PrincipalFrom(r.Context()). Any other request is answered here with
// Latch's error body and challenges. CORS preflights (OPTIONS) carry no
// credentials, so answer them before this middleware.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := g.Nonce(); n != "" {
			w.Header().Set("DPoP-Nonce", n)
		}
		p, err := g.Authenticate(r.Context(), Request{
			Method:        r.Method,
			Path:          r.URL.EscapedPath(),
			Authorization: r.Header.Values("Authorization"),
			DPoP:          r.Header.Values("DPoP"),
		})
		if err != nil {
			e, ok := AsError(err)
			if !ok {
				e = &Error{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error"}
			}
			e.WriteTo(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// Metadata returns the API's RFC 9728 protected-resource metadata: the
// resource (PublicURL), the issuer as its authorization server,
// header-only tokens, the accepted proof algorithms and whether only
// DPoP-bound tokens are accepted. It names no jwks_uri: in RFC 9728 that
// would be the API's own keys, which it has none of.
func (g *Guard) Metadata() []byte { return g.metadata }

func (g *Guard) renderMetadata() ([]byte, error) {
	return json.Marshal(struct {
		Resource              string   `json:"resource"`
		AuthorizationServers  []string `json:"authorization_servers"`
		BearerMethods         []string `json:"bearer_methods_supported"`
		DPoPAlgs              []string `json:"dpop_signing_alg_values_supported"`
		DPoPBoundTokensNeeded bool     `json:"dpop_bound_access_tokens_required"`
	}{g.base, []string{g.cfg.Issuer}, []string{"header"}, g.dpop.Algs(), !g.cfg.AllowBearer})
}

// MetadataHandler serves Metadata as JSON, to mount at the path of
// Config.ResourceMetadataURL (by default MetadataPath followed by
// PublicURL's path). It answers GET and HEAD, from any origin: the
// document is public.
func (g *Guard) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			(&Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Description: "use GET"}).WriteTo(w)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(g.metadata)
	})
}
