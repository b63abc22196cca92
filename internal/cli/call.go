package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"chsgate/protocol"
	"chsgate/sdk"
)

var callCommand = &command{name: "call", summary: "call a platform function as a third party and print the verified response data", run: runCall}

// clientFlags contains the flags that describe the platform and the
// channel of a command that calls the platform through the SDK.
type clientFlags struct {
	url                  string
	appID                string
	appSecret            string
	bizKey               string
	salt                 string
	signType             string
	encType              string
	keyDerivation        string
	tokenMode            bool
	privateKey           string
	platformPublicKey    string
	rsaPrivateKey        string
	platformRSAPublicKey string
	timeout              time.Duration
}

func runCall(ctx context.Context, s *streams, path string, args []string) error {
	var f clientFlags
	var funID string
	fs := newFlagSet(path, "--url URL --appid A --appsecret S --bizkey K --salt T --funid F [flags] < business.json",
		"Calls a platform function as a third-party channel, with the fjs profile: reads the\n"+
			"business content, one JSON object, from standard input, signs and encrypts it,\n"+
			"posts it, verifies and decrypts the response, and prints its data as indented JSON.\n"+
			"Exits with 1 and prints the code and message when the protocol or the business\n"+
			"result is not success.")
	f.register(fs)
	fs.StringVar(&funID, "funid", "", "function id `F`, such as CI00.01.00.03")
	if err := fs.parse(s, args); err != nil {
		return err
	}

	if err := f.checkAddress(); err != nil {
		return err
	}
	if funID == "" {
		return usagef("missing --funid: set the function id, for example CI00.01.00.03")
	}
	client, err := f.newClient(fs)
	if err != nil {
		return err
	}
	input, err := readInput(s)
	if err != nil {
		return err
	}
	if !json.Valid(input) || bytes.TrimSpace(input)[0] != '{' {
		return usagef("standard input is not one JSON object: pass the function's business content, such as {\"userlist\":[...]}")
	}

	var data json.RawMessage
	if err := client.Call(ctx, funID, json.RawMessage(input), &data); err != nil {
		if hint := callHint(err); hint != "" {
			return withHint(err, hint)
		}
		var verr *sdk.VerificationError
		if errors.As(err, &verr) {
			return withHint(err, verificationHint(protocol.CodeOf(verr.Err)))
		}
		return err
	}
	if data == nil {
		return writeLine(s.stdout, []byte("null"))
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, data, "", "  "); err != nil {
		return fmt.Errorf("indent the response data: %w", err)
	}
	return writeLine(s.stdout, indented.Bytes())
}

// verificationHint returns what to check when the platform's response
// failed verification here. The code in the error is this client's result,
// not the platform's, which did respond.
func verificationHint(code int) string {
	const localFailure = "The platform answered, but its response failed the check here. "
	switch code {
	case protocol.CodeBadSignature, protocol.CodeMissingField:
		return localFailure + "Check --sign-type and --bizkey, and for SM2 --platform-public-key or for RSA --platform-rsa-public-key: the key chsgate channel add printed"
	case protocol.CodeDecryptFailed, protocol.CodeCleartext:
		return localFailure + "Check --salt, --enc-type and --key-derivation against the channel's settings"
	}
	return localFailure + "Query the outcome before retrying"
}

// callHint returns what to check after err, or "" when callHints has
// nothing for it. A missing ciphertext field means the request went out in
// clear, as a cleartext fault does when the request has business fields.
func callHint(err error) string {
	// The token endpoint reports errors in OAuth terms, not with a wire code.
	var te *sdk.TransportError
	if errors.As(err, &te) && strings.HasSuffix(te.URL, "/oauth/token") {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return "Check --appid and --appsecret: the platform did not issue a token for them"
		case http.StatusBadRequest:
			if strings.Contains(te.Error(), "unauthorized_client") {
				return "Check --token-mode against the channel's security mode"
			}
		}
		return ""
	}
	var pe *sdk.ProtocolError
	if !errors.As(err, &pe) {
		return ""
	}
	if pe.Code == protocol.CodeMissingField {
		for _, field := range []string{protocol.FieldFJSEncData, protocol.FieldHSAEncData} {
			if pe.Message == protocol.FormatMessage(protocol.CodeMissingField, field) {
				return callHints[protocol.CodeCleartext]
			}
		}
		return ""
	}
	return callHints[pe.Code]
}

// callHints name what to check after the protocol faults a misconfigured
// client causes. The platform's response gives no reason, so as not to help
// an attacker.
var callHints = map[int]string{
	protocol.CodeUnknownChannel:  "Check --appid, and that --url is the platform's base URL without /gateway",
	protocol.CodeAuthFailed:      "Check --appsecret, and --token-mode against the channel's security mode",
	protocol.CodeBadTimestamp:    "Check this machine's clock: it must be within 10 minutes of the platform's",
	protocol.CodeBadSignature:    "Check --sign-type and --bizkey (and for SM2 --private-key, for RSA --rsa-private-key) against the channel's settings",
	protocol.CodeDecryptFailed:   "Check --salt, --enc-type and --key-derivation against the channel's settings",
	protocol.CodeUnknownFunction: "Check --funid, and that --url is the platform's base URL without /gateway",
	protocol.CodeCleartext:       "The channel requires encryption: leave --enc-type at its setting, not none",
}

