// Package server assembles the platform: channel registry, business
// services and gateway over an open store, served over HTTP until the
// context ends.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"chsgate/internal/channel"
	"chsgate/internal/gateway"
	"chsgate/internal/service"
	"chsgate/internal/store"
)

// Config is what Run needs. Store, MasterKey and Addr are required.
type Config struct {
	Store     store.Store
	MasterKey []byte
	// Addr is the public listener, host:port; port 0 picks a free one.
	Addr string
	// InternalAddr, when set, is a second listener for the platform's own
	// systems, the only one where anonymous channels are accepted.
	InternalAddr string
	// Sandbox enables the simulator and the demo data.
	Sandbox bool
	// TLSCert and TLSKey are PEM files; without them the server speaks
	// plain HTTP, which the caller allows only when asked to.
	TLSCert, TLSKey string
	TimestampWindow time.Duration
	Logger          *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Ready, when set, is called with the listening addresses once the
	// server accepts connections.
	Ready func(public, internal net.Addr)
}

// HTTP server limits. Requests are small and answered at once, so short
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

	services := &service.Services{Store: cfg.Store, Logger: cfg.Logger, Now: cfg.Now}
	gw := gateway.New(gateway.Config{
		Store:           cfg.Store,
		Channels:        registry,
		Dispatcher:      services,
		Logger:          cfg.Logger,
		Now:             cfg.Now,
		TimestampWindow: cfg.TimestampWindow,
	})

	var tlsConfig *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	type listener struct {
		server *http.Server
		ln     net.Listener
	}
	var listeners []listener
	listen := func(addr string, internal bool) (net.Addr, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		if tlsConfig != nil {
			ln = tls.NewListener(ln, tlsConfig)
		}
		srv := &http.Server{
			Handler:           gw.Handler(internal),
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		}
		listeners = append(listeners, listener{srv, ln})
		return ln.Addr(), nil
	}
	closeAll := func() {
		for _, l := range listeners {
			l.ln.Close()
		}
	}
	public, err := listen(cfg.Addr, false)
	if err != nil {
		return err
	}
	var internal net.Addr
	if cfg.InternalAddr != "" {
		if internal, err = listen(cfg.InternalAddr, true); err != nil {
			closeAll()
			return err
		}
	}

	errs := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { errs <- l.server.Serve(l.ln) }()
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	attrs := []any{"addr", public.String(), "url", scheme + "://" + public.String(), "sandbox", cfg.Sandbox}
	if internal != nil {
		attrs = append(attrs, "internal_addr", internal.String())
	}
	cfg.Logger.Info("chsgate ready", attrs...)
	if cfg.Ready != nil {
		cfg.Ready(public, internal)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	cfg.Logger.Info("chsgate shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	for _, l := range listeners {
		if err := l.server.Shutdown(shutdownCtx); err != nil {
			cfg.Logger.Error("shutdown incomplete", "error", err)
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	cfg.Logger.Info("chsgate stopped")
	return nil
}

// checkNoDemoChannel refuses production mode while a channel still uses the
// published demo secrets, which anyone can read in the docs.
func checkNoDemoChannel(ctx context.Context, cfg Config, registry *channel.Registry) error {
	if cfg.Sandbox {
		return nil
	}
	rows, err := registry.List(ctx)
	if err != nil {
		return err
	}
	for _, row := range rows {
		ch, err := registry.Lookup(ctx, row.AppID)
		if err != nil {
			return err
		}
		if ch.Secrets.AppSecret == DemoAppSecret || ch.Secrets.BizKey == DemoBizKey ||
			strings.EqualFold(ch.SM2PublicKey, DemoSM2PublicKey) {
			return fmt.Errorf("channel %s uses the published demo secrets: rotate them (chsgate channel rotate) or run with --sandbox", row.AppID)
		}
	}
	return nil
}
