package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRefreshWritesOnlyAValidList(t *testing.T) {
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }))
	defer srv.Close()
	dir := t.TempDir()
	old := []byte(`{"old": true}`)
	for _, f := range []string{"aaguid.json", "aaguid.date"} {
		if err := os.WriteFile(filepath.Join(dir, f), old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Date(2026, 12, 2, 21, 0, 0, 0, time.UTC)
	for _, bad := range []string{`{}`, `not json`, `{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"name": ""}}`} {
		body = bad
		if _, err := refresh(context.Background(), srv.Client(), srv.URL, dir, day); err == nil {
			t.Errorf("%s: accepted", bad)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "aaguid.json")); string(got) != string(old) {
			t.Fatalf("%s: the old list was replaced by %s", bad, got)
		}
	}
	body = `{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"name": "Google Password Manager"}}`
	n, err := refresh(context.Background(), srv.Client(), srv.URL, dir, day)
	if err != nil || n != 1 {
		t.Fatalf("refresh: %d %v", n, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "aaguid.json")); string(got) != body {
		t.Errorf("aaguid.json = %s", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "aaguid.date")); string(got) != "2026-12-02\n" {
		t.Errorf("aaguid.date = %q", got)
	}
}
