package protocol

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// KeyDerivation is the method that makes a channel's 16-byte data key.
type KeyDerivation string

const (
	// DeriveSalt encrypts the appsecret under the first 16 bytes of the salt
	// and keeps the first 16 characters of the upper-case hex ciphertext, as
	// ASCII. It is the fjs default.
	//
	// NOTE: only the first cipher block survives, so only the first 16
	// characters of the appsecret reach the key, and the key has at most 64
	// bits of entropy (16 hex digits). The platform's published vectors fix
	// this scheme; channels that need more use salt-hex or raw.
	DeriveSalt KeyDerivation = "salt"
	// DeriveSaltHex uses the salt, 32 hex digits, decoded.
	DeriveSaltHex KeyDerivation = "salt-hex"
	// DeriveAppID is the hsa derivation: as DeriveSalt with the appid in the
	// salt's place.
	DeriveAppID KeyDerivation = "appid"
	// DeriveRaw uses a key given as is.
	DeriveRaw KeyDerivation = "raw"
)

// ParseKeyDerivation parses "salt", "salt-hex", "appid" or "raw:KEY", where
// KEY is 16 characters or 32 hex digits. It returns the raw key for "raw".
func ParseKeyDerivation(s string) (KeyDerivation, []byte, error) {
	switch d := KeyDerivation(s); d {
	case DeriveSalt, DeriveSaltHex, DeriveAppID:
		return d, nil, nil
	case "":
		return DeriveSalt, nil, nil
	}
	if key, ok := strings.CutPrefix(s, "raw:"); ok {
		raw, err := parseRawKey(key)
		if err != nil {
			return "", nil, err
		}
		return DeriveRaw, raw, nil
	}
	return "", nil, fmt.Errorf("unknown key derivation %q: use salt, salt-hex, appid or raw:KEY", s)
}

func parseRawKey(key string) ([]byte, error) {
	switch len(key) {
	case 16:
		return []byte(key), nil
	case 32:
		raw, err := hex.DecodeString(key)
		if err != nil {
			return nil, fmt.Errorf("raw key of 32 characters is not hex: %w", err)
		}
		return raw, nil
	}
	return nil, fmt.Errorf("raw key has %d characters, want 16 characters or 32 hex digits", len(key))
}

// ChannelSecrets are the values a data key is derived from.
type ChannelSecrets struct {
	AppID     string
	AppSecret string
	Salt      string
	RawKey    []byte // for DeriveRaw
}

// DeriveDataKey returns the 16-byte data key of a channel whose payloads are
// encrypted with t (EncSM4 or EncAES). The derivation step uses the same
// block cipher as the payloads.
func DeriveDataKey(t EncType, d KeyDerivation, s ChannelSecrets) ([]byte, error) {
	switch d {
	case DeriveSalt, "":
		return deriveByEncryption(t, "salt", s.Salt, s.AppSecret)
	case DeriveAppID:
		return deriveByEncryption(t, "appid", s.AppID, s.AppSecret)
	case DeriveSaltHex:
		key, err := hex.DecodeString(s.Salt)
		if err != nil || len(key) != 16 {
			return nil, fmt.Errorf("salt-hex derivation needs a salt of 32 hex digits, got %d characters", len(s.Salt))
		}
		return key, nil
	case DeriveRaw:
		if len(s.RawKey) != 16 {
			return nil, fmt.Errorf("raw data key has %d bytes, want 16", len(s.RawKey))
		}
		return s.RawKey, nil
	}
	return nil, fmt.Errorf("unknown key derivation %q", d)
}

// deriveByEncryption encrypts secret under the first 16 bytes of keySource
// and keeps the first 16 characters of the upper-case hex result, as ASCII.
// The spec's Java reference calls this encryptCbc, but its vector matches
// ECB; with one block kept, ECB and zero-IV CBC would agree anyway.
func deriveByEncryption(t EncType, sourceName, keySource, secret string) ([]byte, error) {
	if len(keySource) < 16 {
		return nil, fmt.Errorf("%s derivation needs a %s of at least 16 characters, got %d", t, sourceName, len(keySource))
	}
	if secret == "" {
		return nil, fmt.Errorf("%s derivation needs the appsecret", t)
	}
	c, err := NewBlockCipher(t, []byte(keySource[:16]))
	if err != nil {
		return nil, err
	}
	ct := c.appendEncrypt(nil, []byte(secret))
	return appendUpperHex(nil, ct[:8]), nil
}
