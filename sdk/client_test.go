package sdk_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"chsgate/protocol"
	"chsgate/sdk"
)

// A base URL that is never contacted: these tests only build clients.
const unusedURL = "https://gateway.example.com"

func TestNewListsEveryProblem(t *testing.T) {
	client, err := sdk.New("ftp://gateway.example.com", "",
		sdk.WithSignType(protocol.SignSM2),
		sdk.WithKeyDerivation("pbkdf2"),
	)
	if client != nil {
		t.Error("New returned a client for invalid settings")
	}
	var configErr *sdk.ConfigError
	if !errors.As(err, &configErr) {
		t.Fatalf("error = %v (%T), want *sdk.ConfigError", err, err)
	}
	want := []string{
		"scheme must be http or https",
		"appid is missing",
		"key derivation is invalid",
		"appsecret is missing",
		"bizkey is missing",
		"SM2 private key is missing",
		"platform public key is missing",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not report %q: %v", w, err)
		}
	}
	if len(configErr.Problems) != len(want) {
		t.Errorf("%d problems reported, want %d: %v", len(configErr.Problems), len(want), err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans several lines, want one: %q", err.Error())
	}
}

func TestValidateProblems(t *testing.T) {
	ch := demoChannel()
	credentials := sdk.WithCredentials(ch.appSecret, ch.bizKey, ch.salt)
	rsaSign := sdk.WithSignType(protocol.SignRSA)
	channelRSA := sdk.WithRSAPrivateKey(testRSAKeys().channel.private)
	platformRSA := sdk.WithPlatformRSAPublicKey(testRSAKeys().platform.public)
	short, err := newRSAKeyPair(1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		baseURL string
		appID   string
		options []sdk.Option
		want    string
	}{
		{"missing base URL", "", "ldxt", nil, "base URL is missing"},
		{"unparsable base URL", "http://[::1", "ldxt", nil, "is invalid"},
		{"base URL without host", "https://", "ldxt", nil, "has no host"},
		{"base URL with query", "https://gateway.example.com/?env=test", "ldxt", nil, "must not have a query"},
		{"unknown profile", unusedURL, "ldxt", []sdk.Option{sdk.WithProfile(0)}, "profile Profile(0) is unknown"},
		{"token mode in hsa", unusedURL, hsaChannel().appID, []sdk.Option{sdk.WithProfile(protocol.ProfileHSA), sdk.WithTokenMode(true)}, "token mode is not available in the hsa profile"},
		{"hsa without appsecret", unusedURL, hsaChannel().appID, []sdk.Option{sdk.WithProfile(protocol.ProfileHSA), sdk.WithCredentials("", "", "")}, "hsa profile signs with it"},
		{"unknown sign type", unusedURL, "ldxt", []sdk.Option{sdk.WithSignType("SHA1")}, `sign type "SHA1" is unknown`},
		{"PKCS7 encryption", unusedURL, "ldxt", []sdk.Option{sdk.WithEncType(protocol.EncPKCS7)}, "enc type PKCS7 is not supported"},
		{"unknown enc type", unusedURL, "ldxt", []sdk.Option{sdk.WithEncType("DES")}, `enc type "DES" is unknown`},
		{"derivation without encryption", unusedURL, "ldxt", []sdk.Option{sdk.WithEncType(protocol.EncNone), sdk.WithKeyDerivation("salt-hex")}, "key derivation salt-hex is set, but enc type is none"},
		{"short salt", unusedURL, "ldxt", []sdk.Option{sdk.WithCredentials(ch.appSecret, ch.bizKey, "short")}, "data key cannot be derived"},
		{"short appid for appid derivation", unusedURL, "ldxt", []sdk.Option{sdk.WithKeyDerivation("appid")}, "data key cannot be derived"},
		{"platform key without SM2", unusedURL, "ldxt", []sdk.Option{sdk.WithPlatformPublicKey(platformPublicKey)}, "sign type SM3 does not use it"},
		{"invalid private key", unusedURL, "ldxt", []sdk.Option{sdk.WithSM2PrivateKey("abcd")}, "SM2 private key is invalid"},
		{"invalid platform key", unusedURL, "ldxt", []sdk.Option{sdk.WithSignType(protocol.SignSM2), sdk.WithSM2PrivateKey(demoPrivateKey), sdk.WithPlatformPublicKey("04ab")}, "platform public key is invalid"},
		{"RSA without private key", unusedURL, "ldxt", []sdk.Option{rsaSign, platformRSA}, "RSA private key is missing"},
		{"RSA without platform key", unusedURL, "ldxt", []sdk.Option{rsaSign, channelRSA}, "platform RSA public key is missing"},
		{"invalid RSA private key", unusedURL, "ldxt", []sdk.Option{rsaSign, sdk.WithRSAPrivateKey("abcd"), platformRSA}, "RSA private key is invalid"},
		{"SM2 key as RSA private key", unusedURL, "ldxt", []sdk.Option{rsaSign, sdk.WithRSAPrivateKey(demoPrivateKey), platformRSA}, "RSA private key is invalid"},
		{"1024-bit RSA private key", unusedURL, "ldxt", []sdk.Option{rsaSign, sdk.WithRSAPrivateKey(short.private), platformRSA}, "RSA private key has 1024 bits"},
		{"invalid platform RSA key", unusedURL, "ldxt", []sdk.Option{rsaSign, channelRSA, sdk.WithPlatformRSAPublicKey("abcd")}, "platform RSA public key is invalid"},
		{"1024-bit platform RSA key", unusedURL, "ldxt", []sdk.Option{rsaSign, channelRSA, sdk.WithPlatformRSAPublicKey(short.public)}, "platform RSA public key has 1024 bits"},
		{"RSA private key without RSA", unusedURL, "ldxt", []sdk.Option{channelRSA}, "RSA private key is set, but sign type SM3 does not use it"},
		{"platform RSA key with SM2", unusedURL, "ldxt", []sdk.Option{sdk.WithSignType(protocol.SignSM2), sdk.WithSM2PrivateKey(demoPrivateKey), sdk.WithPlatformPublicKey(platformPublicKey), platformRSA},
			"platform RSA public key is set, but sign type SM2 does not use it"},
		{"platform SM2 key with RSA", unusedURL, "ldxt", []sdk.Option{rsaSign, channelRSA, platformRSA, sdk.WithPlatformPublicKey(platformPublicKey)},
			"platform public key is set, but sign type RSA does not use it"},
		{"nil HTTP client", unusedURL, "ldxt", []sdk.Option{sdk.WithHTTPClient(nil)}, "HTTP client is nil"},
		{"nil clock", unusedURL, "ldxt", []sdk.Option{sdk.WithClock(nil)}, "clock is nil"},
		{"zero response size", unusedURL, "ldxt", []sdk.Option{sdk.WithMaxResponseBytes(0)}, "maximum response size is 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			options := append([]sdk.Option{credentials}, tt.options...)
			_, err := sdk.New(tt.baseURL, tt.appID, options...)
			var configErr *sdk.ConfigError
			if !errors.As(err, &configErr) {
				t.Fatalf("error = %v (%T), want *sdk.ConfigError", err, err)
			}
			if len(configErr.Problems) != 1 {
				t.Errorf("%d problems reported, want 1: %v", len(configErr.Problems), err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err.Error(), tt.want)
			}
		})
	}
}

