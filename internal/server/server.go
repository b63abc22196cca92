// Package server assembles the platform: channel registry, business
// services and gateway over an open store, served over HTTP until the
// context ends.
package server

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/gateway"
	"chsgate/internal/notifier"
	"chsgate/internal/pages"
	"chsgate/internal/service"
	"chsgate/internal/store"
)

// Config is the settings of Run. Store, MasterKey and Addr are required.
type Config struct {
	Store     store.Store
	MasterKey []byte
	// Addr is the public listener, host:port; port 0 picks a free one.
	Addr string
	// InternalAddr, when set, is a second listener for the platform's own
	// systems, the only one where anonymous channels are accepted.
	InternalAddr string
	// PublicURL is the base URL of the pages from outside, for link_url. It
	// is the public listener's address when empty.
	PublicURL string
	// Sandbox enables the simulator and the demo data.
	Sandbox bool
	// TLSCert and TLSKey are PEM files; without them the server speaks
	// plain HTTP, which the caller allows only when asked to.
	TLSCert, TLSKey string
	TimestampWindow time.Duration
	// DetailBodyLimit is the body limit of /gateway/CI00.02.00.08, whose
	// requests list up to a day's settlement records;
	// DefaultDetailBodyLimit when zero.
	DetailBodyLimit int64
	// MaxDetailRecords is the most records one detail reconciliation may
	// list; service.DefaultMaxDetailRecords when zero.
	MaxDetailRecords int
	// NotifyPollInterval is how often the outbox worker looks for due
	// callbacks and messages; the notifier's default when zero.
	NotifyPollInterval time.Duration
	Logger             *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Ready, when set, is called with the listening addresses once the
	// server accepts connections.
	Ready func(public, internal net.Addr)
}

// DefaultDetailBodyLimit is the default body limit of detail
// reconciliation: room for about 200,000 records of some 300 bytes each.
const DefaultDetailBodyLimit = 64 << 20

// HTTP server limits. Requests are small and handled at once, so short
// timeouts cost honest clients nothing and bound slow-loris connections.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	shutdownTimeout   = 20 * time.Second
)

