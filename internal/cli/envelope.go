package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"chsgate/protocol"
)

var envelopeCommand = &command{
	name:    "envelope",
	summary: "compute sign strings, sign, verify, seal and open messages offline",
	subcommands: []*command{
		{name: "sign-string", summary: "print the sign string of a plaintext message", run: runSignString},
		{name: "sign", summary: "print the signature of a plaintext message", run: runSign},
		{name: "verify", summary: "check the signature of a plaintext message", run: runVerify},
		{name: "open", summary: "decrypt a message and check its signature", run: runOpen},
		{name: "seal", summary: "sign and encrypt business content into a request", run: runSeal},
	},
}

// envelopeFlags holds the flag values of the envelope commands. Each command
// registers only the flags it reads.
type envelopeFlags struct {
	profile       string
	key           string
	signType      string
	privateKey    string
	publicKey     string
	appID         string
	appSecret     string
	salt          string
	encType       string
	keyDerivation string
	funID         string
	timestamp     string
}

func runSignString(_ context.Context, s *streams, path string, args []string) error {
	var f envelopeFlags
	fs := newFlagSet(path, "--profile fjs|hsa --key K < message.json",
		"Prints the canonical sign string of a plaintext message: its fields without the\n"+
			"signature, sorted by name and joined by &, then &key= and --key.")
	f.addProfile(fs)
	f.addKey(fs)
	if err := fs.parse(s, args); err != nil {
		return err
	}
	p, err := f.parseProfile()
	if err != nil {
		return err
	}
	if err := f.requireKey(); err != nil {
		return err
	}

	message, err := readInput(s)
	if err != nil {
		return err
	}
	signString, err := plaintextSignString(p, message, f.key)
	if err != nil {
		return err
	}
	return writeLine(s.stdout, signString)
}

func runSign(_ context.Context, s *streams, path string, args []string) error {
	var f envelopeFlags
	fs := newFlagSet(path, "--profile fjs|hsa --sign-type T --key K [--private-key P] < message.json",
		"Prints the signature of a plaintext message, the value of its chs_fjs_sign (fjs)\n"+
			"or signData (hsa). SM2 and RSA sign with --private-key.")
	f.addProfile(fs)
	f.addSignType(fs)
	f.addKey(fs)
	f.addPrivateKey(fs)
	input, err := f.readPlaintext(s, fs, args, false)
	if err != nil {
		return err
	}
	signature, err := input.keys.Signer.Sign(input.signString)
	if err != nil {
		return fmt.Errorf("sign the message: %w", err)
	}
	return writeLine(s.stdout, []byte(signature))
}

func runVerify(_ context.Context, s *streams, path string, args []string) error {
	var f envelopeFlags
	fs := newFlagSet(path, "--profile fjs|hsa --sign-type T --key K [--public-key Q] < message.json",
		"Checks the signature of a plaintext message, its chs_fjs_sign (fjs) or signData\n"+
			"(hsa). Prints \"valid\" and exits with 0 when it matches, exits with 1 when it\n"+
			"does not. SM2 and RSA verify with --public-key.")
	f.addProfile(fs)
	f.addSignType(fs)
	f.addKey(fs)
	f.addPublicKey(fs)
	input, err := f.readPlaintext(s, fs, args, true)
	if err != nil {
		return err
	}
	p, signType := input.profile, input.signType
	fields := topLevelFields(input.message)
	signature, err := stringField(fields, signatureField(p))
	if err != nil {
		return err
	}
	if signature == "" {
		return withHint(protocol.NewError(protocol.CodeMissingField, signatureField(p)), "The message carries no signature to verify")
	}
	// The hsa profile names its sign type in the message. Accepting another
	// one than the caller expects would let the message choose the algorithm.
	if p == protocol.ProfileHSA {
		sent, err := stringField(fields, protocol.FieldHSASignType)
		if err != nil {
			return err
		}
		if sent != "" && sent != string(signType) {
			return withHint(protocol.Wrap(protocol.CodeBadSignature,
				fmt.Errorf("the message's signType %s differs from --sign-type %s", sent, signType)),
				"Set --sign-type to the channel's sign type")
		}
	}
	if err := input.keys.Verifier.Verify(input.signString, signature); err != nil {
		return withHint(protocol.Wrap(protocol.CodeBadSignature, err), verifyHint(signType))
	}
	return writeLine(s.stdout, []byte("valid"))
}

// plaintextInput is the input of sign and verify: a plaintext message from
// standard input, its sign string, and the keys that sign or verify it.
type plaintextInput struct {
	profile    protocol.Profile
	signType   protocol.SignType
	keys       *protocol.Keys
	message    []byte
	signString []byte
}

