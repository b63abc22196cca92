// Package channel manages the third-party platforms allowed to call the
// gateway: their settings, their secrets sealed under the master key, and
// the protocol keys the gateway opens and seals their messages with.
package channel

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"chsgate/api"
	"chsgate/internal/store"
	"chsgate/protocol"
)

// MasterKeySize is the size of the key that seals channel secrets: AES-256.
const MasterKeySize = 32

// Secrets are the values a channel shares with the platform, plus the
// platform's own SM2 or RSA key for channels that sign with SM2 or RSA. They
// are stored only sealed.
type Secrets struct {
	AppSecret string `json:"appsecret"`
	BizKey    string `json:"bizkey"`
	Salt      string `json:"salt"`
	// RawKey is the hex data key of the raw key derivation.
	RawKey string `json:"raw_key,omitempty"`
	// PlatformSM2PrivateKey signs responses and callbacks of SM2 channels,
	// hex of the 32-byte scalar.
	PlatformSM2PrivateKey string `json:"platform_sm2_private_key,omitempty"`
	// PlatformRSAPrivateKey signs responses and callbacks of RSA channels,
	// PEM (PKCS #8).
	PlatformRSAPrivateKey string `json:"platform_rsa_private_key,omitempty"`
}

// Channel is a channel with its secrets opened and its protocol keys built.
type Channel struct {
	store.Channel
	Secrets Secrets
	// Keys are the platform's side of the channel: they verify and decrypt
	// requests, and sign and encrypt responses and callbacks.
	Keys *protocol.Keys
	// Profile is the channel's envelope layout.
	Profile protocol.Profile
}

// Allows reports whether the channel may call function funid.
func (c *Channel) Allows(funid string) bool {
	return len(c.Functions) == 0 || slices.Contains(c.Functions, funid)
}

// AllowsURL reports whether rawURL's host, or host and port, is on the
// channel's allow-list.
func (c *Channel) AllowsURL(host, port string) bool {
	for _, allowed := range c.AllowedHosts {
		h, p, err := net.SplitHostPort(allowed)
		if err != nil {
			h, p = allowed, ""
		}
		if strings.EqualFold(h, host) && (p == "" || p == port) {
			return true
		}
	}
	return false
}

// Registry stores channels with their secrets sealed under a master key.
// It caches opened channels and detects changes another process makes by
// their UpdatedAt.
type Registry struct {
	store store.Store
	aead  cipher.AEAD

	mu    sync.Mutex
	cache map[string]*Channel
}

// NewRegistry returns a registry over s whose secrets are sealed with
// masterKey (MasterKeySize bytes).
func NewRegistry(s store.Store, masterKey []byte) (*Registry, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("master key has %d bytes, want %d", len(masterKey), MasterKeySize)
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Registry{store: s, aead: aead, cache: make(map[string]*Channel)}, nil
}

// Config is the settings an operator gives a new channel.
type Config struct {
	AppID         string
	OrgCode       string
	ServiceID     string
	Profile       protocol.Profile
	SignType      protocol.SignType
	EncType       protocol.EncType
	KeyDerivation protocol.KeyDerivation
	SecurityMode  store.SecurityMode
	SM2PublicKey  string
	// RSAPublicKey is the channel's RSA public key for sign type RSA, PEM
	// (PKIX or PKCS #1) or base64 of its DER. Add stores it as PEM (PKIX).
	RSAPublicKey string
	AllowedHosts []string
	Functions    []string
	Secrets      Secrets
}

