package protocol

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Keys is one side's view of a channel: how it signs what it sends, how it
// verifies what it receives, and how payloads are encrypted.
type Keys struct {
	// SignKey is appended to every sign string as "&key=": the bizkey in the
	// fjs profile, the appSecret in the hsa profile.
	SignKey string
	// Signer signs sealed messages. Sealing without one sends no signature.
	Signer Signer
	// Verifier checks opened messages. Without one, Open rejects every
	// message unless AcceptUnsigned is set.
	Verifier Verifier
	// AcceptUnsigned lets Open accept a message that carries no signature:
	// only for anonymous internal channels and for tools that decrypt
	// without checking. A message that carries a signature is still
	// verified when there is a Verifier.
	AcceptUnsigned bool
	// Cipher encrypts payloads; nil sends them in clear.
	Cipher Cipher
}

// Envelope is a decoded message whose protocol fields are known and checked
// for type, but whose signature and ciphertext are not yet opened. The
// gateway reads AppID to find the channel's Keys, then calls Open.
type Envelope struct {
	Profile  Profile
	Response bool

	AppID     string // chs_fjs_appid, appId or appCode
	AppSecret string // chs_fjs_appsecret (fjs key mode)
	Token     string // chs_fjs_token (fjs token mode)
	FunID     string // chs_fjs_funid or transType
	Timestamp string // as sent, without quotes
	Version   string // hsa version
	SignType  string // hsa signType, as sent
	EncType   string // hsa encType, as sent
	Code      int    // response code or respCode
	Message   string // response message or respMsg
	Signature string // chs_fjs_sign or signData

	members   object
	encrypted bool
	encData   member
}

// Opened is an envelope whose ciphertext is decrypted and whose signature is
// verified.
type Opened struct {
	// Payload is the business content: for an fjs request, one JSON object
	// of its business fields; otherwise the value of data. It is nil when
	// the message carries none.
	Payload []byte
	// SignDigest is the SHA-256 of the sign string without its trailing
	// "key=" and sign key: the key for replay detection, which re-encoding a
	// signature does not change.
	SignDigest [sha256.Size]byte

	profile   Profile
	plaintext object
}

// Plaintext returns the message as it was before sealing: protocol fields,
// the payload in clear, and the signature.
func (o *Opened) Plaintext() []byte {
	return appendObject(nil, o.plaintext)
}

var errCleartextAndCiphertext = errors.New("business fields arrive both in clear and encrypted")

// DecodeRequest parses a request (or a callback) of profile p and checks its
// protocol fields. It returns CodeMalformed for a body that is not one UTF-8
// JSON object or has a protocol field of the wrong type, and
// CodeMissingField for a missing required field. Open checks the signature.
func (p Profile) DecodeRequest(body []byte) (*Envelope, error) {
	return p.decode(body, false)
}

// DecodeResponse parses a response of profile p, as DecodeRequest does. A
// response whose Code is a protocol fault is unsigned; check
// IsProtocolCode(Code) before calling Open.
func (p Profile) DecodeResponse(body []byte) (*Envelope, error) {
	return p.decode(body, true)
}

func (p Profile) decode(body []byte, response bool) (*Envelope, error) {
	members, err := parseObject(body)
	if err != nil {
		return nil, Wrap(CodeMalformed, err)
	}
	e := &Envelope{Profile: p, Response: response, members: members}
	r := fieldReader{members: members}

	r.text(p.SignField(), &e.Signature)
	if m, ok := members.get(p.EncField()); ok && m.kind() != 'n' {
		if m.kind() != '"' {
			return nil, Wrap(CodeMalformed, fmt.Errorf("field %s is a JSON %s, want a string", p.EncField(), kindName(m.kind())))
		}
		e.encrypted, e.encData = true, m
	}
	switch {
	case p == ProfileFJS && !response:
		r.required(FieldFJSAppID, &e.AppID)
		r.text(FieldFJSAppSecret, &e.AppSecret)
		r.text(FieldFJSToken, &e.Token)
		r.required(FieldFJSFunID, &e.FunID)
		r.requiredNumberText(FieldFJSTimestamp, &e.Timestamp)
	case p == ProfileFJS:
		r.code("code", &e.Code)
		r.text("message", &e.Message)
		r.numberText(FieldFJSTimestamp, &e.Timestamp)
	case !response:
		var appID, appCode string
		r.text(FieldHSAAppID, &appID)
		r.text(FieldHSAAppCode, &appCode)
		switch {
		case appID != "" && appCode != "" && appID != appCode:
			r.fail(Wrap(CodeMalformed, errors.New("appId and appCode differ")))
		case appID != "":
			e.AppID = appID
		case appCode != "":
			e.AppID = appCode
		default:
			r.fail(NewError(CodeMissingField, FieldHSAAppID))
		}
		// transType is optional here because the national platform's own
		// clients send it outside the body; a gateway that routes by it
		// checks it is present.
		r.text(FieldHSATransType, &e.FunID)
		r.requiredNumberText(FieldHSATimestamp, &e.Timestamp)
		r.text(FieldHSAVersion, &e.Version)
		r.text(FieldHSASignType, &e.SignType)
		r.text(FieldHSAEncType, &e.EncType)
	default:
		r.code(FieldHSARespCode, &e.Code)
		r.text(FieldHSARespMsg, &e.Message)
		r.numberText(FieldHSATimestamp, &e.Timestamp)
		r.text(FieldHSASignType, &e.SignType)
		r.text(FieldHSAEncType, &e.EncType)
	}
	if r.err != nil {
		return nil, r.err
	}
	return e, nil
}