// readPlaintext parses the flags of sign, or of verify when verify is set,
// then reads the message and builds its sign string.
func (f *envelopeFlags) readPlaintext(s *streams, fs *flagSet, args []string, verify bool) (*plaintextInput, error) {
	if err := fs.parse(s, args); err != nil {
		return nil, err
	}
	p, err := f.parseProfile()
	if err != nil {
		return nil, err
	}
	if err := f.requireKey(); err != nil {
		return nil, err
	}
	signType, err := f.parseSignType()
	if err != nil {
		return nil, err
	}
	keys, err := f.signatureKeys(signType, verify)
	if err != nil {
		return nil, err
	}

	message, err := readInput(s)
	if err != nil {
		return nil, err
	}
	signString, err := plaintextSignString(p, message, f.key)
	if err != nil {
		return nil, err
	}
	return &plaintextInput{profile: p, signType: signType, keys: keys, message: message, signString: signString}, nil
}

func runOpen(_ context.Context, s *streams, path string, args []string) error {
	var f envelopeFlags
	fs := newFlagSet(path, "--profile fjs|hsa --appid A --appsecret S [--salt T] [--enc-type E] [--key-derivation D]\n"+
		"       [--key K --sign-type T [--public-key Q]] < message.json",
		"Decrypts a request or a response and prints it as plaintext JSON: its protocol\n"+
			"fields, the payload in clear and the signature. With --key it also checks the\n"+
			"signature and exits with 1 when it does not match. Without --key it only decrypts.\n"+
			"An fjs message is a response when it has code but neither chs_fjs_appid nor\n"+
			"chs_fjs_funid, and an hsa message is one when it has respCode.")
	f.addProfile(fs)
	f.addChannel(fs)
	fs.StringVar(&f.key, "key", "", "sign key appended to the sign string as &key=`K`: the bizkey for fjs, the appSecret for hsa. Checks the signature when set")
	f.addSignType(fs)
	f.addPublicKey(fs)
	if err := fs.parse(s, args); err != nil {
		return err
	}
	p, err := f.parseProfile()
	if err != nil {
		return err
	}
	if f.appID == "" {
		return usagef("missing --appid: set the channel's appid")
	}
	keys := &protocol.Keys{AcceptUnsigned: true}
	verifying := f.key != ""
	if verifying {
		signType, err := f.parseSignType()
		if err != nil {
			return err
		}
		if keys, err = f.signatureKeys(signType, true); err != nil {
			return err
		}
	} else if f.signType != "" || f.publicKey != "" {
		return usagef("--sign-type and --public-key need --key: set the sign key to check the signature, or leave them out to only decrypt")
	}
	if keys.Cipher, err = f.newCipher(p); err != nil {
		return err
	}

	message, err := readInput(s)
	if err != nil {
		return err
	}
	envelope, err := decodeEnvelope(p, message)
	if err != nil {
		return withHint(err, fmt.Sprintf("Standard input must be one %s request or response", p))
	}
	if envelope.AppID != "" && envelope.AppID != f.appID {
		return fmt.Errorf("the message's appid %q differs from --appid %q: open it with that channel's secrets", envelope.AppID, f.appID)
	}
	opened, err := envelope.Open(keys)
	if err != nil {
		return withHint(err, openHint(err, p, keys))
	}
	if err := writeLine(s.stdout, opened.Plaintext()); err != nil {
		return err
	}
	if !verifying {
		fmt.Fprintf(s.stderr, "%s: signature not checked because --key is not set\n", programName)
	}
	return nil
}

