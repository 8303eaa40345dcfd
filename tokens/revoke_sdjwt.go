package tokens

import "time"

// SDIssuerExpiry verifies an issuer-signed SD-JWT VC JWT (signature with a
// published key, issuer, expiry) and returns its exp. Revocation uses it so
// that only credentials this service really issued reach the blacklist.
func SDIssuerExpiry(issuerJWT, issuer string, keys SDKeyLookup, now time.Time) (time.Time, error) {
	req := SDVerifyRequest{Issuer: issuer, Keys: keys, Now: now}
	jws, err := sdVerifyIssuerJWT(issuerJWT, req, sdVCProfile, now)
	if err != nil {
		return time.Time{}, err
	}
	exp, _ := sdNumericDate(jws.payload["exp"])
	return exp, nil
}