// Add validates c and stores it as a new channel. For an SM2 or RSA channel
// without a platform key it generates one.
func (r *Registry) Add(ctx context.Context, c Config, now time.Time) (*Channel, error) {
	if err := r.CheckMasterKey(ctx); err != nil {
		return nil, err
	}
	if (c.SignType == protocol.SignSM2 && c.Secrets.PlatformSM2PrivateKey == "") ||
		(c.SignType == protocol.SignRSA && c.Secrets.PlatformRSAPrivateKey == "") {
		if err := newPlatformKey(c.SignType, &c.Secrets); err != nil {
			return nil, err
		}
	}
	var err error
	if c.RSAPublicKey, err = normalizeRSAPublicKey(c.RSAPublicKey); err != nil {
		return nil, err
	}
	row := &store.Channel{
		AppID:         c.AppID,
		OrgCode:       c.OrgCode,
		ServiceID:     c.ServiceID,
		Profile:       c.Profile.String(),
		SignType:      string(c.SignType),
		EncType:       string(c.EncType),
		KeyDerivation: string(c.KeyDerivation),
		SecurityMode:  c.SecurityMode,
		SM2PublicKey:  c.SM2PublicKey,
		RSAPublicKey:  c.RSAPublicKey,
		AllowedHosts:  c.AllowedHosts,
		Functions:     c.Functions,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	opened, err := r.open(row, c.Secrets)
	if err != nil {
		return nil, err
	}
	if row.Secrets, err = r.seal(row.AppID, c.Secrets); err != nil {
		return nil, err
	}
	if err := r.store.CreateChannel(ctx, row); err != nil {
		return nil, err
	}
	opened.Channel.Secrets = row.Secrets
	return opened, nil
}

// Lookup returns the channel appid with its keys; store.ErrNotFound if there
// is none. A disabled channel is returned with Disabled set.
func (r *Registry) Lookup(ctx context.Context, appid string) (*Channel, error) {
	// Anyone can send any appid, so one no channel can have is not looked
	// up in the database.
	if len(appid) > MaxAppIDLength {
		return nil, fmt.Errorf("appid of %d bytes, longer than any channel's: %w", len(appid), store.ErrNotFound)
	}
	row, err := r.store.Channel(ctx, appid)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	cached, ok := r.cache[appid]
	r.mu.Unlock()
	if ok && cached.UpdatedAt.Equal(row.UpdatedAt) && cached.Disabled == row.Disabled {
		return cached, nil
	}
	secrets, err := r.unseal(row.AppID, row.Secrets)
	if err != nil {
		return nil, err
	}
	opened, err := r.open(row, secrets)
	if err != nil {
		return nil, fmt.Errorf("channel %s: stored settings are invalid: %w", appid, err)
	}
	r.mu.Lock()
	r.cache[appid] = opened
	r.mu.Unlock()
	return opened, nil
}

// CheckMasterKey returns ErrWrongMasterKey when the registry's master key
// does not open the channels already stored, so a channel is never sealed
// under a key the others do not share.
func (r *Registry) CheckMasterKey(ctx context.Context) error {
	rows, err := r.store.Channels(ctx)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if _, err := r.unseal(row.AppID, row.Secrets); err == nil {
			return nil
		}
	}
	if len(rows) > 0 {
		return fmt.Errorf("the master key opens none of the %d stored channels (%w): use the key they were added with", len(rows), ErrWrongMasterKey)
	}
	return nil
}

