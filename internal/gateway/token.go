package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"chsgate/internal/store"
	"chsgate/protocol"
)

// tokenRequestLimit bounds the body of POST /oauth/token.
const tokenRequestLimit = 8 << 10

// tokenResponse is the RFC 6749 §5.1 success body.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// serveToken issues an access token by OAuth 2.0 client credentials
// (RFC 6749 §4.4): client_id is the appid and client_secret the appsecret.
// The request is a form or a JSON object. Errors use RFC 6749 §5.2.
func (g *Gateway) serveToken(w http.ResponseWriter, r *http.Request) {
	x := &exchange{id: newRequestID(), start: g.cfg.Now(), funID: "oauth/token"}
	w.Header().Set("X-Request-Id", x.id)
	w.Header().Set("Cache-Control", "no-store")
	defer g.logToken(r, x)

	params, err := readTokenParams(r)
	if err != nil {
		x.code, x.err = protocol.CodeMalformed, err
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	x.appID = params.Get("client_id")
	switch params.Get("grant_type") {
	case "client_credentials":
	case "":
		x.code, x.err = protocol.CodeMalformed, errors.New("missing grant_type")
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing: send client_credentials")
		return
	default:
		x.code, x.err = protocol.CodeMalformed, errors.New("unsupported grant_type")
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	ch, err := g.cfg.Channels.Lookup(r.Context(), x.appID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		x.err = errors.New("unknown client_id")
	case err != nil:
		x.code, x.err = protocol.CodeInternal, err
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "try again later")
		return
	case ch.Disabled:
		x.err = errors.New("channel is disabled")
	case subtle.ConstantTimeCompare([]byte(params.Get("client_secret")), []byte(ch.Secrets.AppSecret)) != 1:
		x.err = errors.New("wrong client_secret")
	case ch.SecurityMode != store.ModeToken:
		// The credentials are right, so saying why reveals nothing.
		x.code, x.err = protocol.CodeAuthFailed, errors.New("channel is not in token mode")
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "the channel authenticates with its appsecret, not with tokens")
		return
	}
	if x.err != nil {
		x.code = protocol.CodeAuthFailed
		// One response for every credential failure, so the endpoint does not
		// tell which appids exist.
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}

	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		x.code, x.err = protocol.CodeInternal, err
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "try again later")
		return
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	hash := sha256.Sum256([]byte(token))
	now := g.cfg.Now()
	expires := now.Add(g.cfg.TokenTTL)
	if err := g.cfg.Store.SaveToken(r.Context(), &store.Token{Hash: hash[:], AppID: ch.AppID, ExpiresAt: expires}, now); err != nil {
		x.code, x.err = protocol.CodeInternal, err
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "try again later")
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int(g.cfg.TokenTTL.Seconds())})
}

func readTokenParams(r *http.Request) (url.Values, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, tokenRequestLimit+1))
	if err != nil {
		return nil, err
	}
	if len(body) > tokenRequestLimit {
		return nil, errors.New("request body over 8 KiB")
	}
	// encoding/json turns invalid UTF-8 and lone surrogate escapes into
	// U+FFFD, and a form's percent escapes may decode to invalid UTF-8, so
	// the body is checked, and the decoded parameters may not hold U+FFFD.
	notUTF8 := errors.New("parameters are not valid UTF-8 text")
	if !utf8.Valid(body) {
		return nil, notUTF8
	}
	var params url.Values
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "application/json" {
		if params, err = readJSONParams(body); err != nil {
			return nil, err
		}
	} else if params, err = url.ParseQuery(string(body)); err != nil {
		return nil, errors.New("body is not a form")
	}
	for name, values := range params {
		// RFC 6749 §3.2 allows each token request parameter once. Taking one
		// of two values silently would let a proxy and this server read
		// different requests.
		if len(values) > 1 {
			return nil, fmt.Errorf("parameter %s appears %d times", clip(name, maxLoggedID), len(values))
		}
		if !validText(name) || !validText(values[0]) {
			return nil, notUTF8
		}
	}
	return params, nil
}

// validText reports whether s is UTF-8 without U+FFFD, which no appid,
// secret or grant type contains.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, utf8.RuneError)
}

// readJSONParams reads a JSON object of string values, each name once.
func readJSONParams(body []byte) (url.Values, error) {
	notObject := errors.New("body is not a JSON object of strings")
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, notObject
	}
	params := url.Values{}
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return nil, notObject
		}
		value, err := dec.Token()
		text, ok := value.(string)
		if err != nil || !ok {
			return nil, notObject
		}
		if params.Has(name.(string)) {
			return nil, fmt.Errorf("parameter %s appears more than once", clip(name.(string), maxLoggedID))
		}
		params.Set(name.(string), text)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, notObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, notObject
	}
	return params, nil
}

func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// logToken writes the token request's one log line, with the fields of an
// envelope request's line. Its code is the protocol code the failure would
// have in an envelope.
func (g *Gateway) logToken(r *http.Request, x *exchange) {
	attrs := []any{"request_id", x.id, "appid", clip(x.appID, maxLoggedID), "funid", clip(x.funID, maxLoggedID), "code", x.code, "duration", g.cfg.Now().Sub(x.start)}
	if x.err != nil {
		g.cfg.Logger.WarnContext(r.Context(), "token request rejected", append(attrs, "error", clip(x.err.Error(), maxLoggedError))...)
		return
	}
	g.cfg.Logger.InfoContext(r.Context(), "token issued", attrs...)
}
