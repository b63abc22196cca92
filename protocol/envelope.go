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

	doc       document
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
	// signature does not change. Only OpenWithDigest sets it.
	SignDigest [sha256.Size]byte

	profile   Profile
	flat      bool
	envelope  object // the message's members as received
	decrypted []byte // the decrypted payload; nil for a message in clear
}

// Plaintext returns the message as it was before sealing: protocol fields,
// the payload in clear, and the signature.
func (o *Opened) Plaintext() []byte {
	plaintext := o.outerPlaintext(nil)
	if o.decrypted != nil {
		// Open merged the same bytes without error. Only a caller that has
		// changed Payload since, which shares them, can make this fail, and
		// then the protocol fields alone are returned.
		if merged, _, err := o.merge(plaintext, new(document), o.decrypted); err == nil {
			plaintext = merged
		}
	}
	return appendObject(nil, plaintext)
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
	e := &Envelope{Profile: p, Response: response}
	if err := e.doc.parse(body); err != nil {
		return nil, Wrap(CodeMalformed, err)
	}
	members, err := e.doc.members(0)
	if err != nil {
		return nil, Wrap(CodeMalformed, err)
	}
	e.members = members
	r := fieldReader{members: members}
	// One buffer holds the texts of all protocol fields. 256 bytes fit them
	// unless a peer sends unusually long ones, and then the buffer grows.
	r.texts.Grow(256)

	r.text(p.SignField(), &e.Signature)
	if m, ok := members.get(p.EncField()); ok && m.kind() != 'n' {
		if m.kind() != '"' {
			return nil, Wrap(CodeMalformed, fmt.Errorf("field %s is a JSON %s, want a string", p.EncField(), kindName(m.kind())))
		}
		e.encrypted, e.encData = true, *m
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
	// texts holds the fields' texts one after another, so that a message
	// costs one allocation for them. Strings taken from a Builder stay
	// valid as it grows.
	texts strings.Builder
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
	if m.kind() != '"' {
		r.fail(Wrap(CodeMalformed, fmt.Errorf("field %s is a JSON %s, want a string", name, kindName(m.kind()))))
		return
	}
	r.set(dst, m.textBytes())
}

// set stores text in dst by way of r.texts.
func (r *fieldReader) set(dst *string, text []byte) {
	start := r.texts.Len()
	r.texts.Write(text)
	*dst = r.texts.String()[start:]
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
		r.set(dst, m.value)
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

// openScratch is the working memory of one Open, reused across calls.
// Nothing in it outlives the call.
type openScratch struct {
	doc        document // the decrypted business fields or data
	plaintext  object
	signString []byte
}

var openPool = sync.Pool{New: func() any { return new(openScratch) }}

// maxPooledBytes bounds the buffers a scratch may keep when it goes back to
// its pool, so one large reconciliation file does not stay in memory.
const (
	maxPooledBytes = 64 << 10
	maxPooledNodes = maxPooledBytes / 16 // a node is 16 bytes
)

func (s *openScratch) release() {
	// A call that failed part-way leaves members past the slice's length,
	// so the whole backing array is cleared.
	clear(s.plaintext[:cap(s.plaintext)])
	s.plaintext = s.plaintext[:0]
	s.doc.data = nil
	if cap(s.signString) > maxPooledBytes || cap(s.doc.nodes) > maxPooledNodes {
		return
	}
	openPool.Put(s)
}

// Open decrypts the payload with k.Cipher when the message is encrypted,
// then verifies the signature over the plaintext with k.Verifier. It returns
// CodeDecryptFailed for ciphertext that does not decrypt to JSON,
// CodeCleartext for business fields in clear when k requires encryption,
// CodeMissingField for a missing signature or for a request without
// ciphertext when k requires encryption, and CodeBadSignature for a wrong
// signature.
func (e *Envelope) Open(k *Keys) (*Opened, error) {
	return e.open(k, false)
}

// OpenWithDigest is Open that also sets SignDigest, for receivers that
// detect replays: the gateway for requests, the third party for callbacks.
// The digest costs a SHA-256 over the sign string, which the receiver of a
// response has no use for.
func (e *Envelope) OpenWithDigest(k *Keys) (*Opened, error) {
	return e.open(k, true)
}

func (e *Envelope) open(k *Keys, digest bool) (*Opened, error) {
	s := openPool.Get().(*openScratch)
	defer s.release()
	p := e.Profile
	o := &Opened{profile: p, flat: p.flatPayload(e.Response), envelope: e.members}

	plaintext := o.outerPlaintext(s.plaintext[:0])
	if e.encrypted {
		if k.Cipher == nil {
			return nil, Wrap(CodeDecryptFailed, errors.New("message is encrypted but the channel has no encryption configured"))
		}
		if e.EncType != "" && EncType(e.EncType) != k.Cipher.EncType() {
			return nil, Wrap(CodeDecryptFailed, fmt.Errorf("encType %s differs from the channel's %s", e.EncType, k.Cipher.EncType()))
		}
		ciphertext, err := p.appendCiphertext(nil, e.encData)
		if err != nil {
			return nil, Wrap(CodeDecryptFailed, err)
		}
		// The ciphertext buffer is ours, so a block cipher decrypts in place,
		// and the payload handed out is that buffer.
		var clear []byte
		if block, ok := k.Cipher.(*BlockCipher); ok {
			clear, err = block.decryptInPlace(ciphertext)
		} else {
			clear, err = k.Cipher.Decrypt(ciphertext)
		}
		if err != nil {
			return nil, Wrap(CodeDecryptFailed, err)
		}
		var repeatsProtocol bool
		if plaintext, repeatsProtocol, err = o.merge(plaintext, &s.doc, clear); err != nil {
			return nil, err
		}
		o.decrypted = clear
		o.Payload = o.decrypted
		if repeatsProtocol {
			o.Payload = clearPayload(plaintext, true)
		}
	} else {
		if k.Cipher != nil && hasClearPayload(plaintext, o.flat) {
			return nil, NewError(CodeCleartext)
		}
		// On an encrypting channel the ciphertext field is the only place
		// for a request's business content. A response may carry none,
		// such as one that reports a business error.
		if k.Cipher != nil && !e.Response {
			return nil, Wrap(CodeMissingField, fmt.Errorf("the channel encrypts, so a request carries its business content in %s", p.EncField()), p.EncField())
		}
		o.Payload = clearPayload(plaintext, o.flat)
	}
	s.plaintext = plaintext

	var err error
	if s.signString, err = p.appendSignString(s.signString[:0], plaintext, k.SignKey); err != nil {
		return nil, Wrap(CodeMalformed, err)
	}
	signString := s.signString
	if digest {
		// The digest leaves out the trailing key=..., so a stored digest
		// reveals nothing about the channel's sign key.
		o.SignDigest = sha256.Sum256(signString[:len(signString)-len("key=")-len(k.SignKey)])
	}

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
	return o, nil
}

// outerPlaintext appends the envelope's members except the ciphertext
// field to dst.
func (o *Opened) outerPlaintext(dst object) object {
	for _, m := range o.envelope {
		if string(m.name) != o.profile.EncField() {
			dst = append(dst, m)
		}
	}
	return dst
}

// merge adds the decrypted payload to the plaintext members, parsing it
// into doc. It reports whether the decrypted fields repeat protocol fields,
// which the payload then leaves out.
func (o *Opened) merge(plaintext object, doc *document, decrypted []byte) (object, bool, error) {
	if o.flat {
		return mergeDecryptedFields(plaintext, doc, decrypted)
	}
	plaintext, err := mergeDecryptedData(plaintext, doc, decrypted)
	return plaintext, false, err
}

// mergeDecryptedFields adds the business fields decrypted from an fjs
// request to its plaintext members, parsing them into doc. The decrypted
// object may repeat a chs_fjs_* field only with the outer value; a business
// field may not arrive both in clear and encrypted. It reports whether the
// decrypted object repeats a protocol field.
func mergeDecryptedFields(plaintext object, doc *document, decrypted []byte) (object, bool, error) {
	for _, m := range plaintext {
		if !hasFJSPrefix(m.name) && !m.empty() {
			return nil, false, Wrap(CodeCleartext, fmt.Errorf("field %s: %w", m.name, errCleartextAndCiphertext))
		}
	}
	err := doc.parse(decrypted)
	if err == nil && doc.nodes[0].kind != '{' {
		err = fmt.Errorf("it is a JSON %s", kindName(doc.nodes[0].kind))
	}
	if err != nil {
		return nil, false, Wrap(CodeDecryptFailed, fmt.Errorf("decrypted data is not a JSON object: %w", err))
	}
	outer := len(plaintext)
	if plaintext, err = doc.appendMembers(plaintext, 0); err != nil {
		return nil, false, Wrap(CodeDecryptFailed, err)
	}

	next := outer
	repeatsProtocol := false
	for _, m := range plaintext[outer:] {
		if hasFJSPrefix(m.name) {
			repeatsProtocol = true
			if o, ok := plaintext[:outer].get(string(m.name)); ok {
				if !sameScalar(o, &m) {
					return nil, false, Wrap(CodeMalformed, fmt.Errorf("field %s inside %s differs from the one outside", m.name, FieldFJSEncData))
				}
				continue
			}
		}
		plaintext[next] = m
		next++
	}
	clear(plaintext[next:])
	return plaintext[:next], repeatsProtocol, nil
}

// mergeDecryptedData sets data to the decrypted value, parsed into doc.
func mergeDecryptedData(plaintext object, doc *document, clear []byte) (object, error) {
	if m, ok := plaintext.get(FieldData); ok && !m.empty() {
		return nil, Wrap(CodeCleartext, fmt.Errorf("field data: %w", errCleartextAndCiphertext))
	}
	if err := doc.parse(clear); err != nil {
		return nil, Wrap(CodeDecryptFailed, fmt.Errorf("decrypted data is not JSON: %w", err))
	}
	out := plaintext[:0]
	for _, m := range plaintext {
		if string(m.name) != FieldData {
			out = append(out, m)
		}
	}
	return append(out, member{name: fieldDataName, value: clear, doc: doc}), nil
}

// hasClearPayload reports whether a message carries business content in
// clear: a non-empty business field (fjs requests) or data.
func hasClearPayload(members object, flat bool) bool {
	for _, m := range members {
		if m.empty() {
			continue
		}
		if flat && !hasFJSPrefix(m.name) || !flat && string(m.name) == FieldData {
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
		if !hasFJSPrefix(m.name) {
			business = append(business, m)
		}
	}
	return appendObject(nil, business)
}

// sameScalar compares two protocol field values by their text, so that
// "1631685457000" and 1631685457000 are the same timestamp.
func sameScalar(a, b *member) bool {
	ta, ok := scalarText(a)
	if !ok {
		return false
	}
	tb, ok := scalarText(b)
	return ok && ta == tb
}

func scalarText(m *member) (string, bool) {
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
