package frontend

import (
	"bytes"
	"slices"
	"testing"
)

func TestTranslateHTMLChangesOnlyTexts(t *testing.T) {
	src := []byte(`<html lang="en"><head><title>Latch – sign in</title><script type="module" src="/app.js"></script></head>` +
		`<body><h1>Latch</h1><p><a href="/">Sign in</a> to manage your account.</p>` +
		`<img alt="QR code" src="x.png"><p>Key: <code>Sign in</code></p><label>Username <span class="hint">(optional)</span></label>` +
		`<h2>Allow {{.Client}}?</h2><p>{{.Message}}</p></body></html>`)
	cat := Catalogue{"Sign in": "Anmelden", "to manage your account.": ", um Ihr Konto zu verwalten.", "QR code": "QR-Code",
		"Key:": "Schlüssel:", "Username": "Benutzername", "Allow {{.Client}}?": "{{.Client}} erlauben?", "Latch – sign in": "Latch – Anmelden"}
	got := string(TranslateHTML(src, cat, "Acme"))
	for _, want := range []string{
		"<title>Acme – Anmelden</title>", "<h1>Acme</h1>", `<a href="/">Anmelden</a>, um Ihr Konto zu verwalten.`,
		`alt="QR-Code"`, "Schlüssel: <code>Sign in</code>", "<label>Benutzername <span", "<h2>{{.Client}} erlauben?</h2>", "<p>{{.Message}}</p>",
		`<script type="module" src="/app.js"></script>`,
	} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("lacks %q in\n%s", want, got)
		}
	}
	texts := Texts(src)
	for _, want := range []string{"Sign in", "to manage your account.", "QR code", "Username", "(optional)", "Allow {{.Client}}?"} {
		if !slices.Contains(texts, want) {
			t.Errorf("Texts lacks %q: %q", want, texts)
		}
	}
	if slices.Contains(texts, "{{.Message}}") {
		t.Error("a text of template actions alone is not translatable")
	}
}

func TestEveryCatalogueParses(t *testing.T) {
	langs := Languages()
	if langs[0] != "en" || !slices.Contains(langs, "de") {
		t.Fatalf("languages %v", langs)
	}
	for _, lang := range langs {
		if c, err := Messages(lang); err != nil || len(c) == 0 {
			t.Errorf("%s: %d texts, %v", lang, len(c), err)
		}
	}
	if _, err := Messages("../embed"); err == nil {
		t.Error("a path is not a language")
	}
}

// FuzzTranslateHTML: any input is rewritten without a panic, and its tags
// and template actions come out as they went in.
func FuzzTranslateHTML(f *testing.F) {
	f.Add([]byte(`<p title="a">Sign in <b>now</b></p>`))
	f.Add([]byte(`<script>if (a < b) x()</script>text<`))
	f.Add([]byte(`{{if .X}}<main{{if .R}} data-r="{{.R}}"{{end}}>{{end}} Hello &amp; bye`))
	f.Fuzz(func(t *testing.T, src []byte) {
		out := TranslateHTML(src, Catalogue{"Sign in": "Anmelden", "now": "jetzt"}, "Brand")
		if bytes.Count(out, []byte("<")) != bytes.Count(src, []byte("<")) {
			t.Fatalf("tags changed: %q -> %q", src, out)
		}
		if bytes.Count(out, []byte("{{")) < bytes.Count(src, []byte("{{")) {
			t.Fatalf("template actions lost: %q -> %q", src, out)
		}
		_ = Texts(src)
	})
}
