// Command latch-example-api is a small API protected by Latch's DPoP-bound
// access tokens: GET /api/hello answers the verified caller as JSON. It
// answers CORS preflights for the one origin given with --allow-origin, so
// a web app on that origin can call it with latch.js.
//
//	latch-example-api --issuer http://localhost:8080 --addr 127.0.0.1:4000 \
//	    --public-url http://localhost:4000 --allow-origin http://localhost:3000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/latchid/latch/auth/resource"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "latch-example-api:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("latch-example-api", flag.ContinueOnError)
	issuer := fs.String("issuer", "http://localhost:8080", "Latch's issuer URL")
	addr := fs.String("addr", "127.0.0.1:4000", "listen address")
	publicURL := fs.String("public-url", "", "the API's public base URL (default http://<addr>)")
	audience := fs.String("audience", "", "required token audience: Latch's --audience (default the issuer)")
	origin := fs.String("allow-origin", "", "a web origin allowed to call the API (CORS)")
	bearer := fs.Bool("allow-bearer", false, "also accept access tokens that are not DPoP-bound")
	nonce := fs.Bool("dpop-nonce", false, "demand server nonces in DPoP proofs")
	introspectClient := fs.String("introspect-client", "", "an introspection client of Latch (latch clients add ID; its secret in LATCH_INTROSPECT_SECRET): revoked tokens are then refused within --introspect-max-stale")
	maxStale := fs.Duration("introspect-max-stale", 30*time.Second, "how long an introspection answer is trusted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *publicURL == "" {
		*publicURL = "http://" + *addr
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := resource.Config{
		Issuer: *issuer, PublicURL: *publicURL, Audience: *audience,
		AllowBearer: *bearer, DPoPNonce: *nonce, Logger: log,
	}
	if *introspectClient != "" {
		secret := os.Getenv("LATCH_INTROSPECT_SECRET")
		if secret == "" {
			return errors.New("--introspect-client needs the client's secret in LATCH_INTROSPECT_SECRET")
		}
		cfg.Introspection = &resource.Introspection{ClientID: *introspectClient, ClientSecret: secret, MaxStale: *maxStale}
	}
	g, err := resource.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := g.Refresh(ctx); err != nil {
		// Requests fetch the keys themselves once Latch is up.
		log.Warn("Latch is not reachable yet", "issuer", *issuer, "err", err)
	}
	cancel()

	srv := &http.Server{
		Addr:              *addr,
		Handler:           newHandler(g, strings.TrimRight(*origin, "/"), *publicURL),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving", "addr", *addr, "public_url", *publicURL, "issuer", *issuer)
	select {
	case err := <-errc:
		return err
	case <-stop:
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler is the API: /api/hello behind the guard, its RFC 9728
// metadata, and CORS for origin.
func newHandler(g *resource.Guard, origin, publicURL string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/hello", g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"hello": resource.PrincipalFrom(r.Context()).Subject, "principal": resource.PrincipalFrom(r.Context())})
	})))
	mux.Handle(metadataRoute(publicURL), g.MetadataHandler())
	return cors(origin, mux)
}

// metadataRoute is the path of the default resource_metadata URL.
func metadataRoute(publicURL string) string {
	rest := strings.TrimRight(publicURL, "/")
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	path := ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		path = rest[i:]
	}
	return resource.MetadataPath + path
}

// cors answers preflights from origin and marks its requests' answers as
// readable by it, letting the browser send Authorization and DPoP and
// read DPoP-Nonce and WWW-Authenticate (which latch.js needs to retry
// with a nonce or refresh).
func cors(origin string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		if origin == "" || r.Header.Get("Origin") != origin {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "DPoP-Nonce, WWW-Authenticate")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, DPoP, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