func TestValidateAcceptsSettings(t *testing.T) {
	ch := demoChannel()
	hsa := hsaChannel()
	tests := []struct {
		name    string
		appID   string
		options []sdk.Option
	}{
		{"fjs defaults", ch.appID, ch.clientOptions(nil)},
		{"hsa defaults", hsa.appID, hsa.clientOptions(nil)},
		{"hsa with empty derivation", hsa.appID, append(hsa.clientOptions(nil), sdk.WithKeyDerivation(""))},
		{"token mode", ch.appID, append(ch.clientOptions(nil), sdk.WithTokenMode(true))},
		{"raw key", ch.appID, []sdk.Option{sdk.WithCredentials(ch.appSecret, ch.bizKey, ""), sdk.WithKeyDerivation("raw:0123456789abcdef")}},
		{"in clear without salt", ch.appID, []sdk.Option{sdk.WithCredentials(ch.appSecret, ch.bizKey, ""), sdk.WithEncType(protocol.EncNone)}},
		{"SM2", ch.appID, []sdk.Option{
			sdk.WithCredentials(ch.appSecret, ch.bizKey, ch.salt),
			sdk.WithSignType(protocol.SignSM2),
			sdk.WithSM2PrivateKey(demoPrivateKey),
			sdk.WithPlatformPublicKey(platformPublicKey),
		}},
		{"RSA", ch.appID, []sdk.Option{
			sdk.WithCredentials(ch.appSecret, ch.bizKey, ch.salt),
			sdk.WithSignType(protocol.SignRSA),
			sdk.WithRSAPrivateKey(testRSAKeys().channel.private),
			sdk.WithPlatformRSAPublicKey(testRSAKeys().platform.public),
		}},
		{"RSA with SM2 key for user_id", ch.appID, []sdk.Option{
			sdk.WithCredentials(ch.appSecret, ch.bizKey, ch.salt),
			sdk.WithSignType(protocol.SignRSA),
			sdk.WithSM2PrivateKey(demoPrivateKey),
			sdk.WithRSAPrivateKey(testRSAKeys().channel.private),
			sdk.WithPlatformRSAPublicKey(testRSAKeys().platform.public),
		}},
		{"own HTTP client and clock", ch.appID, append(ch.clientOptions(nil),
			sdk.WithHTTPClient(&http.Client{Timeout: time.Second}),
			sdk.WithClock(time.Now))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := sdk.New(unusedURL+"/base/", tt.appID, tt.options...)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if err := client.Validate(); err != nil {
				t.Errorf("Validate of a client that New returned: %v", err)
			}
		})
	}
}

