package protocol

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
)

// SignType names a signature algorithm, as the hsa profile's signType field
// spells it.
type SignType string

const (
	SignMD5 SignType = "MD5" // upper-case hex MD5 of the sign string
	SignSM3 SignType = "SM3" // upper-case hex SM3 of the sign string
	SignSM2 SignType = "SM2" // base64 of raw r‖s, SM3 with the default user ID
	SignRSA SignType = "RSA" // base64 of RSA PKCS #1 v1.5 over SHA-256
)

// ParseSignType returns the sign type named s (MD5, SM3, SM2 or RSA).
func ParseSignType(s string) (SignType, error) {
	switch t := SignType(s); t {
	case SignMD5, SignSM3, SignSM2, SignRSA:
		return t, nil
	}
	return "", fmt.Errorf("unknown sign type %q: use MD5, SM3, SM2 or RSA", s)
}

// sm2UserID is the signer ID of GB/T 35276 that both sides use.
var sm2UserID = []byte("1234567812345678")

// Signer computes the signature text of a sign string.
type Signer interface {
	SignType() SignType
	Sign(signString []byte) (string, error)
}

// Verifier checks a signature text against a sign string. It returns nil
// only when the signature is valid.
type Verifier interface {
	SignType() SignType
	Verify(signString []byte, signature string) error
}

var errSignatureMismatch = errors.New("signature does not match")

// DigestSigner signs with a keyed digest: MD5 or SM3 over a sign string
// that already ends in "&key=" and the shared key. It is both the Signer and
// the Verifier of a channel with such a sign type.
type DigestSigner struct{ typ SignType }

// NewDigestSigner returns the signer for SignMD5 or SignSM3.
func NewDigestSigner(t SignType) (*DigestSigner, error) {
	if t != SignMD5 && t != SignSM3 {
		return nil, fmt.Errorf("sign type %s is not a digest", t)
	}
	return &DigestSigner{t}, nil
}

func (d *DigestSigner) SignType() SignType { return d.typ }

// digest writes the digest of signString into buf and returns it.
func (d *DigestSigner) digest(buf *[sm3.Size]byte, signString []byte) []byte {
	if d.typ == SignMD5 {
		sum := md5.Sum(signString)
		return buf[:copy(buf[:], sum[:])]
	}
	*buf = sm3.Sum(signString)
	return buf[:]
}

// Sign returns the upper-case hex digest of signString.
func (d *DigestSigner) Sign(signString []byte) (string, error) {
	var buf [sm3.Size]byte
	var text [2 * sm3.Size]byte
	return string(appendUpperHex(text[:0], d.digest(&buf, signString))), nil
}

// Verify accepts hex of either case, compared in constant time.
func (d *DigestSigner) Verify(signString []byte, signature string) error {
	var buf [sm3.Size]byte
	want := d.digest(&buf, signString)
	if len(signature) != 2*len(want) {
		return fmt.Errorf("%s signature has %d characters, want %d", d.typ, len(signature), 2*len(want))
	}
	var got [sm3.Size]byte
	if _, err := hex.Decode(got[:len(want)], []byte(signature)); err != nil {
		return fmt.Errorf("%s signature is not hex: %w", d.typ, err)
	}
	if subtle.ConstantTimeCompare(got[:len(want)], want) != 1 {
		return errSignatureMismatch
	}
	return nil
}

// SM2Signer signs with an SM2 private key and writes the raw 64-byte r‖s
// form in base64, as the national platform's clients do.
type SM2Signer struct {
	key  *sm2.PrivateKey
	rand io.Reader
}

// NewSM2Signer returns a signer that draws its nonces from crypto/rand.
func NewSM2Signer(key *sm2.PrivateKey) *SM2Signer { return &SM2Signer{key: key, rand: rand.Reader} }

func (s *SM2Signer) SignType() SignType { return SignSM2 }

func (s *SM2Signer) Sign(signString []byte) (string, error) {
	der, err := s.key.SignWithSM2(s.rand, sm2UserID, signString)
	if err != nil {
		return "", fmt.Errorf("sm2 sign: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		return "", fmt.Errorf("sm2 sign: %w", err)
	}
	var raw [64]byte
	sig.R.FillBytes(raw[:32])
	sig.S.FillBytes(raw[32:])
	return base64.StdEncoding.EncodeToString(raw[:]), nil
}

// SM2Verifier verifies SM2 signatures given as base64 of either the raw
// 64-byte r‖s or ASN.1 DER.
type SM2Verifier struct{ key *ecdsa.PublicKey }

// NewSM2Verifier returns a verifier for the peer's public key.
func NewSM2Verifier(key *ecdsa.PublicKey) *SM2Verifier { return &SM2Verifier{key} }

func (v *SM2Verifier) SignType() SignType { return SignSM2 }

func (v *SM2Verifier) Verify(signString []byte, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("sm2 signature is not base64: %w", err)
	}
	if len(sig) == 64 {
		digest, err := sm2.CalculateSM2Hash(v.key, signString, sm2UserID)
		if err != nil {
			return err
		}
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		if !sm2.Verify(v.key, digest, r, s) {
			return errSignatureMismatch
		}
		return nil
	}
	var der struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &der); err != nil || len(rest) > 0 {
		return fmt.Errorf("sm2 signature of %d bytes is neither raw r‖s (64 bytes) nor DER", len(sig))
	}
	if !sm2.VerifyASN1WithSM2(v.key, sm2UserID, signString, sig) {
		return errSignatureMismatch
	}
	return nil
}

// RSASigner signs with RSA PKCS #1 v1.5 over SHA-256, base64 encoded.
type RSASigner struct{ key *rsa.PrivateKey }

func NewRSASigner(key *rsa.PrivateKey) *RSASigner { return &RSASigner{key} }

func (s *RSASigner) SignType() SignType { return SignRSA }

func (s *RSASigner) Sign(signString []byte) (string, error) {
	digest := sha256.Sum256(signString)
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("rsa sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// RSAVerifier verifies RSA PKCS #1 v1.5 SHA-256 signatures in base64.
type RSAVerifier struct{ key *rsa.PublicKey }

func NewRSAVerifier(key *rsa.PublicKey) *RSAVerifier { return &RSAVerifier{key} }

func (v *RSAVerifier) SignType() SignType { return SignRSA }

func (v *RSAVerifier) Verify(signString []byte, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("rsa signature is not base64: %w", err)
	}
	digest := sha256.Sum256(signString)
	if err := rsa.VerifyPKCS1v15(v.key, crypto.SHA256, digest[:], sig); err != nil {
		return errSignatureMismatch
	}
	return nil
}

const hexUpper = "0123456789ABCDEF"

func upperHex(b []byte) string {
	out := make([]byte, 2*len(b))
	appendUpperHex(out[:0], b)
	return string(out)
}

func appendUpperHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexUpper[c>>4], hexUpper[c&0x0f])
	}
	return dst
}
