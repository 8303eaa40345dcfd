// Package frontend holds the browser client library (latch.js) and the
// sign-in and account pages that the service serves at its root.
//
// The files are embedded so the binary is self-contained: deploying Latch
// never means keeping a directory of static files in step with the code.
// package.json makes the same folder an npm package of the client; its
// version names the client's versioned, cacheable path.
package frontend

import (
	"embed"
	"encoding/json"
	"io/fs"
	"regexp"
)

//go:embed assets
var assets embed.FS

//go:embed package.json
var packageJSON []byte

// Assets returns the static files to serve at the service root, with paths
// relative to the assets directory ("latch.js", "index.html", ...).
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		// fs.Sub fails only for an invalid path, and "assets" is a
		// constant that the go:embed directive above already proved exists.
		panic("frontend: " + err.Error())
	}
	return sub
}

var semver = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// Version returns the client package's version from package.json, such as
// "0.1.0". It panics on a malformed file: that is a build mistake the
// package's own test catches, not something a running service can mend.
func Version() string {
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(packageJSON, &pkg); err != nil || !semver.MatchString(pkg.Version) {
		panic("frontend: package.json has no valid version")
	}
	return pkg.Version
}
