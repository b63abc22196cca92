// Package service holds the platform's business functions, one file per
// function id. A function receives the calling channel and the request's
// business fields, and returns the response data or a *protocol.Error with
// a business code. It has no HTTP and no envelope code.
package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/store"
	"chsgate/protocol"
)

// Services runs the business functions against the store.
type Services struct {
	Store  store.Store
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PublicURL is the base URL of the platform's pages, without a
	// trailing slash. Every link_url starts with it.
	PublicURL string
	// Secret keys the opaque references the services hand out, such as
	// the family network reference of 20023.
	Secret []byte
	// MaxDetailRecords is the maximum number of records in a CI00.02.00.08
	// request, above which it gets 20106; DefaultMaxDetailRecords when
	// zero.
	MaxDetailRecords int
}

// handler runs one function on a decoded payload.
type handler func(s *Services, ctx context.Context, ch *channel.Channel, payload []byte) (any, error)

// handlers maps each function id the platform offers to its handler.
var handlers = map[string]handler{
	api.FunAuthPage:     typed((*Services).AuthPage),
	api.FunUserInfo:     typed((*Services).UserInfo),
	api.FunInsured:      typed((*Services).Insured),
	api.FunPayPage:      typed((*Services).PayPage),
	api.FunSettleResult: typed((*Services).SettleResult),
	api.FunRefund:       typed((*Services).Refund),
	api.FunQuery:        typed((*Services).Query),
	api.FunReconDetail:  (*Services).handleReconDetail,
	api.FunReconTotal:   typed((*Services).ReconTotal),
}

// typed adapts a function on a typed request to a handler: it decodes the
// payload into the request type first.
func typed[Req any, Resp any](f func(*Services, context.Context, *channel.Channel, *Req) (Resp, error)) handler {
	return func(s *Services, ctx context.Context, ch *channel.Channel, payload []byte) (any, error) {
		req := new(Req)
		if err := decodePayload(payload, req); err != nil {
			return nil, err
		}
		return f(s, ctx, ch, req)
	}
}

// Has reports whether funid is a function the platform offers.
func (s *Services) Has(funid string) bool {
	_, ok := handlers[funid]
	return ok
}

// Dispatch runs funid. Errors that carry no business code are returned as
// they are; the gateway responds to them with CodeInternal and logs them on the
// request's line.
func (s *Services) Dispatch(ctx context.Context, ch *channel.Channel, funid string, payload []byte) (any, error) {
	h, ok := handlers[funid]
	if !ok {
		return nil, protocol.NewError(protocol.CodeUnknownFunction)
	}
	return h(s, ctx, ch, payload)
}

func (s *Services) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Services) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// decodePayload decodes the business fields into v. Every field of the spec
// is a string, so a number or an object in its place is a format error,
// reported with the field's name (20100). Unknown fields are ignored, as
// third parties send extra fields of their own.
func decodePayload(payload []byte, v any) error {
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			if path := jsonPathAt(payload, typeErr.Offset); path != "" {
				field = path
			}
			return protocol.Wrap(protocol.CodeBadField, err, field)
		}
		return protocol.Wrap(protocol.CodeBadField, fmt.Errorf("business fields: %w", err), "body")
	}
	return nil
}

// jsonPathAt returns the path, such as userlist[0].name, of the value in
// the JSON text data that ends at or contains byte offset, or "" when
// there is none. encoding/json names a mistyped field without its array
// indexes, and the other field errors carry them.
func jsonPathAt(data []byte, offset int64) string {
	type level struct {
		array   bool
		index   int
		key     string
		wantKey bool
	}
	var stack []*level
	path := func() string {
		var b strings.Builder
		for _, l := range stack {
			if l.array {
				fmt.Fprintf(&b, "[%d]", l.index)
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(l.key)
		}
		return b.String()
	}
	// afterValue moves the innermost container past one value.
	afterValue := func() {
		if len(stack) == 0 {
			return
		}
		if top := stack[len(stack)-1]; top.array {
			top.index++
		} else {
			top.wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if len(stack) > 0 {
			if top := stack[len(stack)-1]; !top.array && top.wantKey {
				if key, ok := tok.(string); ok {
					top.key, top.wantKey = key, false
					continue
				}
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if dec.InputOffset() >= offset {
				return path()
			}
			stack = append(stack, &level{array: tok == json.Delim('['), wantKey: tok == json.Delim('{')})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			afterValue()
			continue
		}
		if dec.InputOffset() >= offset {
			return path()
		}
		afterValue()
	}
}