func runSeal(_ context.Context, s *streams, path string, args []string) error {
	var f envelopeFlags
	fs := newFlagSet(path, "--profile fjs|hsa --appid A --appsecret S [--salt T] [--enc-type E] [--key-derivation D]\n"+
		"       --sign-type T --key K [--private-key P] --funid F [--timestamp TS] < business.json",
		"Builds a request from business content: signs the plaintext, encrypts the payload\n"+
			"and prints the sealed message. For fjs the input is one JSON object whose members\n"+
			"become the business fields, and --appsecret is sent in chs_fjs_appsecret. For hsa\n"+
			"the input is the value of data.")
	f.addProfile(fs)
	f.addChannel(fs)
	f.addSignType(fs)
	f.addKey(fs)
	f.addPrivateKey(fs)
	fs.StringVar(&f.funID, "funid", "", "function id `F`, sent in chs_fjs_funid (fjs) or transType (hsa)")
	fs.StringVar(&f.timestamp, "timestamp", "",
		"message timestamp `TS` as sent: Unix milliseconds for fjs, yyyyMMddHHmmssSSS in Asia/Shanghai for hsa (default now)")
	if err := fs.parse(s, args); err != nil {
		return err
	}
	p, err := f.parseProfile()
	if err != nil {
		return err
	}
	if f.appID == "" {
		return usagef("missing --appid: set the channel's appid")
	}
	if f.funID == "" {
		return usagef("missing --funid: set the function id, for example CI00.01.00.03")
	}
	if p == protocol.ProfileFJS && f.appSecret == "" {
		return usagef("missing --appsecret: an fjs request sends it in chs_fjs_appsecret")
	}
	if err := f.requireKey(); err != nil {
		return err
	}
	signType, err := f.parseSignType()
	if err != nil {
		return err
	}
	keys, err := f.signatureKeys(signType, false)
	if err != nil {
		return err
	}
	if keys.Cipher, err = f.newCipher(p); err != nil {
		return err
	}
	timestamp := f.timestamp
	if timestamp == "" {
		timestamp = p.FormatTimestamp(time.Now())
	} else if _, err := p.ParseTimestamp(timestamp); err != nil {
		return usagef("invalid --timestamp: %v", err)
	}

	payload, err := readInput(s)
	if err != nil {
		return err
	}
	request := &protocol.Request{AppID: f.appID, FunID: f.funID, Timestamp: timestamp, Payload: payload}
	if p == protocol.ProfileFJS {
		request.AppSecret = f.appSecret
	}
	sealed, err := p.SealRequest(keys, request)
	if err != nil {
		return fmt.Errorf("seal the request: %w", err)
	}
	return writeLine(s.stdout, sealed)
}

func (f *envelopeFlags) addProfile(fs *flagSet) {
	fs.StringVar(&f.profile, "profile", "", "envelope layout `P`: fjs (chs_fjs_* fields) or hsa (appId, data, signData)")
}

func (f *envelopeFlags) addKey(fs *flagSet) {
	fs.StringVar(&f.key, "key", "", "sign key appended to the sign string as &key=`K`: the bizkey for fjs, the appSecret for hsa")
}

func (f *envelopeFlags) addSignType(fs *flagSet) {
	fs.StringVar(&f.signType, "sign-type", "", "signature algorithm `T`: MD5, SM3, SM2 or RSA")
}

func (f *envelopeFlags) addPrivateKey(fs *flagSet) {
	fs.StringVar(&f.privateKey, "private-key", "",
		"signer's private key `P` for SM2 (hex or base64 of the 32-byte scalar, or PEM) or RSA (PEM or base64 DER); @FILE reads it from FILE")
}

func (f *envelopeFlags) addPublicKey(fs *flagSet) {
	fs.StringVar(&f.publicKey, "public-key", "",
		"signer's public key `Q` for SM2 (hex or base64 of the 65-byte point 04‖X‖Y, or PEM) or RSA (PEM or base64 DER); @FILE reads it from FILE")
}

// addChannel registers the flags that make the data key.
func (f *envelopeFlags) addChannel(fs *flagSet) {
	fs.StringVar(&f.appID, "appid", "",
		"channel's appid `A`, sent in chs_fjs_appid or appId; the key source of the appid derivation")
	fs.StringVar(&f.appSecret, "appsecret", "", "channel's appsecret `S`, the secret the data key is derived from")
	fs.StringVar(&f.salt, "salt", "", "channel's salt `T`, the key source of the salt and salt-hex derivations")
	fs.StringVar(&f.encType, "enc-type", string(protocol.EncSM4), "payload encryption `E`: SM4, AES or none")
	fs.StringVar(&f.keyDerivation, "key-derivation", "",
		"how the 16-byte data key is made, `D`: salt, salt-hex, appid or raw:KEY (default salt for fjs, appid for hsa)")
}

func (f *envelopeFlags) parseProfile() (protocol.Profile, error) {
	if f.profile == "" {
		return 0, usagef("missing --profile: set fjs or hsa")
	}
	p, err := protocol.ParseProfile(f.profile)
	if err != nil {
		return 0, usagef("invalid --profile: %v", err)
	}
	return p, nil
}

func (f *envelopeFlags) requireKey() error {
	if f.key == "" {
		return usagef("missing --key: set the sign key, the bizkey for fjs or the appSecret for hsa")
	}
	return nil
}