// Run serves until ctx ends, then shuts down gracefully: it stops accepting,
// lets requests in flight finish for up to shutdownTimeout, and returns.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	registry, err := channel.NewRegistry(cfg.Store, cfg.MasterKey)
	if err != nil {
		return err
	}
	if err := checkNoDemoChannel(ctx, cfg, registry); err != nil {
		return err
	}
	if cfg.Sandbox {
		if err := SeedSandbox(ctx, cfg.Store, registry, cfg.Now(), cfg.Logger); err != nil {
			return fmt.Errorf("seed sandbox: %w", err)
		}
	}

	var tlsConfig *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	// Listen first: link_url needs the public address when no public URL
	// is configured.
	publicLn, err := listen(cfg.Addr, tlsConfig)
	if err != nil {
		return err
	}
	var internalLn net.Listener
	if cfg.InternalAddr != "" {
		if internalLn, err = listen(cfg.InternalAddr, tlsConfig); err != nil {
			publicLn.Close()
			return err
		}
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	publicURL := strings.TrimSuffix(cfg.PublicURL, "/")
	if publicURL == "" {
		publicURL = scheme + "://" + publicLn.Addr().String()
	}

	services := &service.Services{
		Store:            cfg.Store,
		Logger:           cfg.Logger,
		Now:              cfg.Now,
		PublicURL:        publicURL,
		Secret:           deriveKey(cfg.MasterKey, "service references"),
		MaxDetailRecords: cfg.MaxDetailRecords,
	}
	gw := gateway.New(gateway.Config{
		Store:           cfg.Store,
		Channels:        registry,
		Dispatcher:      services,
		Logger:          cfg.Logger,
		Now:             cfg.Now,
		TimestampWindow: cfg.TimestampWindow,
		FunctionBodyLimits: map[string]int64{
			api.FunReconDetail: cmp.Or(cfg.DetailBodyLimit, DefaultDetailBodyLimit),
		},
	})
	// Without a verifier, the pages use the simulator in sandbox mode and
	// fail closed otherwise.
	h5 := pages.New(pages.Config{
		Auth:    services,
		Pay:     services,
		Sandbox: cfg.Sandbox,
		CSRFKey: deriveKey(cfg.MasterKey, "page CSRF tokens"),
		Now:     cfg.Now,
		Logger:  cfg.Logger,
	}).Handler()
	handler := func(internal bool) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", gw.Handler(internal))
		mux.Handle("/h5/", h5)
		if cfg.Sandbox {
			mux.Handle("/sandbox/auth/", h5)
			mux.Handle("/sandbox/pay/", h5)
		}
		return mux
	}

	worker, err := notifier.New(notifier.Config{
		Store: cfg.Store, Channels: registry, Now: cfg.Now, Logger: cfg.Logger,
		PollInterval: cfg.NotifyPollInterval,
	})
	if err != nil {
		publicLn.Close()
		if internalLn != nil {
			internalLn.Close()
		}
		return err
	}
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		worker.Run(workerCtx)
	}()

	servers := []*http.Server{newHTTPServer(handler(false), cfg.Logger)}
	listeners := []net.Listener{publicLn}
	if internalLn != nil {
		servers = append(servers, newHTTPServer(handler(true), cfg.Logger))
		listeners = append(listeners, internalLn)
	}
	errs := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errs <- srv.Serve(listeners[i]) }()
	}
	attrs := []any{"addr", publicLn.Addr().String(), "url", publicURL, "sandbox", cfg.Sandbox}
	var internalAddr net.Addr
	if internalLn != nil {
		internalAddr = internalLn.Addr()
		attrs = append(attrs, "internal_addr", internalAddr.String())
	}
	cfg.Logger.Info("chsgate ready", attrs...)
	if cfg.Ready != nil {
		cfg.Ready(publicLn.Addr(), internalAddr)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	cfg.Logger.Info("chsgate shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			cfg.Logger.Error("shutdown incomplete", "error", err)
		}
	}
	// Deliveries cut off here come back after their lease, from the
	// outbox.
	stopWorker()
	<-workerDone
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	cfg.Logger.Info("chsgate stopped")
	return nil
}

func listen(addr string, tlsConfig *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	return ln, nil
}

func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// deriveKey derives a purpose-bound key from the master key, so no two
// uses share a key and none reveals the master key.
func deriveKey(master []byte, purpose string) []byte {
	mac := hmac.New(sha256.New, master)
	mac.Write([]byte("chsgate " + purpose))
	return mac.Sum(nil)
}

// checkNoDemoChannel refuses production mode while a channel still uses the
// published demo secrets, which anyone can read in the docs. A channel
// whose secrets do not open under the master key is logged and skipped,
// and serves no requests; when none opens, the key is wrong and the server
// does not start.
func checkNoDemoChannel(ctx context.Context, cfg Config, registry *channel.Registry) error {
	if err := registry.CheckMasterKey(ctx); err != nil {
		return err
	}
	rows, err := registry.List(ctx)
	if err != nil {
		return err
	}
	for _, row := range rows {
		ch, err := registry.Lookup(ctx, row.AppID)
		if err != nil {
			cfg.Logger.Error("channel unusable; it will get 50101 until fixed", "appid", row.AppID, "error", err)
			continue
		}
		if cfg.Sandbox {
			continue
		}
		if ch.Secrets.AppSecret == DemoAppSecret || ch.Secrets.BizKey == DemoBizKey ||
			strings.EqualFold(ch.SM2PublicKey, DemoSM2PublicKey) {
			return fmt.Errorf("channel %s uses the published demo secrets: rotate them (chsgate channel rotate) or run with --sandbox", row.AppID)
		}
	}
	return nil
}
