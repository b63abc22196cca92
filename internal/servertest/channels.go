package servertest

import (
	"testing"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/store"
	"chsgate/protocol"
	"chsgate/sdk"
)

// MasterKeyHex is the master key, hex, that seals the channel secrets of
// the tests.
const MasterKeyHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// Settings and secrets that the test channels share. Channels with the same
// appsecret and salt have the same fjs data key, so a test that needs a
// data key of its own sets other secrets.
const (
	AppSecret = "0123456789abcdef0123456789abcdef"
	BizKey    = "bizkey-for-tests"
	Salt      = "fedcba9876543210fedcba9876543210"
	OrgCode   = "ORG001"
	ServiceID = "SVC001"
)

// MasterKey returns MasterKeyHex as bytes.
func MasterKey(t *testing.T) []byte {
	t.Helper()
	key, err := channel.ParseMasterKey(MasterKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// NewRegistry returns the channel registry of s under MasterKeyHex.
func NewRegistry(t *testing.T, s store.Store) *channel.Registry {
	t.Helper()
	channels, err := channel.NewRegistry(s, MasterKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return channels
}

// SM2KeyPair returns a new SM2 key pair as hex, in the forms that channel
// add and the SDK take.
func SM2KeyPair(t *testing.T) (privateHex, publicHex string) {
	t.Helper()
	privateHex, err := channel.GenerateSM2KeyHex()
	if err != nil {
		t.Fatal(err)
	}
	return privateHex, SM2PublicKey(t, privateHex)
}

// SM2PublicKey returns the public key, hex, of an SM2 private key in hex.
func SM2PublicKey(t *testing.T, privateHex string) string {
	t.Helper()
	key, err := protocol.ParseSM2PrivateKey(privateHex)
	if err != nil {
		t.Fatal(err)
	}
	return channel.SM2PublicKeyHex(&key.PublicKey)
}

// FJSChannel returns the settings of a key-mode channel of the fjs layout
// with the shared secrets: SM3 signatures, SM4 encryption under a data key
// derived from the salt, every function, and page and callback URLs on
// 127.0.0.1. The platform encrypts user_id values to userPublicKey, an SM2
// public key in hex.
func FJSChannel(appid, userPublicKey string) channel.Config {
	return channel.Config{
		AppID:         appid,
		OrgCode:       OrgCode,
		ServiceID:     ServiceID,
		Profile:       protocol.ProfileFJS,
		SignType:      protocol.SignSM3,
		EncType:       protocol.EncSM4,
		KeyDerivation: protocol.DeriveSalt,
		SecurityMode:  store.ModeKey,
		SM2PublicKey:  userPublicKey,
		AllowedHosts:  []string{"127.0.0.1"},
		Functions:     api.Functions,
		Secrets:       channel.Secrets{AppSecret: AppSecret, BizKey: BizKey, Salt: Salt},
	}
}

// Keys returns the third party's keys of an fjs channel with the shared
// secrets, which sign with signType under BizKey. With an empty sign type
// they seal unsigned requests.
func Keys(t *testing.T, appid string, signType protocol.SignType) *protocol.Keys {
	t.Helper()
	keys, err := protocol.NewKeys(protocol.KeyConfig{
		SignType: signType,
		SignKey:  BizKey,
		EncType:  protocol.EncSM4,
		Secrets:  protocol.ChannelSecrets{AppID: appid, AppSecret: AppSecret, Salt: Salt},
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// NewClient returns an SDK client of appid at baseURL with the shared
// secrets, SM3 signatures and SM4 encryption. The options given come after
// these, so they override them.
func NewClient(t *testing.T, baseURL, appid string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	opts = append([]sdk.Option{
		sdk.WithCredentials(AppSecret, BizKey, Salt),
		sdk.WithSignType(protocol.SignSM3),
		sdk.WithEncType(protocol.EncSM4),
	}, opts...)
	client, err := sdk.New(baseURL, appid, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return client
}
