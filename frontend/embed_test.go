package frontend

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
)

func TestPackageDescribesTheClient(t *testing.T) {
	if v := Version(); !semver.MatchString(v) {
		t.Fatalf("version %q", v)
	}
	var pkg struct {
		Type         string            `json:"type"`
		Types        string            `json:"types"`
		Files        []string          `json:"files"`
		Dependencies map[string]string `json:"dependencies"`
		Exports      map[string]any    `json:"exports"`
	}
	if err := json.Unmarshal(packageJSON, &pkg); err != nil {
		t.Fatal(err)
	}
	if pkg.Type != "module" || len(pkg.Dependencies) != 0 || pkg.Exports["."] == nil {
		t.Fatalf("package.json: %+v", pkg)
	}
	// Every module of the client is shipped, or an import would fail in the package.
	shipped := map[string]bool{}
	for _, f := range pkg.Files {
		shipped[f] = true
	}
	matches, _ := fs.Glob(Assets(), "latch*.js")
	if len(matches) == 0 {
		t.Fatal("no latch*.js in the assets")
	}
	for _, m := range matches {
		if !shipped["assets/"+m] {
			t.Errorf("%s is not in package.json's files", m)
		}
	}
	if !shipped[strings.TrimPrefix(pkg.Types, "./")] {
		t.Errorf("the declarations %s are not in files", pkg.Types)
	}
}
