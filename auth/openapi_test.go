package auth

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/frontend"
)

// openapiPath is the OpenAPI 3.1 document kept beside docs/API.md.
const openapiPath = "../docs/openapi.json"

// openapiMethods are the operation fields of an OpenAPI Path Item.
var openapiMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

type openapiDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

type openapiOperation struct {
	OperationID string                     `json:"operationId"`
	Parameters  []openapiParameter         `json:"parameters"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

type openapiParameter struct {
	Name string `json:"name"`
	In   string `json:"in"`
}

func loadOpenAPI(t *testing.T) (openapiDoc, []byte) {
	t.Helper()
	raw, err := os.ReadFile(openapiPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc openapiDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s is not JSON: %v", openapiPath, err)
	}
	return doc, raw
}

// documentedRoutes lists the document's operations as "METHOD /path".
func documentedRoutes(doc openapiDoc) []string {
	var out []string
	for path, item := range doc.Paths {
		for _, m := range openapiMethods {
			if _, ok := item[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

var (
	openapiParam = regexp.MustCompile(`\{([^}/]+)\}`)
	fiberParam   = regexp.MustCompile(`:([A-Za-z0-9_]+)`)
)

// registeredRoutes lists the routes app really serves as "METHOD /path",
// parameters spelled as in OpenAPI ("{id}" for Fiber's ":id"), leaving out middleware and the HEAD that Fiber adds to every GET (the
// document says that every GET also answers HEAD).
func registeredRoutes(app *fiber.App) []string {
	gets := map[string]bool{}
	routes := app.GetRoutes(true)
	for _, r := range routes {
		if r.Method == fiber.MethodGet {
			gets[r.Path] = true
		}
	}
	var out []string
	for _, r := range routes {
		if r.Method == fiber.MethodHead && gets[r.Path] {
			continue
		}
		// The client's versioned path is described once, for any version.
		path := strings.Replace(r.Path, "/latch/v"+frontend.Version()+"/", "/latch/v{version}/", 1)
		route := r.Method + " " + fiberParam.ReplaceAllString(path, "{$1}")
		if !slices.Contains(out, route) {
			out = append(out, route)
		}
	}
	slices.Sort(out)
	return out
}

// routeDiff returns what the document lacks and what it names in vain, as
// a message listing each, or "" when the two agree.
func routeDiff(registered, documented []string) string {
	var missing, extra []string
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			missing = append(missing, r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			extra = append(extra, d)
		}
	}
	var b strings.Builder
	if len(missing) > 0 {
		fmt.Fprintf(&b, "routes the app registers that %s does not describe (add them under \"paths\"):\n", openapiPath)
		for _, r := range missing {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, "operations in %s that the app does not register (remove them, or register the route):\n", openapiPath)
		for _, r := range extra {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	}
	return b.String()
}

// everyOptionalRoute configures the documents served only when their flags
// are set, so that every route the app can have is registered.
func everyOptionalRoute(t *testing.T) func(*Config) {
	app, err := ParseAndroidApp("com.example.app:" + testFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) {
		c.RelatedOrigins, c.AndroidApps, c.AppleApps = []string{"https://shop.example"}, []AndroidApp{app}, []string{"ABCDE12345.com.example.app"}
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	e := newEnv(t, everyOptionalRoute(t))
	if msg := routeDiff(registeredRoutes(e.srv.app), documentedRoutes(doc)); msg != "" {
		t.Fatal(msg)
	}
}

// The check sees a route added to the app and an operation the app lacks,
// and names each.
func TestOpenAPIRouteCheckNamesTheDifference(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	e := newEnv(t, everyOptionalRoute(t))
	e.srv.app.Post("/undocumented/:thing", func(c *fiber.Ctx) error { return nil })
	documented := append(documentedRoutes(doc), "DELETE /nowhere")
	want := fmt.Sprintf("routes the app registers that %s does not describe (add them under \"paths\"):\n  POST /undocumented/{thing}\n"+
		"operations in %s that the app does not register (remove them, or register the route):\n  DELETE /nowhere\n", openapiPath, openapiPath)
	if got := routeDiff(registeredRoutes(e.srv.app), documented); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// The document is OpenAPI 3.1 and holds together: unique operation ids,
// every path parameter declared, a response for each operation, every
// $ref resolving, and the error schema of docs/API.md.
func TestOpenAPIDocumentIsWellFormed(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	var whole map[string]any
	if err := json.Unmarshal(raw, &whole); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for path, item := range doc.Paths {
		for m, rawOp := range item {
			if !slices.Contains(openapiMethods, m) {
				continue
			}
			var op openapiOperation
			if err := json.Unmarshal(rawOp, &op); err != nil {
				t.Fatalf("%s %s: %v", m, path, err)
			}
			where := strings.ToUpper(m) + " " + path
			if op.OperationID == "" || ids[op.OperationID] != "" {
				t.Fatalf("%s: operationId %q missing or also used by %s", where, op.OperationID, ids[op.OperationID])
			}
			ids[op.OperationID] = where
			if len(op.Responses) == 0 {
				t.Fatalf("%s has no responses", where)
			}
			for _, p := range openapiParam.FindAllStringSubmatch(path, -1) {
				if !slices.Contains(op.Parameters, openapiParameter{Name: p[1], In: "path"}) {
					t.Fatalf("%s: path parameter %s is not declared", where, p[1])
				}
			}
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if resolveRef(whole, ref) == nil {
					t.Fatalf("$ref %s does not resolve", ref)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(whole)
	errSchema, _ := resolveRef(whole, "#/components/schemas/Error").(map[string]any)
	if req, _ := errSchema["required"].([]any); !slices.Contains(req, any("error")) || !slices.Contains(req, any("error_description")) {
		t.Fatalf("the Error schema must require error and error_description: %v", errSchema)
	}
}

// resolveRef follows a local JSON pointer ("#/a/b"), or returns nil.
func resolveRef(doc map[string]any, ref string) any {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]; !ok {
			return nil
		}
	}
	return cur
}
