package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"chsgate/internal/channel"
	"chsgate/internal/server"
	"chsgate/internal/service"
	"chsgate/protocol"
)

var serveCommand = &command{name: "serve", summary: "run the gateway server", run: runServe}

func runServe(ctx context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "--db PATH|URL [--addr HOST:PORT] [flags]",
		"Runs the gateway: POST /gateway, /gateway/{funid}, /hsa/gateway and /oauth/token, and\n"+
			"GET /healthz. It logs one line when ready, with the address it listens on, and\n"+
			"stops cleanly on SIGTERM or Ctrl-C.")
	var (
		dsn, addr, internalAddr, publicURL        string
		tlsCert, tlsKey, masterKeyFile, logFormat string
		sandbox, insecureHTTP                     bool
		window                                    time.Duration
		detailBodyLimit                           int64
		maxDetailRecords                          int
	)
	fs.StringVar(&dsn, "db", "", "database: a SQLite file `PATH` or a postgres:// URL")
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "`HOST:PORT` of the public listener; port 0 picks a free port")
	fs.StringVar(&internalAddr, "internal-addr", "", "`HOST:PORT` of the listener for the platform's own systems, where anonymous channels are accepted; none when empty")
	fs.StringVar(&publicURL, "public-url", "", "`URL` the platform's pages are reached at, for link_url; the listener's address when empty")
	fs.BoolVar(&sandbox, "sandbox", false, "enable the simulator and the sandbox endpoints, and seed an empty database with the demo registry and channel")
	fs.StringVar(&tlsCert, "tls-cert", "", "TLS certificate `FILE` (PEM)")
	fs.StringVar(&tlsKey, "tls-key", "", "TLS private key `FILE` (PEM)")
	fs.BoolVar(&insecureHTTP, "insecure-http", false, "serve plain HTTP without TLS outside the sandbox")
	fs.DurationVar(&window, "timestamp-window", protocol.DefaultTimestampWindow, "how far a request's timestamp may be from the server clock, either way")
	fs.StringVar(&masterKeyFile, "master-key-file", "", "`FILE` holding the master key (64 hex digits) that seals channel secrets; CHSGATE_MASTER_KEY takes precedence")
	fs.StringVar(&logFormat, "log-format", "json", "log format: json or text")
	fs.Int64Var(&detailBodyLimit, "detail-body-limit", server.DefaultDetailBodyLimit, "largest request body in `BYTES` of detail reconciliation (CI00.02.00.08 at /gateway/CI00.02.00.08), at least 1048576; other requests keep 1 MiB")
	fs.IntVar(&maxDetailRecords, "max-detail-records", service.DefaultMaxDetailRecords, "most settlement records one detail reconciliation request may list; more get 20106")
	if err := fs.parse(s, args); err != nil {
		return err
	}

	if dsn == "" {
		return usagef("missing --db: give a SQLite file path or a postgres:// URL")
	}
	if (tlsCert == "") != (tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together: give both or neither")
	}
	if tlsCert == "" && !insecureHTTP && !sandbox {
		return usagef("no TLS certificate: give --tls-cert and --tls-key, or --insecure-http to serve plain HTTP")
	}
	if window <= 0 {
		return usagef("--timestamp-window must be positive, got %v", window)
	}
	// Replay records live as long as the window, and a captured request
	// stays usable for that long, so a window of days is a mistake.
	if window > maxTimestampWindow {
		return usagef("--timestamp-window must be at most %v, got %v", maxTimestampWindow, window)
	}
	if detailBodyLimit < 1<<20 {
		return usagef("--detail-body-limit must be at least 1048576 bytes, got %d", detailBodyLimit)
	}
	if maxDetailRecords < 1 {
		return usagef("--max-detail-records must be positive, got %d", maxDetailRecords)
	}
	if publicURL != "" {
		if err := checkPublicURL(publicURL); err != nil {
			return usagef("--public-url %q: %v", publicURL, err)
		}
	}
	if err := checkHostPort(addr); err != nil {
		return usagef("--addr %q: %v", addr, err)
	}
	if internalAddr != "" {
		if err := checkHostPort(internalAddr); err != nil {
			return usagef("--internal-addr %q: %v", internalAddr, err)
		}
	}
	logger, err := newLogger(s, logFormat)
	if err != nil {
		return err
	}

	if err := checkDSN(dsn); err != nil {
		return err
	}
	masterKey, err := resolveMasterKey(dsn, masterKeyFile, sandbox, logger)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()

	return server.Run(ctx, server.Config{
		Store:            st,
		MasterKey:        masterKey,
		Addr:             addr,
		InternalAddr:     internalAddr,
		PublicURL:        publicURL,
		Sandbox:          sandbox,
		TLSCert:          tlsCert,
		TLSKey:           tlsKey,
		TimestampWindow:  window,
		DetailBodyLimit:  detailBodyLimit,
		MaxDetailRecords: maxDetailRecords,
		Logger:           logger,
	})
}

// newLogger returns the server's structured logger, writing to stderr.
func newLogger(s *streams, format string) (*slog.Logger, error) {
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(s.stderr, nil)), nil
	case "text":
		return slog.New(slog.NewTextHandler(s.stderr, nil)), nil
	}
	return nil, usagef("--log-format must be json or text, got %q", format)
}

// masterKeyEnv names the environment variable holding the master key.
const masterKeyEnv = "CHSGATE_MASTER_KEY"

// resolveMasterKey finds the master key: the environment first, then the
// key file, then a key file beside a SQLite database, which sandbox mode
// creates on first use.
func resolveMasterKey(dsn, keyFile string, sandbox bool, logger *slog.Logger) ([]byte, error) {
	if text := os.Getenv(masterKeyEnv); text != "" {
		key, err := channel.ParseMasterKey(text)
		if err != nil {
			return nil, usagef("%s: %v", masterKeyEnv, err)
		}
		return key, nil
	}
	if keyFile != "" {
		data, err := readKeyFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("read --master-key-file: %w", err)
		}
		key, err := channel.ParseMasterKey(string(data))
		if err != nil {
			return nil, usagef("%s: %v", keyFile, err)
		}
		return key, nil
	}
	if !isPostgresURL(dsn) {
		path := dsn + ".masterkey"
		if !sandbox {
			if _, err := os.Stat(path); err != nil {
				return nil, usagef("no master key: set %s to 64 hex digits or give --master-key-file (only a sandbox on a SQLite file creates its own)", masterKeyEnv)
			}
		}
		key, created, err := channel.LoadOrCreateMasterKeyFile(path)
		if err != nil {
			return nil, err
		}
		if created {
			logger.Info("created a sandbox master key", "file", path)
		}
		return key, nil
	}
	return nil, usagef("no master key: set %s to 64 hex digits or give --master-key-file (only a sandbox on a SQLite file creates its own)", masterKeyEnv)
}

// checkHostPort checks a listen address: HOST:PORT with a port from 0 to
// 65535, where 0 picks a free port.
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("not HOST:PORT")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// maxTimestampWindow bounds --timestamp-window.
const maxTimestampWindow = time.Hour

// checkPublicURL accepts the base of the links handed to insured people:
// an absolute http or https URL with a host and nothing after its path,
// since every link_url starts with it.
func checkPublicURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an absolute http:// or https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("the URL has no host")
	case u.User != nil:
		return errors.New("the URL must not carry a user name or password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("the URL must not have a query or a fragment")
	}
	return nil
}
