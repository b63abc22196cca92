// Package gateway is the platform's HTTP edge. It reads a request within the
// body limit, decodes its envelope, finds the channel, authenticates it,
// checks the timestamp, opens the envelope, rejects replays, dispatches by
// function id, and seals the response. The business services behind it
// have no HTTP code, and the gateway has no SQL.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"chsgate/internal/channel"
	"chsgate/internal/store"
	"chsgate/protocol"
)

// DefaultBodyLimit is the largest request body /gateway reads.
const DefaultBodyLimit = 1 << 20

// Dispatcher runs business functions for authenticated, opened requests.
type Dispatcher interface {
	// Has reports whether funid is a function the platform offers.
	Has(funid string) bool
	// Dispatch runs funid for the channel with the request's business
	// payload (one JSON object). It returns the response data, which the
	// gateway marshals, or an error: a *protocol.Error with a business code
	// gets a response with that code, anything else CodeInternal.
	Dispatch(ctx context.Context, ch *channel.Channel, funid string, payload []byte) (any, error)
}

// Config assembles a Gateway.
type Config struct {
	Store      store.Store
	Channels   *channel.Registry
	Dispatcher Dispatcher
	Logger     *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// TimestampWindow is how far a request's timestamp may be from Now;
	// protocol.DefaultTimestampWindow when zero.
	TimestampWindow time.Duration
	// BodyLimit is the limit of /gateway and /hsa/gateway;
	// DefaultBodyLimit when zero.
	BodyLimit int64
	// FunctionBodyLimits are the limits of /gateway/{funid}, for functions
	// that need more than BodyLimit; others get BodyLimit there too.
	FunctionBodyLimits map[string]int64
	// TokenTTL is the lifetime of access tokens; 7200 s when zero.
	TokenTTL time.Duration
}

// Gateway serves the platform's API.
type Gateway struct {
	cfg Config
}

// New returns a gateway for cfg, filling in defaults.
func New(cfg Config) *Gateway {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TimestampWindow == 0 {
		cfg.TimestampWindow = protocol.DefaultTimestampWindow
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 7200 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Gateway{cfg: cfg}
}

// Handler returns the gateway's routes. internal marks the listener for the
// platform's own systems, the only place anonymous channels are accepted.
func (g *Gateway) Handler(internal bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gateway", func(w http.ResponseWriter, r *http.Request) {
		g.serveEnvelope(w, r, protocol.ProfileFJS, "", internal)
	})
	mux.HandleFunc("POST /gateway/{funid}", func(w http.ResponseWriter, r *http.Request) {
		g.serveEnvelope(w, r, protocol.ProfileFJS, r.PathValue("funid"), internal)
	})
	mux.HandleFunc("POST /hsa/gateway", func(w http.ResponseWriter, r *http.Request) {
		g.serveEnvelope(w, r, protocol.ProfileHSA, "", internal)
	})
	mux.HandleFunc("POST /oauth/token", g.serveToken)
	mux.HandleFunc("GET /healthz", g.serveHealth)
	return mux
}

func (g *Gateway) serveHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := g.cfg.Store.Ping(ctx); err != nil {
		g.cfg.Logger.Error("health check failed", "error", err)
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// newRequestID returns a random id that ties a response to its log line.
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errBodyTooLarge marks a body over the limit.
var errBodyTooLarge = errors.New("request body over the limit")
