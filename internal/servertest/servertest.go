// Package servertest gives the integration tests of the server, the
// gateway, the pages and the command line one harness. It starts a real
// server.Run on a free loopback port that stops with the test, and prepares
// a database with test channels and synthetic persons. It also has a
// settable clock, a log buffer that the server's goroutines write while
// the test reads it, and helpers that seal fjs requests, post them and
// decode the responses. Only tests import it.
package servertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"chsgate/internal/server"
)

const (
	// readyTimeout bounds a server's start, which in sandbox mode includes
	// seeding the synthetic registry.
	readyTimeout = 20 * time.Second
	// stopTimeout bounds a graceful shutdown, which waits for requests in
	// flight.
	stopTimeout = 30 * time.Second
)

// Server is a server.Run started by Run or Start.
type Server struct {
	// URL is the base URL of the public listener, such as
	// http://127.0.0.1:41234, or https:// when cfg.TLSCert is set.
	URL string
	// InternalURL is the base URL of the internal listener, or "" when
	// cfg.InternalAddr was empty.
	InternalURL string
	// Addr is the public listener's address.
	Addr net.Addr
	// Logs contains the server's JSON log lines. It is nil when the caller
	// set cfg.Logger.
	Logs *LogBuffer

	stop func() error
}

// Run starts server.Run with cfg on a free port of 127.0.0.1 and waits
// until it is ready. It replaces cfg.Addr and cfg.Ready, and when
// cfg.Logger is nil it logs to Server.Logs. When Run ends before the server
// is ready, it returns Run's error, so tests can check start-up failures.
//
// The server stops at the end of the test, which fails when Run returns an
// error then.
func Run(t *testing.T, cfg server.Config) (*Server, error) {
	t.Helper()
	s := &Server{}
	cfg.Addr = "127.0.0.1:0"
	if cfg.Logger == nil {
		s.Logs = &LogBuffer{}
		cfg.Logger = slog.New(slog.NewJSONHandler(s.Logs, nil))
	}
	type addresses struct{ public, internal net.Addr }
	ready := make(chan addresses, 1)
	cfg.Ready = func(public, internal net.Addr) { ready <- addresses{public, internal} }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg) }()

	select {
	case a := <-ready:
		scheme := "http"
		if cfg.TLSCert != "" {
			scheme = "https"
		}
		s.Addr = a.public
		s.URL = scheme + "://" + a.public.String()
		if a.internal != nil {
			s.InternalURL = scheme + "://" + a.internal.String()
		}
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("server.Run returned nil before it was ready")
		}
		return nil, err
	case <-time.After(readyTimeout):
		cancel()
		t.Fatalf("server neither ready nor stopped after %v", readyTimeout)
	}

	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(stopTimeout):
				stopErr = fmt.Errorf("server did not stop within %v", stopTimeout)
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})
	return s, nil
}

// Start is Run for a server that must start: it fails the test when Run
// returns before the server is ready.
func Start(t *testing.T, cfg server.Config) *Server {
	t.Helper()
	s, err := Run(t, cfg)
	if err != nil {
		t.Fatalf("server stopped before it was ready: %v", err)
	}
	return s
}

// Stop cancels Run's context and returns Run's error. Later calls return
// the same error without waiting again. It returns an error of its own when
// Run has not returned within 30 s.
func (s *Server) Stop() error {
	return s.stop()
}
