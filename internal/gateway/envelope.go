package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"chsgate/internal/channel"
	"chsgate/internal/store"
	"chsgate/internal/textcut"
	"chsgate/protocol"
)

// exchange is one request through the gateway, gathered for its log line.
type exchange struct {
	id      string
	start   time.Time
	profile protocol.Profile
	appID   string
	funID   string
	code    int
	err     error // the cause behind code, for the log only
}

// serveEnvelope handles POST /gateway, /gateway/{funid} and /hsa/gateway.
// pathFunID is the function id of the alias path, or "".
func (g *Gateway) serveEnvelope(w http.ResponseWriter, r *http.Request, p protocol.Profile, pathFunID string, internal bool) {
	x := &exchange{id: newRequestID(), start: g.cfg.Now(), profile: p, funID: pathFunID}
	w.Header().Set("X-Request-Id", x.id)
	body, err := g.handleRecovering(r.Context(), x, r, p, pathFunID, internal)
	if err != nil {
		body = g.fault(x, p, err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// The result lies in the body's code: the spec sends every envelope
	// response with HTTP 200.
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil && x.err == nil {
		x.err = fmt.Errorf("write response: %w", err)
	}
	g.logExchange(r.Context(), x)
}

// handleRecovering runs handle and turns a panic into CodeInternal, so a
// bug costs one request a 50101 response and a log line with its stack instead
// of dropping the connection.
func (g *Gateway) handleRecovering(ctx context.Context, x *exchange, r *http.Request, p protocol.Profile, pathFunID string, internal bool) (body []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			g.cfg.Logger.ErrorContext(ctx, "panic while handling a request", "request_id", x.id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			body, err = nil, protocol.Wrap(protocol.CodeInternal, fmt.Errorf("panic: %v", v))
		}
	}()
	return g.handle(ctx, x, r, p, pathFunID, internal)
}

// handle runs the protocol checks in the spec's order and returns the
// sealed response, or an error for a protocol fault (or a failure to seal).
func (g *Gateway) handle(ctx context.Context, x *exchange, r *http.Request, p protocol.Profile, pathFunID string, internal bool) ([]byte, error) {
	limit := g.cfg.BodyLimit
	if pathFunID != "" {
		if l, ok := g.cfg.FunctionBodyLimits[pathFunID]; ok {
			limit = l
		}
	}
	body, err := readBody(r, limit)
	if err != nil {
		return nil, err
	}

	env, err := p.DecodeRequest(body)
	if err != nil {
		return nil, err
	}
	x.appID, x.funID = env.AppID, env.FunID
	if env.FunID == "" {
		return nil, protocol.NewError(protocol.CodeMissingField, protocol.FieldHSATransType)
	}

	ch, err := g.cfg.Channels.Lookup(ctx, env.AppID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.NewError(protocol.CodeUnknownChannel)
	}
	if err != nil {
		return nil, protocol.Wrap(protocol.CodeInternal, err)
	}
	if ch.Disabled {
		return nil, protocol.Wrap(protocol.CodeUnknownChannel, errors.New("channel is disabled"))
	}
	if ch.Profile != p {
		return nil, protocol.Wrap(protocol.CodeUnknownChannel, fmt.Errorf("channel uses the %s profile, request came in as %s", ch.Profile, p))
	}

	if !g.cfg.Dispatcher.Has(env.FunID) {
		return nil, protocol.Wrap(protocol.CodeUnknownFunction, fmt.Errorf("function %q", env.FunID))
	}
	if pathFunID != "" && pathFunID != env.FunID {
		return nil, protocol.Wrap(protocol.CodeUnknownFunction, fmt.Errorf("path names %s, body names %s", pathFunID, env.FunID))
	}
	if !ch.Allows(env.FunID) {
		return nil, protocol.NewError(protocol.CodeFunctionDenied)
	}

	if err := g.authenticate(ctx, ch, env, internal); err != nil {
		return nil, err
	}
	now := g.cfg.Now()
	if err := p.CheckTimestamp(env.Timestamp, now, g.cfg.TimestampWindow); err != nil {
		return nil, err
	}
	opened, err := env.OpenWithDigest(ch.Keys)
	if err != nil {
		return nil, err
	}
	// The record must outlive the window, which includes its edge: a
	// request stamped exactly one window ago is still accepted, so its
	// replay must still be caught.
	sent, _ := p.ParseTimestamp(env.Timestamp)
	expires := sent.Add(g.cfg.TimestampWindow + time.Millisecond)
	if err := g.cfg.Store.RememberRequest(ctx, ch.AppID, opened.SignDigest[:], now, expires); err != nil {
		if errors.Is(err, store.ErrReplay) {
			return nil, protocol.NewError(protocol.CodeReplay)
		}
		return nil, protocol.Wrap(protocol.CodeInternal, err)
	}

	// From here on the channel is known and authenticated, so every response,
	// business errors included, is signed and encrypted with its keys.
	data, err := g.cfg.Dispatcher.Dispatch(ctx, ch, env.FunID, opened.Payload)
	response := &protocol.Response{Code: protocol.CodeOK, Timestamp: p.FormatTimestamp(g.cfg.Now())}
	var pe *protocol.Error
	switch {
	case err == nil:
		if response.Payload, err = marshalData(data); err != nil {
			x.err = err
			response.Code = protocol.CodeInternal
		}
	case errors.As(err, &pe) && !protocol.IsProtocolCode(pe.Code):
		response.Code, response.Message, x.err = pe.Code, pe.Message, pe.Err
	default:
		response.Code, x.err = protocol.CodeInternal, err
	}
	x.code = response.Code
	sealed, err := p.SealResponse(ch.Keys, response)
	if err != nil {
		return nil, protocol.Wrap(protocol.CodeInternal, fmt.Errorf("seal response: %w", err))
	}
	return sealed, nil
}

// readBody reads at most limit bytes. A body declared or found larger is
// rejected with CodeTooLarge before the rest is read.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, protocol.Wrap(protocol.CodeTooLarge, fmt.Errorf("%w: Content-Length %d, limit %d", errBodyTooLarge, r.ContentLength, limit))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, protocol.Wrap(protocol.CodeMalformed, fmt.Errorf("read body: %w", err))
	}
	if int64(len(body)) > limit {
		return nil, protocol.Wrap(protocol.CodeTooLarge, fmt.Errorf("%w: limit %d", errBodyTooLarge, limit))
	}
	return body, nil
}

