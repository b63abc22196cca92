package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Request is the content of a request envelope, or of a callback, which is
// shaped like one.
type Request struct {
	AppID     string
	AppSecret string // fjs key mode; empty in token mode and in callbacks
	Token     string // fjs token mode
	FunID     string
	Timestamp string // as ParseTimestamp reads it; see FormatTimestamp
	Version   string // hsa; "1.0.0" when empty
	// Payload is the business content: for fjs, one JSON object whose members
	// become the business fields; for hsa, the value of data.
	Payload []byte
}

// Response is the content of a response envelope.
type Response struct {
	Code      int
	Message   string // the standard message of Code when empty
	Timestamp string
	Payload   []byte // the value of data; nil for none
}

// SealRequest builds a request of profile p: it signs the plaintext, then
// encrypts the payload when k has a Cipher.
func (p Profile) SealRequest(k *Keys, r *Request) ([]byte, error) {
	var env object
	if p == ProfileHSA {
		version := r.Version
		if version == "" {
			version = "1.0.0"
		}
		env = object{
			field(FieldHSAAppID, quote(r.AppID)),
			field(FieldHSATransType, quote(r.FunID)),
			field(FieldHSATimestamp, quote(r.Timestamp)),
			field(FieldHSAVersion, quote(version)),
		}
		env = p.appendSuiteFields(env, k)
	} else {
		env = object{field(FieldFJSAppID, quote(r.AppID))}
		if r.AppSecret != "" {
			env = append(env, field(FieldFJSAppSecret, quote(r.AppSecret)))
		}
		if r.Token != "" {
			env = append(env, field(FieldFJSToken, quote(r.Token)))
		}
		env = append(env,
			field(FieldFJSFunID, quote(r.FunID)),
			field(FieldFJSTimestamp, quote(r.Timestamp)))
	}
	return p.seal(k, env, r.Payload, p.flatPayload(false))
}

// SealResponse builds a signed response of profile p, encrypting the payload
// when k has a Cipher. Protocol faults get EncodeFault instead.
func (p Profile) SealResponse(k *Keys, r *Response) ([]byte, error) {
	message := r.Message
	if message == "" {
		message = FormatMessage(r.Code)
	}
	env := p.responseFields(r.Code, message, r.Timestamp)
	if p == ProfileHSA {
		env = p.appendSuiteFields(env, k)
	}
	return p.seal(k, env, r.Payload, false)
}

// EncodeFault builds the unsigned, unencrypted response to a request that
// failed at the protocol layer, where the channel and its keys may be
// unknown.
func (p Profile) EncodeFault(code int, message, timestamp string) []byte {
	if message == "" {
		message = FormatMessage(code)
	}
	return appendObject(nil, p.responseFields(code, message, timestamp))
}

func (p Profile) responseFields(code int, message, timestamp string) object {
	if p == ProfileHSA {
		return object{
			field(FieldHSARespCode, quote(strconv.Itoa(code))),
			field(FieldHSARespMsg, quote(message)),
			field(FieldHSATimestamp, quote(timestamp)),
		}
	}
	kind := "error"
	if code == CodeOK {
		kind = "success"
	}
	return object{
		field("code", []byte(strconv.Itoa(code))),
		field("type", quote(kind)),
		field("message", quote(message)),
		field(FieldFJSTimestamp, quote(timestamp)),
	}
}

// appendSuiteFields adds the hsa fields that name the algorithms in use.
func (p Profile) appendSuiteFields(env object, k *Keys) object {
	if k.Cipher != nil {
		env = append(env, field(FieldHSAEncType, quote(string(k.Cipher.EncType()))))
	}
	if k.Signer != nil {
		env = append(env, field(FieldHSASignType, quote(string(k.Signer.SignType()))))
	}
	return env
}

// sealScratch is the working memory of one seal, reused across calls.
type sealScratch struct {
	doc        document
	plaintext  object
	signString []byte
	ciphertext []byte
	compact    bytes.Buffer
}

var sealPool = sync.Pool{New: func() any { return new(sealScratch) }}

// release drops the scratch's references to the caller's data and returns
// it to the pool.
func (s *sealScratch) release() {
	clear(s.plaintext)
	s.plaintext = s.plaintext[:0]
	s.doc.data = nil
	s.compact.Reset()
	sealPool.Put(s)
}

// seal signs env plus the payload in clear, then writes env, the payload
// (encrypted when k has a Cipher) and the signature.
func (p Profile) seal(k *Keys, env object, payload []byte, flat bool) ([]byte, error) {
	s := sealPool.Get().(*sealScratch)
	defer s.release()

	plaintext := append(s.plaintext[:0], env...)
	compact := payload
	if payload != nil {
		doc := &s.doc
		if err := doc.parse(payload); err != nil {
			return nil, fmt.Errorf("payload is not valid JSON: %w", err)
		}
		if doc.whitespace {
			if err := json.Compact(&s.compact, payload); err != nil {
				return nil, fmt.Errorf("payload is not valid JSON: %w", err)
			}
			compact = s.compact.Bytes()
			if err := doc.parse(compact); err != nil {
				return nil, err
			}
		}
		if flat {
			var err error
			if plaintext, err = doc.appendMembers(plaintext, 0); err != nil {
				return nil, fmt.Errorf("payload of an fjs request must be one JSON object: %w", err)
			}
			for _, m := range plaintext[len(env):] {
				if strings.HasPrefix(m.name, fjsPrefix) {
					return nil, fmt.Errorf("payload field %s is a protocol field name", m.name)
				}
			}
		} else {
			plaintext = append(plaintext, member{name: FieldData, value: compact, doc: doc})
		}
	}
	s.plaintext = plaintext

	var signature string
	if k.Signer != nil {
		var err error
		s.signString, err = p.appendSignString(s.signString[:0], plaintext, k.SignKey)
		if err != nil {
			return nil, err
		}
		if signature, err = k.Signer.Sign(s.signString); err != nil {
			return nil, err
		}
	}

	encrypt := k.Cipher != nil && payload != nil
	var ciphertext []byte
	if encrypt {
		var err error
		if block, ok := k.Cipher.(*BlockCipher); ok {
			s.ciphertext = block.appendEncrypt(s.ciphertext[:0], compact)
			ciphertext = s.ciphertext
		} else if ciphertext, err = k.Cipher.Encrypt(compact); err != nil {
			return nil, err
		}
	}

	size := 64 + len(signature) + 2*len(ciphertext)
	for _, m := range plaintext {
		size += len(m.name) + len(m.value) + 4
	}
	out := make([]byte, 0, size)
	out = append(out, '{')
	written := env
	if !encrypt {
		written = plaintext
	}
	for i, m := range written {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendQuoted(out, m.name)
		out = append(out, ':')
		out = append(out, m.value...)
	}
	if encrypt {
		out = appendQuoted(append(out, ','), p.EncField())
		out = append(out, ':', '"')
		out = p.appendCiphertextText(out, ciphertext)
		out = append(out, '"')
	}
	if k.Signer != nil {
		out = appendQuoted(append(out, ','), p.SignField())
		out = appendQuoted(append(out, ':'), signature)
	}
	return append(out, '}'), nil
}

// quote returns s as a JSON string. Invalid UTF-8 in s, which no caller of
// this package has a reason to pass, is written as U+FFFD.
func quote(s string) []byte {
	return appendQuoted(make([]byte, 0, len(s)+2), strings.ToValidUTF8(s, "\uFFFD"))
}

// field returns a member built by this package: a scalar value, so it needs
// no document.
func field(name string, value []byte) member { return member{name: name, value: value} }
