package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
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
	s := sealPool.Get().(*sealScratch)
	defer s.release()
	env := &s.env
	if p == ProfileHSA {
		version := r.Version
		if version == "" {
			version = "1.0.0"
		}
		env.text(FieldHSAAppID, r.AppID)
		env.text(FieldHSATransType, r.FunID)
		env.text(FieldHSATimestamp, r.Timestamp)
		env.text(FieldHSAVersion, version)
		p.addSuiteFields(env, k)
	} else {
		env.text(FieldFJSAppID, r.AppID)
		if r.AppSecret != "" {
			env.text(FieldFJSAppSecret, r.AppSecret)
		}
		if r.Token != "" {
			env.text(FieldFJSToken, r.Token)
		}
		env.text(FieldFJSFunID, r.FunID)
		env.text(FieldFJSTimestamp, r.Timestamp)
	}
	return p.seal(s, k, r.Payload, p.flatPayload(false))
}

// SealResponse builds a signed response of profile p, encrypting the payload
// when k has a Cipher. Protocol faults get EncodeFault instead.
func (p Profile) SealResponse(k *Keys, r *Response) ([]byte, error) {
	s := sealPool.Get().(*sealScratch)
	defer s.release()
	message := r.Message
	if message == "" {
		message = FormatMessage(r.Code)
	}
	p.addResponseFields(&s.env, r.Code, message, r.Timestamp)
	if p == ProfileHSA {
		p.addSuiteFields(&s.env, k)
	}
	return p.seal(s, k, r.Payload, false)
}

// EncodeFault builds the unsigned, unencrypted response to a request that
// failed at the protocol layer, where the channel and its keys may be
// unknown.
func (p Profile) EncodeFault(code int, message, timestamp string) []byte {
	if message == "" {
		message = FormatMessage(code)
	}
	var env fieldList
	p.addResponseFields(&env, code, message, timestamp)
	return appendObject(nil, env.appendMembers(nil))
}

func (p Profile) addResponseFields(env *fieldList, code int, message, timestamp string) {
	if p == ProfileHSA {
		env.text(FieldHSARespCode, strconv.Itoa(code))
		env.text(FieldHSARespMsg, message)
		env.text(FieldHSATimestamp, timestamp)
		return
	}
	kind := "error"
	if code == CodeOK {
		kind = "success"
	}
	env.number("code", code)
	env.text("type", kind)
	env.text("message", message)
	env.text(FieldFJSTimestamp, timestamp)
}

// addSuiteFields adds the hsa fields that name the algorithms in use.
func (p Profile) addSuiteFields(env *fieldList, k *Keys) {
	if k.Cipher != nil {
		env.text(FieldHSAEncType, string(k.Cipher.EncType()))
	}
	if k.Signer != nil {
		env.text(FieldHSASignType, string(k.Signer.SignType()))
	}
}

// fieldList collects the protocol fields of a message being sealed, their
// names and JSON values written one after another into one buffer.
type fieldList struct {
	buf    []byte
	fields []fieldSpan
}

// fieldSpan locates a field in fieldList.buf: its name, then its value
// from nameEnd to end.
type fieldSpan struct{ start, nameEnd, end int }

// text adds a string field. Invalid UTF-8 in value, which no caller of this
// package has a reason to pass, is written as U+FFFD.
func (f *fieldList) text(name, value string) {
	start := len(f.buf)
	f.buf = append(f.buf, name...)
	nameEnd := len(f.buf)
	if utf8.ValidString(value) {
		f.buf = appendQuoted(f.buf, value)
	} else {
		f.buf = appendQuoted(f.buf, strings.ToValidUTF8(value, "\uFFFD"))
	}
	f.fields = append(f.fields, fieldSpan{start, nameEnd, len(f.buf)})
}

// number adds an integer field.
func (f *fieldList) number(name string, value int) {
	start := len(f.buf)
	f.buf = append(f.buf, name...)
	nameEnd := len(f.buf)
	f.buf = strconv.AppendInt(f.buf, int64(value), 10)
	f.fields = append(f.fields, fieldSpan{start, nameEnd, len(f.buf)})
}

// appendMembers appends the fields to dst as members without a document.
func (f *fieldList) appendMembers(dst object) object {
	for _, span := range f.fields {
		dst = append(dst, member{name: f.buf[span.start:span.nameEnd], value: f.buf[span.nameEnd:span.end]})
	}
	return dst
}

func (f *fieldList) reset() {
	f.buf = f.buf[:0]
	f.fields = f.fields[:0]
}

// sealScratch is the working memory of one seal, reused across calls.
type sealScratch struct {
	env        fieldList
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
	// A call that failed part-way leaves members past the slice's length,
	// so the whole backing array is cleared.
	clear(s.plaintext[:cap(s.plaintext)])
	s.plaintext = s.plaintext[:0]
	s.doc.data = nil
	s.compact.Reset()
	s.env.reset()
	if cap(s.signString) > maxPooledBytes || cap(s.ciphertext) > maxPooledBytes ||
		s.compact.Cap() > maxPooledBytes || cap(s.doc.nodes) > maxPooledNodes {
		return
	}
	sealPool.Put(s)
}

// seal signs the protocol fields of s.env plus the payload in clear, then
// writes the protocol fields, the payload (encrypted when k has a Cipher)
// and the signature.
func (p Profile) seal(s *sealScratch, k *Keys, payload []byte, flat bool) ([]byte, error) {
	plaintext := s.env.appendMembers(s.plaintext[:0])
	env := plaintext[:len(plaintext):len(plaintext)]
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
				if hasFJSPrefix(m.name) {
					return nil, fmt.Errorf("payload field %s is a protocol field name", m.name)
				}
			}
		} else {
			plaintext = append(plaintext, member{name: fieldDataName, value: compact, doc: doc})
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

	written := env
	if !encrypt {
		written = plaintext
	}
	// This is the exact size but for a few bytes of slack, unless a name
	// needs escapes, and then append grows the buffer.
	size := 64 + len(signature) + p.ciphertextTextLen(len(ciphertext))
	for _, m := range written {
		size += len(m.name) + len(m.value) + 4
	}
	out := make([]byte, 0, size)
	out = append(out, '{')
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