func (f *envelopeFlags) parseSignType() (protocol.SignType, error) {
	if f.signType == "" {
		return "", usagef("missing --sign-type: set MD5, SM3, SM2 or RSA")
	}
	t, err := protocol.ParseSignType(f.signType)
	if err != nil {
		return "", usagef("invalid --sign-type: %v", err)
	}
	return t, nil
}

// signatureKeys returns Keys whose Signer (or, with verify, Verifier) has
// sign type t. SM2 and RSA take --private-key or --public-key. The digest
// types reject those flags, because a key that is silently ignored suggests
// an asymmetric signature where there is none.
func (f *envelopeFlags) signatureKeys(t protocol.SignType, verify bool) (*protocol.Keys, error) {
	flagName, value, role := "--private-key", f.privateKey, "private"
	if verify {
		flagName, value, role = "--public-key", f.publicKey, "public"
	}
	config := protocol.KeyConfig{SignType: t, SignKey: f.key}
	if t != protocol.SignSM2 && t != protocol.SignRSA {
		if value != "" {
			return nil, usagef("%s is used only with sign type SM2 or RSA, not %s: leave it out", flagName, t)
		}
		return protocol.NewKeys(config)
	}
	if value == "" {
		return nil, usagef("missing %s: sign type %s needs the signer's %s key", flagName, t, role)
	}

	text, err := readKeyText(flagName, value)
	if err != nil {
		return nil, err
	}
	switch {
	case t == protocol.SignSM2 && verify:
		config.SM2PublicKey, err = protocol.ParseSM2PublicKey(text)
	case t == protocol.SignSM2:
		config.SM2PrivateKey, err = protocol.ParseSM2PrivateKey(text)
	case verify:
		config.RSAPublicKey, err = protocol.ParseRSAPublicKey(text)
	default:
		config.RSAPrivateKey, err = protocol.ParseRSAPrivateKey(text)
	}
	if err != nil {
		return nil, usagef("invalid %s for sign type %s: %v", flagName, t, err)
	}
	return protocol.NewKeys(config)
}

// newCipher returns the payload cipher set by --enc-type, or nil for none.
// RSA and PKCS7 are left out because they need certificates or key pairs
// that these commands have no flags for.
func (f *envelopeFlags) newCipher(p protocol.Profile) (protocol.Cipher, error) {
	t, err := protocol.ParseEncType(f.encType)
	if err != nil {
		return nil, usagef("invalid --enc-type: %v", err)
	}
	switch t {
	case protocol.EncNone:
		return nil, nil
	case protocol.EncSM4, protocol.EncAES:
	default:
		return nil, usagef("--enc-type %s is not supported by the envelope commands: use SM4, AES or none", t)
	}

	name := f.keyDerivation
	if name == "" {
		name = string(defaultDerivation(p))
	}
	derivation, rawKey, err := protocol.ParseKeyDerivation(name)
	if err != nil {
		return nil, usagef("invalid --key-derivation: %v", err)
	}
	switch derivation {
	case protocol.DeriveSalt, protocol.DeriveSaltHex:
		if f.salt == "" {
			return nil, usagef("missing --salt: the %s key derivation makes the data key from the channel's salt", derivation)
		}
	}
	switch derivation {
	case protocol.DeriveSalt, protocol.DeriveAppID:
		if f.appSecret == "" {
			return nil, usagef("missing --appsecret: the %s key derivation encrypts it into the data key", derivation)
		}
	}
	secrets := protocol.ChannelSecrets{AppID: f.appID, AppSecret: f.appSecret, Salt: f.salt, RawKey: rawKey}
	key, err := protocol.DeriveDataKey(t, derivation, secrets)
	if err != nil {
		return nil, usagef("derive the data key: %v. Check --key-derivation and the value it derives from", err)
	}
	c, err := protocol.NewBlockCipher(t, key)
	if err != nil {
		return nil, fmt.Errorf("create the %s cipher: %w", t, err)
	}
	return c, nil
}

// defaultDerivation returns the data key derivation each profile's peers
// use: the hsa platform derives from the appId, fjs channels from their salt.
func defaultDerivation(p protocol.Profile) protocol.KeyDerivation {
	if p == protocol.ProfileHSA {
		return protocol.DeriveAppID
	}
	return protocol.DeriveSalt
}

// readKeyText returns the key given in a flag. A value of @FILE reads the
// key from FILE, which keeps a private key out of the process list and the
// shell history.
func readKeyText(flagName, value string) (string, error) {
	path, ok := strings.CutPrefix(value, "@")
	if !ok {
		return value, nil
	}
	data, err := readKeyFile(path)
	if err != nil {
		return "", usagef("read %s: %v. Check the path after @", flagName, err)
	}
	return string(data), nil
}