// SharingOrg returns the appids of the other channels with org code org.
// Channels of one org see each other's orders, authorizations and
// reconciliation records, which is meant for several channels of one third
// party and a mistake for two third parties.
func (r *Registry) SharingOrg(ctx context.Context, org, appid string) ([]string, error) {
	rows, err := r.store.Channels(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, row := range rows {
		if row.OrgCode == org && row.AppID != appid {
			out = append(out, row.AppID)
		}
	}
	return out, nil
}

// List returns every channel, secrets still sealed.
func (r *Registry) List(ctx context.Context) ([]*store.Channel, error) {
	return r.store.Channels(ctx)
}

// SetDisabled disables or re-enables a channel.
func (r *Registry) SetDisabled(ctx context.Context, appid string, disabled bool, now time.Time) error {
	row, err := r.store.Channel(ctx, appid)
	if err != nil {
		return err
	}
	previous := row.UpdatedAt
	row.Disabled = disabled
	row.UpdatedAt = now
	return changedHint(r.store.UpdateChannel(ctx, row, previous))
}

// changedHint adds the next step to a write that lost to another update of
// the same channel.
func changedHint(err error) error {
	if errors.Is(err, store.ErrChanged) {
		return fmt.Errorf("%w: another command changed the channel at the same time, and nothing was stored; run this one again", err)
	}
	return err
}

// Rotation lists the changes Rotate makes. Empty fields keep their current
// value.
type Rotation struct {
	Secrets Secrets
	// SM2PublicKey is the channel's new SM2 public key, hex of 04‖X‖Y.
	SM2PublicKey string
	// RSAPublicKey is the channel's new RSA public key, in a form that
	// Config.RSAPublicKey accepts.
	RSAPublicKey string
	// PlatformKey makes a new platform key pair for a channel that signs
	// with SM2 or RSA. The channel must then verify responses and callbacks
	// with the new public key.
	PlatformKey bool
}

// Rotate replaces the secrets and keys that change lists. It changes
// nothing when the result is not a valid channel.
func (r *Registry) Rotate(ctx context.Context, appid string, change Rotation, now time.Time) (*Channel, error) {
	row, err := r.store.Channel(ctx, appid)
	if err != nil {
		return nil, err
	}
	previous := row.UpdatedAt
	current, err := r.unseal(appid, row.Secrets)
	if err != nil {
		return nil, err
	}
	merge := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	next := change.Secrets
	merge(&current.AppSecret, next.AppSecret)
	merge(&current.BizKey, next.BizKey)
	merge(&current.Salt, next.Salt)
	merge(&current.RawKey, next.RawKey)
	merge(&current.PlatformSM2PrivateKey, next.PlatformSM2PrivateKey)
	merge(&current.PlatformRSAPrivateKey, next.PlatformRSAPrivateKey)
	merge(&row.SM2PublicKey, change.SM2PublicKey)
	rsaPublicKey, err := normalizeRSAPublicKey(change.RSAPublicKey)
	if err != nil {
		return nil, err
	}
	merge(&row.RSAPublicKey, rsaPublicKey)
	if change.PlatformKey {
		signType := protocol.SignType(row.SignType)
		if signType != protocol.SignSM2 && signType != protocol.SignRSA {
			return nil, &InvalidError{Problems: []string{fmt.Sprintf("sign type %s uses no platform key pair: only SM2 and RSA channels have one", signType)}}
		}
		if err := newPlatformKey(signType, &current); err != nil {
			return nil, err
		}
	}

	opened, err := r.open(row, current)
	if err != nil {
		return nil, err
	}
	if row.Secrets, err = r.seal(appid, current); err != nil {
		return nil, err
	}
	row.UpdatedAt = now
	if err := r.store.UpdateChannel(ctx, row, previous); err != nil {
		return nil, changedHint(err)
	}
	opened.Channel = *row
	return opened, nil
}

// newPlatformKey puts a new platform private key for sign type t, SM2 or
// RSA, into s.
func newPlatformKey(t protocol.SignType, s *Secrets) error {
	var err error
	if t == protocol.SignSM2 {
		s.PlatformSM2PrivateKey, err = GenerateSM2KeyHex()
	} else {
		s.PlatformRSAPrivateKey, err = GenerateRSAKeyPEM()
	}
	return err
}

// normalizeRSAPublicKey returns key as PEM (PKIX). A key that does not
// parse is returned as given, so that open reports it with the channel's
// other problems.
func normalizeRSAPublicKey(key string) (string, error) {
	parsed, err := protocol.ParseRSAPublicKey(key)
	if err != nil {
		return key, nil
	}
	return RSAPublicKeyPEM(parsed)
}

// open validates a channel's settings and builds its keys.
func (r *Registry) open(row *store.Channel, s Secrets) (*Channel, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// chs_fjs_appid is varchar(20); the national platform's appIds of the
	// hsa profile have 32 characters.
	maxAppID := 20
	if row.Profile == protocol.ProfileHSA.String() {
		maxAppID = MaxAppIDLength
	}
	if !validAppID(row.AppID, maxAppID) {
		bad("appid %q must be 1 to %d letters, digits, '-' or '_'", row.AppID, maxAppID)
	}
	if row.OrgCode == "" {
		bad("org_code is required")
	}
	if row.ServiceID == "" {
		bad("service_id is required")
	}
	if len(s.AppSecret) < minSecretLength {
		bad("appsecret must be at least %d characters: it authenticates the channel and keys its data", minSecretLength)
	}
	profile, err := protocol.ParseProfile(row.Profile)
	if err != nil {
		bad("%v", err)
	}
	if profile == protocol.ProfileFJS && s.BizKey == "" {
		bad("bizkey is required: it is the sign key of the fjs profile")
	}
	switch row.SecurityMode {
	case store.ModeKey, store.ModeToken, store.ModeAnonymous:
	default:
		bad("unknown security mode %q: use key, token or anonymous", row.SecurityMode)
	}
	for _, f := range row.Functions {
		if !slices.Contains(api.Functions, f) {
			bad("unknown function id %q", f)
		}
	}
	for _, h := range row.AllowedHosts {
		if err := checkAllowedHost(h); err != nil {
			bad("%v", err)
		}
	}

	config := protocol.KeyConfig{
		SignType: protocol.SignType(row.SignType),
		SignKey:  s.BizKey,
		EncType:  protocol.EncType(row.EncType),
		Secrets:  protocol.ChannelSecrets{AppID: row.AppID, AppSecret: s.AppSecret, Salt: s.Salt},
	}
	if profile == protocol.ProfileHSA {
		config.SignKey = s.AppSecret
	}
	if config.Derivation, config.Secrets.RawKey, err = protocol.ParseKeyDerivation(row.KeyDerivation); err != nil {
		bad("%v", err)
	}
	if config.Derivation == protocol.DeriveRaw || s.RawKey != "" {
		raw, err := hex.DecodeString(s.RawKey)
		if err != nil || len(raw) != 16 {
			bad("raw data key must be 32 hex digits")
		}
		config.Derivation, config.Secrets.RawKey = protocol.DeriveRaw, raw
	}
	if row.SM2PublicKey == "" {
		bad("the channel's SM2 public key is required: user_id in responses is encrypted to it")
	} else if config.SM2PublicKey, err = protocol.ParseSM2PublicKey(row.SM2PublicKey); err != nil {
		bad("channel SM2 public key: %v", err)
	}
	switch config.SignType {
	case protocol.SignMD5, protocol.SignSM3:
	case protocol.SignSM2:
		if config.SM2PublicKey == nil {
			bad("sign type SM2 needs the channel's SM2 public key")
		}
		if config.SM2PrivateKey, err = protocol.ParseSM2PrivateKey(s.PlatformSM2PrivateKey); err != nil {
			bad("platform SM2 private key: %v", err)
		}
	case protocol.SignRSA:
		if row.RSAPublicKey == "" {
			bad("sign type RSA needs the channel's RSA public key: the channel's request signatures verify under it")
		} else if config.RSAPublicKey, err = ParseRSAPublicKey(row.RSAPublicKey); err != nil {
			bad("channel RSA public key: %v", err)
		}
		if config.RSAPrivateKey, err = ParseRSAPrivateKey(s.PlatformRSAPrivateKey); err != nil {
			bad("platform RSA private key: %v", err)
		}
	default:
		bad("unsupported sign type %q for a channel: use MD5, SM3, SM2 or RSA", row.SignType)
	}
	if row.RSAPublicKey != "" && config.SignType != protocol.SignRSA {
		bad("the channel's RSA public key is set, but sign type %s does not use it: leave the RSA public key out", row.SignType)
	}
	switch config.EncType {
	case protocol.EncNone, protocol.EncSM4, protocol.EncAES:
	default:
		// TODO: RSA and PKCS7 channels need certificates stored with the
		// channel.
		bad("unsupported enc type %q for a channel: use SM4, AES or none", row.EncType)
	}
	if len(problems) > 0 {
		return nil, &InvalidError{Problems: problems}
	}

	keys, err := protocol.NewKeys(config)
	if err != nil {
		return nil, &InvalidError{Problems: []string{err.Error()}}
	}
	keys.AcceptUnsigned = row.SecurityMode == store.ModeAnonymous
	return &Channel{Channel: *row, Secrets: s, Keys: keys, Profile: profile}, nil
}

// InvalidError lists what is wrong with a channel's settings.
type InvalidError struct{ Problems []string }

func (e *InvalidError) Error() string {
	return "invalid channel: " + strings.Join(e.Problems, "; ")
}

// MaxAppIDLength is the longest appid a channel may have, which only hsa
// channels reach.
const MaxAppIDLength = 64

// minSecretLength is the shortest appsecret a channel may have; the
// platform's published appsecrets have 32 hex digits.
const minSecretLength = 16

func validAppID(appid string, maxLen int) bool {
	if appid == "" || len(appid) > maxLen {
		return false
	}
	for _, c := range appid {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func checkAllowedHost(h string) error {
	if strings.Contains(h, "://") || strings.Contains(h, "/") {
		return fmt.Errorf("allowed host %q must be a host name or address with an optional port, not a URL: for example hmb.example.cn or 127.0.0.1:8443", h)
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = h, ""
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return fmt.Errorf("allowed host %q must be a host name or address, with an optional port", h)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("allowed host %q has an invalid port", h)
		}
	}
	return nil
}

// seal encrypts a channel's secrets with AES-256-GCM under the master key.
// The appid is the associated data, so a sealed blob moved to another
// channel's row does not open.
func (r *Registry) seal(appid string, s Secrets) ([]byte, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, r.aead.NonceSize(), r.aead.NonceSize()+len(plain)+r.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return r.aead.Seal(nonce, nonce, plain, []byte(appid)), nil
}

// ErrWrongMasterKey means channel secrets do not open: the master key is not
// the one they were sealed with, or the row was tampered with.
var ErrWrongMasterKey = errors.New("channel secrets do not open: wrong master key or tampered row")

func (r *Registry) unseal(appid string, sealed []byte) (Secrets, error) {
	var s Secrets
	n := r.aead.NonceSize()
	if len(sealed) < n {
		return s, ErrWrongMasterKey
	}
	plain, err := r.aead.Open(nil, sealed[:n], sealed[n:], []byte(appid))
	if err != nil {
		return s, fmt.Errorf("channel %s: %w", appid, ErrWrongMasterKey)
	}
	if err := json.Unmarshal(plain, &s); err != nil {
		return s, fmt.Errorf("channel %s: sealed secrets are not JSON: %w", appid, err)
	}
	return s, nil
}
