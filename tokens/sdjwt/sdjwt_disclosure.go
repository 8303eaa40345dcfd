package sdjwt

const (
	// sdKeyDigests holds an object's digests (RFC 9901 §4.2.4.1).
	sdKeyDigests = "_sd"
	// sdKeyElement is the sole key of an array element carrying a digest
	// (RFC 9901 §4.2.4.2).
	sdKeyElement = "..."
	// sdKeyAlg names the digest algorithm, at the top level only.
	sdKeyAlg = "_sd_alg"
)

// sdDisclosure is one decoded disclosure: [salt, name, value] for an object
// property or [salt, value] for an array element.
type sdDisclosure struct {
	property bool // three-element form
	name     string
	value    any
	used     bool
}

// sdParseDisclosures decodes the presented disclosures and indexes them by
// digest. The digest is taken over each string exactly as received.
func sdParseDisclosures(encoded []string) (map[string]*sdDisclosure, error) {
	if len(encoded) > sdMaxDisclosures {
		return nil, sdFail("too many disclosures")
	}
	byDigest := make(map[string]*sdDisclosure, len(encoded))
	for _, s := range encoded {
		if len(s) > sdMaxDisclosure {
			return nil, sdFail("disclosure too large")
		}
		digest := SDDigest(s)
		if _, dup := byDigest[digest]; dup {
			// The holder must not send a disclosure twice (RFC 9901 §4).
			return nil, sdFail("duplicate disclosure")
		}
		d, err := sdDecodeDisclosure(s)
		if err != nil {
			return nil, err
		}
		byDigest[digest] = d
	}
	return byDigest, nil
}

// sdDecodeDisclosure strictly decodes one base64url disclosure.
func sdDecodeDisclosure(s string) (*sdDisclosure, error) {
	raw, err := b64.DecodeString(s)
	if err != nil {
		return nil, sdFail("malformed disclosure: not base64url")
	}
	v, err := sdDecodeJSON(raw)
	if err != nil {
		return nil, sdFail("malformed disclosure: not json")
	}
	arr, ok := v.([]any)
	if !ok || (len(arr) != 2 && len(arr) != 3) {
		return nil, sdFail("malformed disclosure: must be an array of 2 or 3 elements")
	}
	if _, ok := arr[0].(string); !ok {
		return nil, sdFail("malformed disclosure: salt must be a string")
	}
	if len(arr) == 2 {
		return &sdDisclosure{value: arr[1]}, nil
	}
	name, ok := arr[1].(string)
	if !ok {
		return nil, sdFail("malformed disclosure: claim name must be a string")
	}
	if name == sdKeyDigests || name == sdKeyElement {
		return nil, sdFail("disclosure uses a reserved claim name")
	}
	return &sdDisclosure{property: true, name: name, value: arr[2]}, nil
}

// sdProcessor replaces digests with the disclosed values they reference
// (RFC 9901 §7.1 step 3) while enforcing that every digest appears once and
// every disclosure is used once.
type sdProcessor struct {
	disclosures map[string]*sdDisclosure
	seen        map[string]struct{}
	// topReserved are claim names that may never be disclosed at the top
	// level because the verifier relies on them being issuer-visible.
	topReserved map[string]bool
}

// sdProcess returns the processed payload: disclosed claims inserted,
// undisclosed digests and decoys dropped, _sd and _sd_alg removed. It fails
// if a disclosure is left unreferenced.
func sdProcess(payload map[string]any, disclosures map[string]*sdDisclosure, topReserved map[string]bool) (map[string]any, error) {
	p := &sdProcessor{
		disclosures: disclosures,
		seen:        make(map[string]struct{}),
		topReserved: topReserved,
	}
	out, err := p.object(payload, 0, true)
	if err != nil {
		return nil, err
	}
	for _, d := range disclosures {
		if !d.used {
			return nil, sdFail("disclosure digest not found")
		}
	}
	return out, nil
}

// claim marks a digest as seen, rejecting a second occurrence anywhere in
// the payload or in disclosed values, and returns its disclosure if any.
func (p *sdProcessor) claim(digest string) (*sdDisclosure, error) {
	if _, dup := p.seen[digest]; dup {
		return nil, sdFail("digest appears more than once")
	}
	p.seen[digest] = struct{}{}
	d := p.disclosures[digest]
	if d != nil {
		d.used = true
	}
	return d, nil
}

// disclosed processes a value revealed by a disclosure, one recursion level
// deeper than where its digest sat.
func (p *sdProcessor) disclosed(v any, depth int) (any, error) {
	if depth+1 > sdMaxRecursion {
		return nil, sdFail("disclosures nested too deeply")
	}
	return p.value(v, depth+1)
}

func (p *sdProcessor) value(v any, depth int) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		return p.object(t, depth, false)
	case []any:
		return p.array(t, depth)
	}
	return v, nil
}

func (p *sdProcessor) object(m map[string]any, depth int, top bool) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch {
		case k == sdKeyDigests:
			continue
		case k == sdKeyElement:
			return nil, sdFail("'...' is only allowed as the sole key of an array element")
		case top && k == sdKeyAlg:
			continue
		}
		pv, err := p.value(v, depth)
		if err != nil {
			return nil, err
		}
		out[k] = pv
	}
	raw, ok := m[sdKeyDigests]
	if !ok {
		return out, nil
	}
	digests, ok := raw.([]any)
	if !ok {
		return nil, sdFail("_sd must be an array of strings")
	}
	for _, dv := range digests {
		digest, ok := dv.(string)
		if !ok {
			return nil, sdFail("_sd must be an array of strings")
		}
		d, err := p.claim(digest)
		if err != nil {
			return nil, err
		}
		if d == nil {
			continue // a decoy or a claim the holder chose not to reveal
		}
		if !d.property {
			return nil, sdFail("array element disclosure referenced from _sd")
		}
		if _, exists := m[d.name]; exists || (top && d.name == sdKeyAlg) {
			return nil, sdFail("disclosed claim name already present")
		}
		if _, exists := out[d.name]; exists {
			return nil, sdFail("disclosed claim name already present")
		}
		if top && p.topReserved[d.name] {
			return nil, sdFail("claim " + d.name + " must not be selectively disclosed")
		}
		pv, err := p.disclosed(d.value, depth)
		if err != nil {
			return nil, err
		}
		out[d.name] = pv
	}
	return out, nil
}

func (p *sdProcessor) array(a []any, depth int) ([]any, error) {
	out := make([]any, 0, len(a))
	for _, v := range a {
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			if raw, carrier := m[sdKeyElement]; carrier {
				digest, ok := raw.(string)
				if !ok {
					return nil, sdFail("array element digest must be a string")
				}
				d, err := p.claim(digest)
				if err != nil {
					return nil, err
				}
				if d == nil {
					continue
				}
				if d.property {
					return nil, sdFail("object property disclosure referenced from an array")
				}
				pv, err := p.disclosed(d.value, depth)
				if err != nil {
					return nil, err
				}
				out = append(out, pv)
				continue
			}
		}
		pv, err := p.value(v, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, pv)
	}
	return out, nil
}

// sdHasDigestCarrier reports whether v contains an _sd or "..." key at any
// depth, i.e. whether any part of it could have been selectively disclosed.
func sdHasDigestCarrier(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if k == sdKeyDigests || k == sdKeyElement || sdHasDigestCarrier(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if sdHasDigestCarrier(e) {
				return true
			}
		}
	}
	return false
}