// maxKeyFileBytes limits a key file. A PEM RSA private key of 8192 bits is
// about 6.5 KB, so the limit only stops a wrong path, such as /dev/zero or
// a disk image, from exhausting memory.
const maxKeyFileBytes = 64 << 10

// readKeyFile reads a key file of at most maxKeyFileBytes.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("%s is larger than %d KiB, too large for a key file", path, maxKeyFileBytes>>10)
	}
	return data, nil
}

// plaintextSignString returns the sign string of a plaintext message. It
// rejects an encrypted message, because the sign string leaves out the
// ciphertext and so would not match what the sender signed.
func plaintextSignString(p protocol.Profile, message []byte, key string) ([]byte, error) {
	signString, err := p.SignString(message, key)
	if err != nil {
		return nil, withHint(err, "Standard input must be one JSON object")
	}
	if ciphertext := ciphertextField(p); hasValue(topLevelFields(message), ciphertext) {
		return nil, fmt.Errorf("the message is encrypted: it has %s. Run 'chsgate envelope open' to decrypt it and check its signature", ciphertext)
	}
	return signString, nil
}

// decodeEnvelope decodes a request or a response of profile p, telling them
// apart by their fields. An fjs request needs chs_fjs_appid and
// chs_fjs_funid, which a response lacks, and only an hsa response has
// respCode. A message that is neither decodes as a request, so the error
// names the missing request field.
func decodeEnvelope(p protocol.Profile, message []byte) (*protocol.Envelope, error) {
	fields := topLevelFields(message)
	var response bool
	if p == protocol.ProfileHSA {
		response = hasValue(fields, protocol.FieldHSARespCode)
	} else {
		response = hasValue(fields, "code") && !hasValue(fields, protocol.FieldFJSAppID) && !hasValue(fields, protocol.FieldFJSFunID)
	}
	if response {
		return p.DecodeResponse(message)
	}
	return p.DecodeRequest(message)
}

// topLevelFields returns the members of message by name, or nil when message
// is not a JSON object. Callers pass message to the protocol package too,
// which reports why it is not one.
func topLevelFields(message []byte) map[string]json.RawMessage {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(message, &fields); err != nil {
		return nil
	}
	return fields
}

// hasValue reports whether fields has name with a value other than null,
// as the protocol package counts presence.
func hasValue(fields map[string]json.RawMessage, name string) bool {
	value, ok := fields[name]
	return ok && string(value) != "null"
}

// stringField returns the string value of fields[name], or "" when it is
// absent or null.
func stringField(fields map[string]json.RawMessage, name string) (string, error) {
	if !hasValue(fields, name) {
		return "", nil
	}
	var value string
	if err := json.Unmarshal(fields[name], &value); err != nil {
		return "", protocol.Wrap(protocol.CodeMalformed, fmt.Errorf("field %s is not a JSON string", name))
	}
	return value, nil
}

func signatureField(p protocol.Profile) string {
	if p == protocol.ProfileHSA {
		return protocol.FieldHSASignData
	}
	return protocol.FieldFJSSign
}

func ciphertextField(p protocol.Profile) string {
	if p == protocol.ProfileHSA {
		return protocol.FieldHSAEncData
	}
	return protocol.FieldFJSEncData
}

func verifyHint(t protocol.SignType) string {
	if t == protocol.SignSM2 || t == protocol.SignRSA {
		return "Check --key, --sign-type and --public-key against the signer's, and that the message is unchanged"
	}
	return "Check --key and --sign-type against the signer's, and that the message is unchanged"
}

// openHint returns the next step after Open failed with err.
func openHint(err error, p protocol.Profile, keys *protocol.Keys) string {
	switch protocol.CodeOf(err) {
	case protocol.CodeDecryptFailed:
		return "Check the ciphertext, and --appid, --appsecret, --salt, --enc-type and --key-derivation against the channel's settings"
	case protocol.CodeCleartext:
		return "The payload is in clear: pass --enc-type none to open it"
	case protocol.CodeMissingField:
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Message == protocol.FormatMessage(protocol.CodeMissingField, ciphertextField(p)) {
			return "The request has no ciphertext: pass --enc-type none to open a request in clear"
		}
		return "The message is unsigned: leave out --key to only decrypt it"
	case protocol.CodeBadSignature:
		if keys.Verifier != nil {
			return verifyHint(keys.Verifier.SignType())
		}
	}
	return "Check the message and the flags against the channel's settings"
}