func TestDecryptUserIDDemoKeyPair(t *testing.T) {
	publicKey, err := protocol.ParseSM2PublicKey(demoPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	want := protocol.UserID{CertType: "01", IDCard: "650101198001010032", Name: "王二"}
	userID, err := protocol.EncryptUserID(publicKey, want)
	if err != nil {
		t.Fatal(err)
	}
	ch := demoChannel()
	client := newClient(t, unusedURL, ch, nil)

	got, err := client.DecryptUserID(userID)
	if err != nil {
		t.Fatalf("DecryptUserID: %v", err)
	}
	if got != want {
		t.Errorf("DecryptUserID = %+v, want %+v", got, want)
	}

	got, err = client.DecryptUserID(strings.ToLower(userID))
	if err != nil || got != want {
		t.Errorf("DecryptUserID of lower-case hex = %+v, %v; want %+v", got, err, want)
	}
}

func TestDecryptUserIDErrors(t *testing.T) {
	publicKey, err := protocol.ParseSM2PublicKey(demoPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	userID, err := protocol.EncryptUserID(publicKey, protocol.UserID{CertType: "01", IDCard: "650101198001010032", Name: "王二"})
	if err != nil {
		t.Fatal(err)
	}
	ch := demoChannel()
	credentials := sdk.WithCredentials(ch.appSecret, ch.bizKey, ch.salt)

	withoutKey, err := sdk.New(unusedURL, ch.appID, credentials)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := withoutKey.DecryptUserID(userID); err == nil || !strings.Contains(err.Error(), "no SM2 private key is set") {
		t.Errorf("DecryptUserID without a key: error = %v, want one naming the missing key", err)
	}

	otherKey, err := sdk.New(unusedURL, ch.appID, credentials, sdk.WithSM2PrivateKey(platformPrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := otherKey.DecryptUserID(userID); err == nil {
		t.Error("DecryptUserID with another channel's key succeeded, want an error")
	}

	client := newClient(t, unusedURL, ch, nil)
	if _, err := client.DecryptUserID("not hex"); err == nil {
		t.Error("DecryptUserID of a value that is not hex succeeded, want an error")
	}
}
