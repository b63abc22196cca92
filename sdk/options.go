package sdk

import (
	"fmt"
	"net/http"
	"time"

	"chsgate/protocol"
)

// Option sets one of a Client's settings. Pass options to New.
type Option func(*Client)

// WithCredentials sets the channel's secrets, as the platform operator
// issued them. The fjs profile sends appSecret in key mode, exchanges it
// for an access token in token mode, and signs with bizKey. The hsa
// profile signs with appSecret and ignores bizKey. The default key
// derivation of fjs makes the data key from salt and appSecret.
func WithCredentials(appSecret, bizKey, salt string) Option {
	return func(c *Client) {
		c.appSecret, c.bizKey, c.salt = appSecret, bizKey, salt
	}
}

// WithProfile sets the envelope layout: protocol.ProfileFJS (the default,
// posted to /gateway) or protocol.ProfileHSA (the national e-voucher
// layout, posted to /hsa/gateway).
func WithProfile(p protocol.Profile) Option {
	return func(c *Client) { c.profile = p }
}

// WithSignType sets the channel's signature algorithm: protocol.SignSM3
// (the default), protocol.SignMD5, protocol.SignSM2 or protocol.SignRSA.
// SM2 also needs WithSM2PrivateKey and WithPlatformPublicKey, and RSA needs
// WithRSAPrivateKey and WithPlatformRSAPublicKey.
func WithSignType(t protocol.SignType) Option {
	return func(c *Client) { c.signType = t }
}

// WithEncType sets the payload encryption: protocol.EncSM4 (the default),
// protocol.EncAES, or protocol.EncNone to send business fields in clear.
func WithEncType(t protocol.EncType) Option {
	return func(c *Client) { c.encType = t }
}

// WithKeyDerivation sets how the 16-byte data key is made: "salt" (the fjs
// default), "salt-hex", "appid" (the hsa default) or "raw:KEY", where KEY
// is 16 characters or 32 hex digits. An empty string selects the profile's
// default.
func WithKeyDerivation(derivation string) Option {
	return func(c *Client) {
		if derivation == "" {
			c.derivationSet, c.derivationInvalid = false, false
			c.derivation, c.rawKey = "", nil
			return
		}
		c.derivationSet = true
		d, rawKey, err := protocol.ParseKeyDerivation(derivation)
		if err != nil {
			c.derivationInvalid = true
			c.optionErrors = append(c.optionErrors, fmt.Errorf("key derivation is invalid: %w", err))
			return
		}
		c.derivation, c.rawKey = d, rawKey
	}
}

// WithTokenMode switches token mode on or off (off by default). In token
// mode the client fetches an access token from /oauth/token with the
// appid and appsecret and sends the token in place of the appsecret.
// Only the fjs profile has a token field.
func WithTokenMode(on bool) Option {
	return func(c *Client) { c.tokenMode = on }
}

// WithSM2PrivateKey sets the channel's own SM2 private key: hex or base64 of
// the 32-byte scalar, or PEM (PKCS #8 or SEC 1). It signs requests with
// sign type SM2 and decrypts user_id values in DecryptUserID.
func WithSM2PrivateKey(key string) Option {
	return func(c *Client) {
		c.sm2PrivateKeySet = true
		k, err := protocol.ParseSM2PrivateKey(key)
		if err != nil {
			c.optionErrors = append(c.optionErrors, fmt.Errorf("SM2 private key is invalid: %w", err))
			return
		}
		c.sm2Keys.SM2PrivateKey = k
	}
}

// WithPlatformPublicKey sets the platform's SM2 public key: hex or base64 of
// the 65-byte point 04‖X‖Y, or PEM (PKIX). It verifies responses with sign
// type SM2.
func WithPlatformPublicKey(key string) Option {
	return func(c *Client) {
		c.platformPublicKeySet = true
		k, err := protocol.ParseSM2PublicKey(key)
		if err != nil {
			c.optionErrors = append(c.optionErrors, fmt.Errorf("platform public key is invalid: %w", err))
			return
		}
		c.sm2Keys.SM2PublicKey = k
	}
}

// WithRSAPrivateKey sets the channel's own RSA private key: PEM (PKCS #1 or
// PKCS #8) or base64 of its DER, of at least 2048 bits, the smallest key the
// platform accepts. It signs requests with sign type RSA. It does not
// decrypt user_id values, which are encrypted to the channel's SM2 key
// whatever the sign type.
func WithRSAPrivateKey(key string) Option {
	return func(c *Client) {
		c.rsaPrivateKeySet = true
		k, err := protocol.ParseRSAPrivateKey(key)
		if err != nil {
			c.optionErrors = append(c.optionErrors, fmt.Errorf("RSA private key is invalid: %w", err))
			return
		}
		if bits := k.N.BitLen(); bits < minRSAKeyBits {
			c.optionErrors = append(c.optionErrors, fmt.Errorf("RSA private key has %d bits: the platform accepts only keys of at least %d bits", bits, minRSAKeyBits))
			return
		}
		c.rsaPrivateKey = k
	}
}

// WithPlatformRSAPublicKey sets the platform's RSA public key, as the
// platform operator gives it: PEM (PKIX or PKCS #1) or base64 of its DER,
// of at least 2048 bits. It verifies responses and callbacks with sign type
// RSA.
func WithPlatformRSAPublicKey(key string) Option {
	return func(c *Client) {
		c.platformRSAPublicKeySet = true
		k, err := protocol.ParseRSAPublicKey(key)
		if err != nil {
			c.optionErrors = append(c.optionErrors, fmt.Errorf("platform RSA public key is invalid: %w", err))
			return
		}
		if bits := k.N.BitLen(); bits < minRSAKeyBits {
			c.optionErrors = append(c.optionErrors, fmt.Errorf("platform RSA public key has %d bits, fewer than the %d the platform generates: check that it is the platform's key", bits, minRSAKeyBits))
			return
		}
		c.platformRSAPublicKey = k
	}
}

// WithHTTPClient sets the HTTP client that sends requests. The default has
// a 30-second timeout and does not follow redirects, because a redirected
// request would carry the channel's credentials to another address.
func WithHTTPClient(client *http.Client) Option {
	return func(c *Client) { c.httpClient = client }
}

// WithClock sets the clock that stamps requests and times access tokens.
// Tests use it. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *Client) { c.now = now }
}

// WithoutAliasRouting posts every function to the gateway's main path. By
// default the fjs profile posts CI00.02.00.08 (detail reconciliation) to
// /gateway/CI00.02.00.08, where the platform accepts bodies larger than the
// 1 MiB of /gateway.
func WithoutAliasRouting() Option {
	return func(c *Client) { c.aliasRouting = false }
}

// WithMaxResponseBytes sets the maximum size of a response body, 64 MiB by
// default. A larger response fails with a *TransportError.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) { c.maxResponseBytes = n }
}
