package sdk

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"chsgate/api"
	"chsgate/protocol"
)

// Paths of the platform's endpoints, below the base URL.
const (
	pathFJSGateway = "/gateway"
	pathHSAGateway = "/hsa/gateway"
	pathToken      = "/oauth/token"
)

const (
	defaultTimeout          = 30 * time.Second
	defaultMaxResponseBytes = 64 << 20
	// minRSAKeyBits is the smallest RSA key the platform accepts for a
	// channel and generates for itself.
	minRSAKeyBits = 2048
)

// aliasFunctions are the functions whose requests may exceed the 1 MiB body
// limit of /gateway, so the fjs profile posts them to /gateway/{funid}.
var aliasFunctions = map[string]bool{api.FunReconDetail: true}

// Client calls the platform's functions as one channel (third-party
// platform). Create one with New, because the zero value has no keys. It
// is safe for concurrent use, and callers in token mode share one access
// token.
type Client struct {
	baseURL string
	appID   string

	appSecret string
	bizKey    string
	salt      string

	profile       protocol.Profile
	signType      protocol.SignType
	encType       protocol.EncType
	derivation    protocol.KeyDerivation
	rawKey        []byte
	derivationSet bool
	// sm2Keys contains only the channel's SM2 private key and the platform's
	// SM2 public key. It keeps them in the protocol package's types, so this
	// package needs no import of the SM2 implementation.
	sm2Keys protocol.KeyConfig
	// rsaPrivateKey signs requests and platformRSAPublicKey verifies
	// responses and callbacks, with sign type RSA.
	rsaPrivateKey        *rsa.PrivateKey
	platformRSAPublicKey *rsa.PublicKey

	// Set by the options even when their value is invalid, so Validate
	// reports an invalid value once and not also as missing.
	derivationInvalid       bool
	sm2PrivateKeySet        bool
	platformPublicKeySet    bool
	rsaPrivateKeySet        bool
	platformRSAPublicKeySet bool

	tokenMode        bool
	httpClient       *http.Client
	now              func() time.Time
	aliasRouting     bool
	maxResponseBytes int64

	// optionErrors are the problems found while applying options, such as a
	// key that does not parse. Validate reports them with the rest.
	optionErrors []error

	// Set by New once the settings are valid.
	keys       *protocol.Keys
	gatewayURL string
	aliasURL   string // gateway URL followed by "/"; the function id completes it
	tokenURL   string
	tokens     *tokenSource

	stampMu   sync.Mutex
	lastStamp int64 // Unix milliseconds of the last request's timestamp
}

// stamp returns the timestamp of a new request: the clock's time, moved a
// millisecond past the previous request's when the clock has not advanced.
// The platform rejects a second request with the same sign string as a
// replay, and identical calls in one millisecond would otherwise have one.
func (c *Client) stamp() time.Time {
	c.stampMu.Lock()
	defer c.stampMu.Unlock()
	ms := c.now().UnixMilli()
	if ms <= c.lastStamp {
		ms = c.lastStamp + 1
	}
	c.lastStamp = ms
	return time.UnixMilli(ms)
}

