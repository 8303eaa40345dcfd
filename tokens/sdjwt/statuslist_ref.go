package sdjwt

import "net/url"

// StatusRef is the status.status_list claim of a Referenced Token (a
// credential): where its status is kept.
type StatusRef struct {
	// Index is "idx", the credential's entry in the list.
	Index int
	// URI is "uri", the Status List Token's URI (its "sub").
	URI string
}

// sdStatusClaim is the issuer-signed status claim.
type sdStatusClaim struct {
	StatusList sdStatusList `json:"status_list"`
}

type sdStatusList struct {
	Idx int    `json:"idx"`
	URI string `json:"uri"`
}

// maxStatusURI bounds status.status_list.uri, read before any fetch.
const maxStatusURI = 2048

// validStatusRef reports whether r can be issued: a non-negative index and
// an absolute URI.
func validStatusRef(r StatusRef) bool {
	if r.Index < 0 || r.URI == "" || len(r.URI) > maxStatusURI {
		return false
	}
	u, err := url.Parse(r.URI)
	return err == nil && u.IsAbs() && u.Host != ""
}

// sdStatusOf reads the status.status_list claim of a verified payload: nil
// when the payload has no status claim or uses another status mechanism,
// an error when status_list is present but malformed.
func sdStatusOf(payload map[string]any) (*StatusRef, error) {
	raw, present := payload["status"]
	if !present {
		return nil, nil
	}
	status, ok := raw.(map[string]any)
	if !ok || len(status) == 0 {
		return nil, sdFail("status claim malformed")
	}
	rawList, present := status["status_list"]
	if !present {
		return nil, nil
	}
	sl, ok := rawList.(map[string]any)
	if !ok {
		return nil, sdFail("status_list claim malformed")
	}
	idx, ok := statusInt(sl["idx"])
	uri, _ := sl["uri"].(string)
	ref := StatusRef{Index: idx, URI: uri}
	if !ok || !validStatusRef(ref) {
		return nil, sdFail("status_list claim malformed")
	}
	return &ref, nil
}