// authenticate applies the channel's security mode.
func (g *Gateway) authenticate(ctx context.Context, ch *channel.Channel, env *protocol.Envelope, internal bool) error {
	switch ch.SecurityMode {
	case store.ModeAnonymous:
		if !internal {
			return protocol.Wrap(protocol.CodeAuthFailed, errors.New("anonymous channel called from outside the internal listener"))
		}
		return nil
	case store.ModeToken:
		if env.Token == "" {
			return protocol.Wrap(protocol.CodeAuthFailed, errors.New("token mode channel sent no chs_fjs_token"))
		}
		hash := sha256.Sum256([]byte(env.Token))
		t, err := g.cfg.Store.Token(ctx, hash[:])
		if errors.Is(err, store.ErrNotFound) {
			return protocol.Wrap(protocol.CodeAuthFailed, errors.New("unknown token"))
		}
		if err != nil {
			return protocol.Wrap(protocol.CodeInternal, err)
		}
		if t.AppID != ch.AppID {
			return protocol.Wrap(protocol.CodeAuthFailed, errors.New("token belongs to another channel"))
		}
		if !g.cfg.Now().Before(t.ExpiresAt) {
			return protocol.Wrap(protocol.CodeAuthFailed, errors.New("token expired"))
		}
		return nil
	default: // store.ModeKey
		// The hsa profile carries no appsecret: its signature, keyed by the
		// appSecret, is the proof.
		if env.Profile == protocol.ProfileHSA {
			return nil
		}
		if subtle.ConstantTimeCompare([]byte(env.AppSecret), []byte(ch.Secrets.AppSecret)) != 1 {
			return protocol.Wrap(protocol.CodeAuthFailed, errors.New("wrong or missing chs_fjs_appsecret"))
		}
		return nil
	}
}

// fault builds the unsigned response to a protocol fault. Errors without a
// protocol code become CodeInternal, whose details stay in the log.
func (g *Gateway) fault(x *exchange, p protocol.Profile, err error) []byte {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		pe = protocol.Wrap(protocol.CodeInternal, err)
	}
	x.code = pe.Code
	x.err = err
	return p.EncodeFault(pe.Code, pe.Message, p.FormatTimestamp(g.cfg.Now()))
}

func marshalData(data any) ([]byte, error) {
	if data == nil {
		return nil, nil
	}
	if raw, ok := data.(json.RawMessage); ok {
		return raw, nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("marshal response data: %w", err)
	}
	return b, nil
}

// logExchange writes the request's one log line: ids, function, result
// code and duration. Payloads are never logged, so no personal data or
// secret reaches the log.
func (g *Gateway) logExchange(ctx context.Context, x *exchange) {
	level := slog.LevelInfo
	switch {
	case x.code == protocol.CodeInternal:
		level = slog.LevelError
	case x.code != protocol.CodeOK:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("request_id", x.id),
		slog.String("profile", x.profile.String()),
		slog.String("appid", clip(x.appID, maxLoggedID)),
		slog.String("funid", clip(x.funID, maxLoggedID)),
		slog.Int("code", x.code),
		slog.Duration("duration", g.cfg.Now().Sub(x.start)),
	}
	if x.err != nil {
		attrs = append(attrs, slog.String("error", clip(x.err.Error(), maxLoggedError)))
	}
	g.cfg.Logger.LogAttrs(ctx, level, "request", attrs...)
}

// Bounds of the untrusted text in a log line: anyone can send a request,
// so a megabyte appid must not become a megabyte of log.
const (
	maxLoggedID    = 80
	maxLoggedError = 600
)

// clip returns s cut to at most max bytes at a character boundary, with
// its full length noted when it was cut.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", textcut.Prefix(s, max), len(s))
}