// register adds the flags of f to fs.
func (f *clientFlags) register(fs *flagSet) {
	fs.StringVar(&f.url, "url", "", "base `URL` of the platform, such as https://gateway.example.com; requests go to its /gateway path")
	fs.StringVar(&f.appID, "appid", "", "channel's appid `A`")
	fs.StringVar(&f.appSecret, "appsecret", "", "channel's appsecret `S`, sent in key mode and exchanged for a token in token mode")
	fs.StringVar(&f.bizKey, "bizkey", "", "channel's bizkey `K`, the sign key appended to the sign string")
	fs.StringVar(&f.salt, "salt", "", "channel's salt `T`, the key source of the salt and salt-hex derivations")
	fs.StringVar(&f.signType, "sign-type", string(protocol.SignSM3), "signature algorithm `T`: SM3, MD5, SM2 or RSA")
	fs.StringVar(&f.encType, "enc-type", string(protocol.EncSM4), "payload encryption `E`: SM4, AES or none")
	fs.StringVar(&f.keyDerivation, "key-derivation", string(protocol.DeriveSalt),
		"how the 16-byte data key is made, `D`: salt, salt-hex, appid or raw:KEY")
	fs.BoolVar(&f.tokenMode, "token-mode", false, "fetch an access token from /oauth/token and send it in place of the appsecret")
	fs.StringVar(&f.privateKey, "private-key", "",
		"channel's SM2 private key `P` (hex or base64 of the 32-byte scalar, or PEM), which signs with sign type SM2; @FILE reads it from FILE")
	fs.StringVar(&f.platformPublicKey, "platform-public-key", "",
		"platform's SM2 public key `Q` (hex or base64 of the 65-byte point 04‖X‖Y, or PEM), which verifies responses with sign type SM2; @FILE reads it from FILE")
	fs.StringVar(&f.rsaPrivateKey, "rsa-private-key", "",
		"channel's RSA private key `P` (PEM or base64 DER, PKCS #1 or PKCS #8, at least 2048 bits), which signs with sign type RSA; @FILE reads it from FILE")
	fs.StringVar(&f.platformRSAPublicKey, "platform-rsa-public-key", "",
		"platform's RSA public key `Q` (PEM or base64 DER, as channel add prints it), which verifies responses with sign type RSA; @FILE reads it from FILE")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "maximum `duration` of each HTTP exchange, such as 10s")
}

// checkAddress reports a missing --url or --appid, so a command can report
// them before its own missing flags.
func (f *clientFlags) checkAddress() error {
	switch {
	case f.url == "":
		return usagef("missing --url: set the platform's base URL, such as https://gateway.example.com")
	case f.appID == "":
		return usagef("missing --appid: set the channel's appid")
	}
	return nil
}

// newClient checks the flags and builds the SDK client they describe. fs
// is the parsed flag set that f was registered with.
func (f *clientFlags) newClient(fs *flagSet) (*sdk.Client, error) {
	if err := f.checkAddress(); err != nil {
		return nil, err
	}
	if f.timeout <= 0 {
		return nil, usagef("invalid --timeout %v: set a positive duration, such as 30s", f.timeout)
	}
	keyDerivationSet := flagGiven(fs.FlagSet, "key-derivation")
	signType, err := protocol.ParseSignType(f.signType)
	if err != nil {
		return nil, usagef("invalid --sign-type: %v", err)
	}
	encType, err := protocol.ParseEncType(f.encType)
	if err != nil {
		return nil, usagef("invalid --enc-type: %v", err)
	}

	options := []sdk.Option{
		sdk.WithCredentials(f.appSecret, f.bizKey, f.salt),
		sdk.WithSignType(signType),
		sdk.WithEncType(encType),
		sdk.WithTokenMode(f.tokenMode),
		sdk.WithHTTPClient(&http.Client{
			Timeout: f.timeout,
			// A redirected request would carry the channel's credentials to
			// another address.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}),
	}
	// With enc type none the default derivation is ignored, but one given
	// on the command line is passed on, so the SDK reports the conflict.
	if encType != protocol.EncNone || keyDerivationSet {
		options = append(options, sdk.WithKeyDerivation(f.keyDerivation))
	}
	if f.privateKey != "" {
		text, err := readKeyText("--private-key", f.privateKey)
		if err != nil {
			return nil, err
		}
		options = append(options, sdk.WithSM2PrivateKey(text))
	}
	if f.platformPublicKey != "" {
		text, err := readKeyText("--platform-public-key", f.platformPublicKey)
		if err != nil {
			return nil, err
		}
		options = append(options, sdk.WithPlatformPublicKey(text))
	}
	if f.rsaPrivateKey != "" {
		text, err := readKeyText("--rsa-private-key", f.rsaPrivateKey)
		if err != nil {
			return nil, err
		}
		options = append(options, sdk.WithRSAPrivateKey(text))
	}
	if f.platformRSAPublicKey != "" {
		text, err := readKeyText("--platform-rsa-public-key", f.platformRSAPublicKey)
		if err != nil {
			return nil, err
		}
		options = append(options, sdk.WithPlatformRSAPublicKey(text))
	}

	client, err := sdk.New(f.url, f.appID, options...)
	if err != nil {
		return nil, withHint(usagef("%v", err), "Check the flags against the channel's settings")
	}
	return client, nil
}
