// Package frontend holds the browser client library (latch.js) and the
// sign-in and account pages that the service serves at its root.
//
// The files are embedded so the binary is self-contained: deploying Latch
// never means keeping a directory of static files in step with the code.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed assets
var assets embed.FS

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