// New returns a client of the channel appID for the platform at baseURL,
// such as https://gateway.example.com. The gateway paths (/gateway,
// /hsa/gateway, /oauth/token) are appended to the base URL's path. New
// calls Validate and returns its error when a setting is missing or
// inconsistent.
func New(baseURL string, appID string, opts ...Option) (*Client, error) {
	c := &Client{
		baseURL:          baseURL,
		appID:            appID,
		profile:          protocol.ProfileFJS,
		signType:         protocol.SignSM3,
		encType:          protocol.EncSM4,
		now:              time.Now,
		aliasRouting:     true,
		maxResponseBytes: defaultMaxResponseBytes,
		httpClient: &http.Client{
			Timeout: defaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	for _, opt := range opts {
		opt(c)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}

	keys, err := protocol.NewKeys(c.keyConfig())
	if err != nil {
		return nil, &ConfigError{Problems: []error{err}}
	}
	c.keys = keys
	base, _ := parseBaseURL(c.baseURL) // Validate has checked it
	gatewayPath := pathFJSGateway
	if c.profile == protocol.ProfileHSA {
		gatewayPath = pathHSAGateway
	}
	c.gatewayURL = endpointURL(base, gatewayPath)
	c.aliasURL = c.gatewayURL + "/"
	c.tokenURL = endpointURL(base, pathToken)
	c.tokens = &tokenSource{client: c}
	return c, nil
}

// Validate returns a *ConfigError that lists every missing or inconsistent
// setting, or nil when the client can call the platform.
func (c *Client) Validate() error {
	var problems []error
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf(format, args...))
	}

	if _, err := parseBaseURL(c.baseURL); err != nil {
		problems = append(problems, err)
	}
	if c.appID == "" {
		add("appid is missing")
	}
	problems = append(problems, c.optionErrors...)

	profileKnown := c.profile == protocol.ProfileFJS || c.profile == protocol.ProfileHSA
	if !profileKnown {
		add("profile %v is unknown: use protocol.ProfileFJS or protocol.ProfileHSA", c.profile)
	}
	switch {
	case c.appSecret != "":
	case c.profile == protocol.ProfileHSA:
		add("appsecret is missing: the hsa profile signs with it")
	default:
		add("appsecret is missing: the fjs profile authenticates with it")
	}
	if c.profile == protocol.ProfileFJS && c.bizKey == "" {
		add("bizkey is missing: the fjs profile signs with it")
	}
	if c.tokenMode && c.profile == protocol.ProfileHSA {
		add("token mode is not available in the hsa profile, which has no token field: use the fjs profile or turn token mode off")
	}

	problems = append(problems, c.signingProblems()...)
	problems = append(problems, c.encryptionProblems(profileKnown)...)

	if c.httpClient == nil {
		add("HTTP client is nil")
	}
	if c.now == nil {
		add("clock is nil")
	}
	if c.maxResponseBytes <= 0 {
		add("maximum response size is %d bytes: it must be positive", c.maxResponseBytes)
	}

	if len(problems) > 0 {
		return &ConfigError{Problems: problems}
	}
	return nil
}

// signingProblems checks the sign type, the keys that it needs, and the
// keys set that it does not use. The SM2 private key is never unused,
// because it also decrypts user_id values.
func (c *Client) signingProblems() []error {
	var problems []error
	switch c.signType {
	case protocol.SignMD5, protocol.SignSM3:
	case protocol.SignSM2:
		if !c.sm2PrivateKeySet {
			problems = append(problems, errors.New("SM2 private key is missing: sign type SM2 signs requests with the channel's private key"))
		}
		if !c.platformPublicKeySet {
			problems = append(problems, errors.New("platform public key is missing: sign type SM2 verifies responses with the platform's public key"))
		}
	case protocol.SignRSA:
		if !c.rsaPrivateKeySet {
			problems = append(problems, errors.New("RSA private key is missing: sign type RSA signs requests with the channel's private key"))
		}
		if !c.platformRSAPublicKeySet {
			problems = append(problems, errors.New("platform RSA public key is missing: sign type RSA verifies responses with the platform's RSA public key"))
		}
	default:
		return []error{fmt.Errorf("sign type %q is unknown: use SM3, MD5, SM2 or RSA", c.signType)}
	}

	if c.platformPublicKeySet && c.signType != protocol.SignSM2 {
		problems = append(problems, fmt.Errorf("platform public key is set, but sign type %s does not use it: set sign type SM2 or leave the key out", c.signType))
	}
	if c.rsaPrivateKeySet && c.signType != protocol.SignRSA {
		problems = append(problems, fmt.Errorf("RSA private key is set, but sign type %s does not use it: set sign type RSA or leave the key out", c.signType))
	}
	if c.platformRSAPublicKeySet && c.signType != protocol.SignRSA {
		problems = append(problems, fmt.Errorf("platform RSA public key is set, but sign type %s does not use it: set sign type RSA or leave the key out", c.signType))
	}
	return problems
}

