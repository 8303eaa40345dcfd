package auth

import (
	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/tokens"
)

// OpenID Connect endpoints' paths (beside /token, /userinfo, /revoke and
// /introspect). /logout is the service's own POST API, so RP-initiated
// logout has a path of its own.
const (
	pathAuthorize  = "/authorize"
	pathPAR        = "/par"
	pathEndSession = "/oidc/logout"
)

// Scopes Latch grants.
const (
	scopeOpenID        = "openid"
	scopeProfile       = "profile"
	scopeOfflineAccess = "offline_access"
)

// supportedScopes are the scopes an authorization request may ask for.
var supportedScopes = []string{scopeOpenID, scopeProfile, scopeOfflineAccess, scopeGroups}

// Client authentication methods at the token endpoint.
const (
	authSecretBasic = "client_secret_basic"
	authSecretPost  = "client_secret_post"
	authKeyJWT      = "private_key_jwt"
	authNone        = "none"
)

// serverMetadata is the one document behind both discovery endpoints: RFC
// 8414 authorization server metadata and OpenID Connect Discovery 1.0
// provider metadata, which must agree.
func (s *Server) serverMetadata() fiber.Map {
	iss := s.cfg.Issuer
	return fiber.Map{
		"issuer":                                           iss,
		"authorization_endpoint":                           iss + pathAuthorize,
		"token_endpoint":                                   iss + "/token",
		"userinfo_endpoint":                                iss + "/userinfo",
		"jwks_uri":                                         iss + "/.well-known/jwks.json",
		"pushed_authorization_request_endpoint":            iss + pathPAR,
		"require_pushed_authorization_requests":            s.cfg.RequirePAR,
		"end_session_endpoint":                             iss + pathEndSession,
		"revocation_endpoint":                              iss + "/revoke",
		"introspection_endpoint":                           iss + "/introspect",
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query", "form_post"},
		"grant_types_supported":                            []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"scopes_supported":                                 append([]string{}, supportedScopes...),
		"claims_supported":                                 []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "azp", "sid", "at_hash", "preferred_username", "name", "groups"},
		"subject_types_supported":                          []string{"public"},
		"ui_locales_supported":                             append([]string{}, s.pages.langs...),
		"id_token_signing_alg_values_supported":            s.keys.IDTokenAlgs(),
		"token_endpoint_auth_methods_supported":            []string{authSecretBasic, authSecretPost, authKeyJWT, authNone},
		"token_endpoint_auth_signing_alg_values_supported": tokens.ClientAssertionAlgs(),
		"revocation_endpoint_auth_methods_supported":       []string{"none", "client_secret_basic"},
		"introspection_endpoint_auth_methods_supported":    []string{"client_secret_basic"},
		"dpop_signing_alg_values_supported":                s.dpop.Algs(),
		"authorization_response_iss_parameter_supported":   true,
		"prompt_values_supported":                          []string{"none", "login", "consent", "create"},
		"claims_parameter_supported":                       false,
		"request_parameter_supported":                      false,
		"request_uri_parameter_supported":                  true,
		"require_request_uri_registration":                 true,
		"frontchannel_logout_supported":                    false,
		"backchannel_logout_supported":                     true,
		"backchannel_logout_session_supported":             true,
		"service_documentation":                            iss + "/",
	}
}

// handleMetadata serves both discovery documents.
func (s *Server) handleMetadata(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.JSON(s.serverMetadata())
}
