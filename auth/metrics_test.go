package auth

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMetricsSurviveConcurrentTrafficOnARealListener drives thousands of
// mixed requests from concurrent keep-alive clients through a real listener,
// where fasthttp reuses request buffers, and then scrapes /metrics. A label
// kept as a zero-copy view of a request buffer changes under the registry
// ("POS", "GETT"), duplicates a series and fails every later scrape (and is a
// data race under -race).
func TestMetricsSurviveConcurrentTrafficOnARealListener(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Addr = "127.0.0.1:0" })
	if err := e.srv.Open(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + e.srv.Addr()
	type call struct{ method, path, body string }
	calls := []call{
		{"GET", "/healthz", ""},
		{"POST", "/token", "grant_type=refresh_token&refresh_token=x"},
		{"DELETE", "/me", ""},
		{"GET", "/.well-known/jwks.json", ""},
		{"PATCH", "/me/credentials/abc", `{"name":"x"}`},
		{"PUT", "/nowhere/at/all", ""},
		{"OPTIONS", "/token", ""},
		{"POST", "/revoke", "token=abc"},
		{"HEAD", "/healthz", ""},
		{"GET", "/me/sessions/some-session-id", ""},
	}
	const clients, perClient = 8, 400
	var wg sync.WaitGroup
	errs := make(chan error, clients+1)
	// Scrapes during the traffic read the labels while connections are
	// reading new requests into their buffers: the race the detector sees.
	stop := make(chan struct{})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := http.Get(base + "/metrics")
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				errs <- fmt.Errorf("scrape during traffic: %d %.300s", res.StatusCode, body)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer hc.CloseIdleConnections()
			for j := range perClient {
				c := calls[(i+j)%len(calls)]
				req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
				if err != nil {
					errs <- err
					return
				}
				if c.body != "" {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				res, err := hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-scraped
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("scrape: %d %s", res.StatusCode, body)
	}
	methods := map[string]bool{}
	for _, m := range regexp.MustCompile(`latch_http_request_duration_seconds_count\{[^}]*method="([^"]*)"`).FindAllStringSubmatch(string(body), -1) {
		methods[m[1]] = true
	}
	for m := range methods {
		switch m {
		case "GET", "POST", "DELETE", "PATCH", "PUT", "OPTIONS", "HEAD":
		default:
			t.Errorf("method label %q is not a request method", m)
		}
	}
	if !methods["GET"] || !methods["POST"] || !methods["DELETE"] {
		t.Fatalf("method labels %v miss some of the methods sent", methods)
	}
}