// encryptionProblems checks the enc type and derives the data key once, so
// a salt or appid that cannot make a key is reported here and not at the
// first call.
func (c *Client) encryptionProblems(profileKnown bool) []error {
	switch c.encType {
	case protocol.EncNone:
		if c.derivationSet {
			return []error{fmt.Errorf("key derivation %s is set, but enc type is none: set enc type SM4 or AES, or leave the derivation out", c.derivation)}
		}
		return nil
	case protocol.EncSM4, protocol.EncAES:
	case protocol.EncRSA, protocol.EncPKCS7:
		return []error{fmt.Errorf("enc type %s is not supported by the SDK: use SM4, AES or none", c.encType)}
	default:
		return []error{fmt.Errorf("enc type %q is unknown: use SM4, AES or none", c.encType)}
	}
	if !profileKnown || c.derivationInvalid {
		return nil
	}

	derivation := c.dataKeyDerivation()
	switch derivation {
	case protocol.DeriveSalt, protocol.DeriveSaltHex:
		if c.salt == "" {
			return []error{fmt.Errorf("salt is missing: the %s key derivation makes the data key from it", derivation)}
		}
	case protocol.DeriveAppID:
		if c.appID == "" {
			return nil // already reported as missing
		}
	}
	if derivation != protocol.DeriveSaltHex && derivation != protocol.DeriveRaw && c.appSecret == "" {
		return nil // already reported as missing
	}
	if _, err := protocol.DeriveDataKey(c.encType, derivation, c.secrets()); err != nil {
		return []error{fmt.Errorf("the data key cannot be derived: %w", err)}
	}
	return nil
}

// dataKeyDerivation returns the derivation in force: the one set, or the
// profile's default. The national platform derives hsa keys from the appId,
// and fjs channels derive theirs from the salt.
func (c *Client) dataKeyDerivation() protocol.KeyDerivation {
	if c.derivationSet {
		return c.derivation
	}
	if c.profile == protocol.ProfileHSA {
		return protocol.DeriveAppID
	}
	return protocol.DeriveSalt
}

func (c *Client) secrets() protocol.ChannelSecrets {
	return protocol.ChannelSecrets{AppID: c.appID, AppSecret: c.appSecret, Salt: c.salt, RawKey: c.rawKey}
}

// keyConfig returns the channel's keys as seen from the third party's side:
// the channel's private key signs, the platform's public key verifies.
func (c *Client) keyConfig() protocol.KeyConfig {
	signKey := c.bizKey
	if c.profile == protocol.ProfileHSA {
		signKey = c.appSecret
	}
	config := protocol.KeyConfig{
		SignType: c.signType,
		SignKey:  signKey,
		EncType:  c.encType,
	}
	switch c.signType {
	case protocol.SignSM2:
		config.SM2PrivateKey = c.sm2Keys.SM2PrivateKey
		config.SM2PublicKey = c.sm2Keys.SM2PublicKey
	case protocol.SignRSA:
		config.RSAPrivateKey = c.rsaPrivateKey
		config.RSAPublicKey = c.platformRSAPublicKey
	}
	if c.encType != protocol.EncNone {
		config.Derivation = c.dataKeyDerivation()
		config.Secrets = c.secrets()
	}
	return config
}

// parseBaseURL checks that raw is an absolute http or https URL with a host
// and without a query or fragment, which the gateway paths could not
// follow.
func parseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("base URL is missing: set the platform's address, such as https://gateway.example.com")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("base URL is invalid: give the platform's address, such as https://gateway.example.com")
	}
	if u.User != nil {
		// The channel authenticates in the envelope; a password in the URL
		// would only end up in error messages and logs.
		return nil, fmt.Errorf("base URL %q must not contain credentials: remove the user and password before the host", u.Redacted())
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("base URL %q is invalid: the scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("base URL %q is invalid: it has no host", raw)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("base URL %q is invalid: it must not have a query or fragment, because the gateway paths are appended to it", raw)
	}
	return u, nil
}

// endpointURL returns base with path appended to its own path.
func endpointURL(base *url.URL, path string) string {
	u := *base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	return u.String()
}

// requestURL returns where a request for funID is posted.
func (c *Client) requestURL(funID string) string {
	if c.aliasRouting && c.profile == protocol.ProfileFJS && aliasFunctions[funID] {
		return c.aliasURL + url.PathEscape(funID)
	}
	return c.gatewayURL
}