// fieldReader extracts protocol fields, keeping the first error.
type fieldReader struct {
	members object
	err     error
}

func (r *fieldReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// text reads an optional string field; null counts as absent.
func (r *fieldReader) text(name string, dst *string) {
	m, ok := r.members.get(name)
	if !ok || m.kind() == 'n' {
		return
	}
	s, ok := m.text()
	if !ok {
		r.fail(Wrap(CodeMalformed, fmt.Errorf("field %s is a JSON %s, want a string", name, kindName(m.kind()))))
		return
	}
	*dst = s
}

func (r *fieldReader) required(name string, dst *string) {
	r.text(name, dst)
	if *dst == "" {
		r.fail(NewError(CodeMissingField, name))
	}
}

// numberText reads a field sent as a JSON number or a string, returning its
// text without quotes.
func (r *fieldReader) numberText(name string, dst *string) {
	m, ok := r.members.get(name)
	if !ok || m.kind() == 'n' {
		return
	}
	if m.kind() == '0' {
		*dst = string(m.value)
		return
	}
	r.text(name, dst)
}

func (r *fieldReader) requiredNumberText(name string, dst *string) {
	r.numberText(name, dst)
	if *dst == "" {
		r.fail(NewError(CodeMissingField, name))
	}
}

// code reads a result code sent as a JSON number or a numeric string.
func (r *fieldReader) code(name string, dst *int) {
	var text string
	r.numberText(name, &text)
	if text == "" {
		r.fail(NewError(CodeMissingField, name))
		return
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		r.fail(Wrap(CodeMalformed, fmt.Errorf("field %s is %q, want an integer", name, text)))
		return
	}
	*dst = n
}

var signStringPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// Open decrypts the payload with k.Cipher when the message is encrypted,
// then verifies the signature over the plaintext with k.Verifier. It returns
// CodeDecryptFailed for ciphertext that does not decrypt to JSON,
// CodeCleartext for business fields in clear when k requires encryption,
// CodeMissingField for a missing signature and CodeBadSignature for a wrong
// one.
func (e *Envelope) Open(k *Keys) (*Opened, error) {
	p := e.Profile
	flat := p.flatPayload(e.Response)
	o := &Opened{profile: p}

	plaintext := make(object, 0, len(e.members))
	for _, m := range e.members {
		if m.name != p.EncField() {
			plaintext = append(plaintext, m)
		}
	}

	if e.encrypted {
		if k.Cipher == nil {
			return nil, Wrap(CodeDecryptFailed, errors.New("message is encrypted but the channel has no encryption configured"))
		}
		if e.EncType != "" && EncType(e.EncType) != k.Cipher.EncType() {
			return nil, Wrap(CodeDecryptFailed, fmt.Errorf("encType %s differs from the channel's %s", e.EncType, k.Cipher.EncType()))
		}
		ciphertext, err := p.decodeCiphertextText(e.encData)
		if err != nil {
			return nil, Wrap(CodeDecryptFailed, err)
		}
		// The ciphertext buffer is ours, so a block cipher decrypts in place.
		var clear []byte
		if block, ok := k.Cipher.(*BlockCipher); ok {
			clear, err = block.decryptInPlace(ciphertext)
		} else {
			clear, err = k.Cipher.Decrypt(ciphertext)
		}
		if err != nil {
			return nil, Wrap(CodeDecryptFailed, err)
		}
		if flat {
			plaintext, o.Payload, err = mergeDecryptedFields(plaintext, clear)
		} else {
			plaintext, o.Payload, err = mergeDecryptedData(plaintext, clear)
		}
		if err != nil {
			return nil, err
		}
	} else {
		if k.Cipher != nil && hasClearPayload(plaintext, flat) {
			return nil, NewError(CodeCleartext)
		}
		o.Payload = clearPayload(plaintext, flat)
	}

	bufp := signStringPool.Get().(*[]byte)
	defer signStringPool.Put(bufp)
	signString, err := p.appendSignString((*bufp)[:0], plaintext, k.SignKey)
	*bufp = signString[:0]
	if err != nil {
		return nil, Wrap(CodeMalformed, err)
	}
	// The digest leaves out the trailing key=..., so a stored digest reveals
	// nothing about the channel's sign key.
	o.SignDigest = sha256.Sum256(signString[:len(signString)-len("key=")-len(k.SignKey)])

	if k.Verifier == nil && !k.AcceptUnsigned {
		return nil, Wrap(CodeBadSignature, errors.New("no key to verify the signature with"))
	}
	if k.Verifier != nil && !(k.AcceptUnsigned && e.Signature == "") {
		if e.SignType != "" && SignType(e.SignType) != k.Verifier.SignType() {
			return nil, Wrap(CodeBadSignature, fmt.Errorf("signType %s differs from the channel's %s", e.SignType, k.Verifier.SignType()))
		}
		if e.Signature == "" {
			return nil, NewError(CodeMissingField, p.SignField())
		}
		if err := k.Verifier.Verify(signString, e.Signature); err != nil {
			return nil, Wrap(CodeBadSignature, err)
		}
	}
	o.plaintext = plaintext
	return o, nil
}

// mergeDecryptedFields adds the business fields decrypted from an fjs
// request to its plaintext members. The decrypted object may repeat a
// chs_fjs_* field only with the outer value; a business field may not arrive
// both in clear and encrypted.
func mergeDecryptedFields(plaintext object, decrypted []byte) (object, []byte, error) {
	for _, m := range plaintext {
		if !strings.HasPrefix(m.name, fjsPrefix) && !m.empty() {
			return nil, nil, Wrap(CodeCleartext, fmt.Errorf("field %s: %w", m.name, errCleartextAndCiphertext))
		}
	}
	doc, err := parseDocument(decrypted)
	if err == nil && doc.nodes[0].kind != '{' {
		err = fmt.Errorf("it is a JSON %s", kindName(doc.nodes[0].kind))
	}
	if err != nil {
		return nil, nil, Wrap(CodeDecryptFailed, fmt.Errorf("decrypted data is not a JSON object: %w", err))
	}
	outer := len(plaintext)
	if plaintext, err = doc.appendMembers(plaintext, 0); err != nil {
		return nil, nil, Wrap(CodeDecryptFailed, err)
	}

	next := outer
	repeatsProtocol := false
	for _, m := range plaintext[outer:] {
		if strings.HasPrefix(m.name, fjsPrefix) {
			repeatsProtocol = true
			if o, ok := plaintext[:outer].get(m.name); ok {
				if !sameScalar(o, m) {
					return nil, nil, Wrap(CodeMalformed, fmt.Errorf("field %s inside %s differs from the one outside", m.name, FieldFJSEncData))
				}
				continue
			}
		}
		plaintext[next] = m
		next++
	}
	clear(plaintext[next:])
	plaintext = plaintext[:next]
	if repeatsProtocol {
		return plaintext, clearPayload(plaintext, true), nil
	}
	return plaintext, decrypted, nil
}

// mergeDecryptedData sets data to the decrypted value.
func mergeDecryptedData(plaintext object, clear []byte) (object, []byte, error) {
	if m, ok := plaintext.get(FieldData); ok && !m.empty() {
		return nil, nil, Wrap(CodeCleartext, fmt.Errorf("field data: %w", errCleartextAndCiphertext))
	}
	doc, err := parseDocument(clear)
	if err != nil {
		return nil, nil, Wrap(CodeDecryptFailed, fmt.Errorf("decrypted data is not JSON: %w", err))
	}
	out := plaintext[:0:0]
	for _, m := range plaintext {
		if m.name != FieldData {
			out = append(out, m)
		}
	}
	return append(out, member{name: FieldData, value: clear, doc: doc}), clear, nil
}

// hasClearPayload reports whether a message carries business content in
// clear: a non-empty business field (fjs requests) or data.
func hasClearPayload(members object, flat bool) bool {
	for _, m := range members {
		if m.empty() {
			continue
		}
		if flat && !strings.HasPrefix(m.name, fjsPrefix) || !flat && m.name == FieldData {
			return true
		}
	}
	return false
}

// clearPayload returns the payload of a message that travels in clear: the
// business fields as one object, or the data value.
func clearPayload(members object, flat bool) []byte {
	if !flat {
		m, ok := members.get(FieldData)
		if !ok || m.kind() == 'n' {
			return nil
		}
		return m.value
	}
	var business object
	for _, m := range members {
		if !strings.HasPrefix(m.name, fjsPrefix) {
			business = append(business, m)
		}
	}
	return appendObject(nil, business)
}

// sameScalar compares two protocol field values by their text, so that
// "1631685457000" and 1631685457000 are the same timestamp.
func sameScalar(a, b member) bool {
	ta, ok := scalarText(a)
	if !ok {
		return false
	}
	tb, ok := scalarText(b)
	return ok && ta == tb
}

func scalarText(m member) (string, bool) {
	switch m.kind() {
	case '"':
		return m.text()
	case '0', 't', 'f':
		return string(m.value), true
	}
	return "", false
}

// appendObject writes members as one compact JSON object. Values are written
// as held: raw from the peer, or produced by this package.
func appendObject(dst []byte, members object) []byte {
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendQuoted(dst, m.name)
		dst = append(dst, ':')
		dst = append(dst, m.value...)
	}
	return append(dst, '}')
}
