package auth

import (
	"io/fs"
	"net/http"
	"regexp"
	"testing"

	"github.com/latchid/latch/frontend"
)

func TestClientModuleVersionedPath(t *testing.T) {
	e := newEnv(t, withWebOrigin(webApp))
	base := "/latch/v" + frontend.Version() + "/"

	current := e.request("GET", "/latch.js", nil, nil)
	pinned := e.request("GET", base+"latch.js", nil, map[string]string{"Origin": webApp})
	if current.status != 200 || pinned.status != 200 || string(current.raw) != string(pinned.raw) {
		t.Fatalf("current %d, versioned %d, same body %v", current.status, pinned.status, string(current.raw) == string(pinned.raw))
	}
	if got := current.header.Get("Cache-Control"); got != "no-cache" {
		t.Fatalf("current path Cache-Control %q", got)
	}
	if got := pinned.header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Fatalf("versioned path Cache-Control %q", got)
	}
	if got := pinned.header.Get("Content-Type"); got != "text/javascript; charset=utf-8" {
		t.Fatalf("Content-Type %q", got)
	}
	if pinned.header.Get("Access-Control-Allow-Origin") != webApp {
		t.Fatal("a module script from another origin needs CORS")
	}
	etag := pinned.header.Get("ETag")
	if etag == "" || etag != current.header.Get("ETag") {
		t.Fatalf("ETag %q vs %q", etag, current.header.Get("ETag"))
	}

	t.Run("a matching If-None-Match gets 304 without a body", func(t *testing.T) {
		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag} {
			r := e.request("GET", base+"latch.js", nil, map[string]string{"If-None-Match": inm})
			if r.status != http.StatusNotModified || len(r.raw) != 0 || r.header.Get("ETag") != etag {
				t.Fatalf("%s: %d, %d bytes", inm, r.status, len(r.raw))
			}
		}
		if r := e.request("GET", base+"latch.js", nil, map[string]string{"If-None-Match": `"stale"`}); r.status != 200 {
			t.Fatalf("a stale tag: %d", r.status)
		}
	})

	t.Run("every relative import of every module resolves under the versioned path", func(t *testing.T) {
		imports := regexp.MustCompile(`from\s+"\./([^"]+)"`)
		modules, _ := fs.Glob(frontend.Assets(), "latch*.js")
		for _, m := range modules {
			body, _ := fs.ReadFile(frontend.Assets(), m)
			for _, imp := range imports.FindAllSubmatch(body, -1) {
				if r := e.request("GET", base+string(imp[1]), nil, nil); r.status != 200 {
					t.Fatalf("%s imports %s: %d under %s", m, imp[1], r.status, base)
				}
			}
		}
	})

	t.Run("only the client is versioned, and only at this version", func(t *testing.T) {
		for _, p := range []string{base + "app.js", base + "index.html", "/latch/v0.0.0-none/latch.js", "/latch/latch.js"} {
			if r := e.request("GET", p, nil, nil); r.status != http.StatusNotFound {
				t.Fatalf("%s: %d", p, r.status)
			}
		}
	})
}
