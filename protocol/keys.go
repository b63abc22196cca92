package protocol

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/pkcs"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// decodeKeyText decodes a key written as hex or base64.
func decodeKeyText(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if b, err := hex.DecodeString(text); err == nil {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(text); err == nil {
		return b, nil
	}
	return nil, errors.New("key is neither hex, base64 nor PEM")
}

// ParseSM2PrivateKey reads an SM2 private key written as hex or base64 of
// the 32-byte scalar (a leading zero byte, as Java's BigInteger writes it,
// is accepted), or as PEM (PKCS #8 or SEC 1).
func ParseSM2PrivateKey(text string) (*sm2.PrivateKey, error) {
	if block, _ := pem.Decode([]byte(text)); block != nil {
		if key, err := smx509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
			if k, ok := key.(*sm2.PrivateKey); ok {
				return k, nil
			}
			return nil, fmt.Errorf("this is %s, not an SM2 private key", keyDescription(key))
		}
		if strings.Contains(block.Type, "PUBLIC") {
			return nil, fmt.Errorf("the PEM block %q is a public key: give the SM2 private key", block.Type)
		}
		ec, err := smx509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("the PEM block %q is not an SM2 private key in PKCS #8 or SEC 1 form", block.Type)
		}
		return new(sm2.PrivateKey).FromECPrivateKey(ec)
	}
	raw, err := decodeKeyText(text)
	if err != nil {
		return nil, err
	}
	if len(raw) == 33 && raw[0] == 0 {
		raw = raw[1:]
	}
	if len(raw) != 32 {
		return nil, fmt.Errorf("SM2 private key has %d bytes, want 32", len(raw))
	}
	return sm2.NewPrivateKey(raw)
}

// ParseSM2PublicKey reads an SM2 public key written as hex or base64 of the
// 65-byte uncompressed point 04‖X‖Y, or as PEM (PKIX).
func ParseSM2PublicKey(text string) (*ecdsa.PublicKey, error) {
	if block, _ := pem.Decode([]byte(text)); block != nil {
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, fmt.Errorf("the PEM block %q is a private key: give the SM2 public key, and keep the private key to yourself", block.Type)
		}
		key, err := smx509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("the PEM block %q is not a public key in PKIX form", block.Type)
		}
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || !sm2.IsSM2PublicKey(k) {
			return nil, fmt.Errorf("this is %s, not an SM2 public key", keyDescription(key))
		}
		return k, nil
	}
	raw, err := decodeKeyText(text)
	if err != nil {
		return nil, err
	}
	if len(raw) != 65 || raw[0] != 4 {
		return nil, fmt.Errorf("SM2 public key has %d bytes, want 65 starting with 04", len(raw))
	}
	return sm2.NewPublicKey(raw)
}

// ParseRSAPrivateKey reads an RSA private key in PEM (PKCS #1 or PKCS #8)
// or as base64 of its DER.
func ParseRSAPrivateKey(text string) (*rsa.PrivateKey, error) {
	der, blockType, err := pemOrBase64(text)
	if err != nil {
		return nil, err
	}
	if strings.Contains(blockType, "PUBLIC") {
		return nil, fmt.Errorf("the PEM block %q is a public key: give the RSA private key", blockType)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	key, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		if _, pubErr := smx509.ParsePKIXPublicKey(der); pubErr == nil {
			return nil, errors.New("this is a public key: give the RSA private key")
		}
		return nil, errors.New("not an RSA private key in PKCS #1 or PKCS #8 form")
	}
	k, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("this is %s, not an RSA private key", keyDescription(key))
	}
	return k, nil
}

// ParseRSAPublicKey reads an RSA public key in PEM (PKIX or PKCS #1) or as
// base64 of its DER.
func ParseRSAPublicKey(text string) (*rsa.PublicKey, error) {
	der, blockType, err := pemOrBase64(text)
	if err != nil {
		return nil, err
	}
	if strings.Contains(blockType, "PRIVATE") {
		return nil, fmt.Errorf("the PEM block %q is a private key: give the RSA public key, and keep the private key to yourself", blockType)
	}
	if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return k, nil
	}
	key, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		if _, privErr := smx509.ParsePKCS8PrivateKey(der); privErr == nil {
			return nil, errors.New("this is a private key: give the RSA public key, and keep the private key to yourself")
		}
		return nil, errors.New("not an RSA public key in PKIX or PKCS #1 form")
	}
	k, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("this is %s, not an RSA public key", keyDescription(key))
	}
	return k, nil
}

// pemOrBase64 returns the DER bytes of a PEM block or of base64 text, and
// the PEM block's type ("" for base64).
func pemOrBase64(text string) ([]byte, string, error) {
	if block, _ := pem.Decode([]byte(text)); block != nil {
		return block.Bytes, block.Type, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, "", errors.New("key is neither PEM nor base64 DER")
	}
	return der, "", nil
}

// keyDescription names the kind of a parsed key for error messages.
func keyDescription(key any) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return "an RSA public key"
	case *rsa.PrivateKey:
		return "an RSA private key"
	case *sm2.PrivateKey:
		return "an SM2 private key"
	case *ecdsa.PublicKey:
		if sm2.IsSM2PublicKey(k) {
			return "an SM2 public key"
		}
		return "an elliptic-curve public key on " + k.Curve.Params().Name
	case *ecdsa.PrivateKey:
		return "an elliptic-curve private key on " + k.Curve.Params().Name
	case ed25519.PublicKey, ed25519.PrivateKey:
		return "an Ed25519 key"
	}
	return "a key of an unsupported type"
}

// KeyConfig describes a channel's algorithms and secrets from one side's
// point of view: private keys are ours, public keys and certificates the
// peer's.
type KeyConfig struct {
	SignType SignType
	// SignKey is appended to the sign string: the bizkey (fjs) or the
	// appSecret (hsa).
	SignKey string

	SM2PrivateKey *sm2.PrivateKey  // signs, for SignSM2
	SM2PublicKey  *ecdsa.PublicKey // verifies the peer, for SignSM2
	RSAPrivateKey *rsa.PrivateKey  // signs (SignRSA) and decrypts (EncRSA)
	RSAPublicKey  *rsa.PublicKey   // verifies the peer (SignRSA) and encrypts to it (EncRSA)

	EncType    EncType
	Derivation KeyDerivation // for EncSM4 and EncAES; DeriveSalt when empty
	Secrets    ChannelSecrets

	// PKCS7Peer receives what we encrypt with EncPKCS7; PKCS7Cert and
	// PKCS7Key open what is sent to us. Content is SM4-CBC.
	PKCS7Peer *smx509.Certificate
	PKCS7Cert *smx509.Certificate
	PKCS7Key  any
}

// NewKeys builds the Keys of c. An asymmetric sign type with only a public
// key gives Keys that open but do not seal, and the reverse. An empty sign
// type gives Keys that neither sign nor verify and accept unsigned messages,
// for decrypting alone.
func NewKeys(c KeyConfig) (*Keys, error) {
	k := &Keys{SignKey: c.SignKey}
	switch c.SignType {
	case "":
		k.AcceptUnsigned = true
	case SignMD5, SignSM3:
		d, err := NewDigestSigner(c.SignType)
		if err != nil {
			return nil, err
		}
		k.Signer, k.Verifier = d, d
	case SignSM2:
		if c.SM2PrivateKey == nil && c.SM2PublicKey == nil {
			return nil, errors.New("sign type SM2 needs a private key to sign or a public key to verify")
		}
		if c.SM2PrivateKey != nil {
			k.Signer = NewSM2Signer(c.SM2PrivateKey)
		}
		if c.SM2PublicKey != nil {
			k.Verifier = NewSM2Verifier(c.SM2PublicKey)
		}
	case SignRSA:
		if c.RSAPrivateKey == nil && c.RSAPublicKey == nil {
			return nil, errors.New("sign type RSA needs a private key to sign or a public key to verify")
		}
		if c.RSAPrivateKey != nil {
			k.Signer = NewRSASigner(c.RSAPrivateKey)
		}
		if c.RSAPublicKey != nil {
			k.Verifier = NewRSAVerifier(c.RSAPublicKey)
		}
	default:
		return nil, fmt.Errorf("unknown sign type %q", c.SignType)
	}

	switch c.EncType {
	case EncNone:
	case EncSM4, EncAES:
		key, err := DeriveDataKey(c.EncType, c.Derivation, c.Secrets)
		if err != nil {
			return nil, err
		}
		if k.Cipher, err = NewBlockCipher(c.EncType, key); err != nil {
			return nil, err
		}
	case EncRSA:
		if c.RSAPrivateKey == nil && c.RSAPublicKey == nil {
			return nil, errors.New("enc type RSA needs the peer's public key or our private key")
		}
		k.Cipher = NewRSACipher(c.RSAPublicKey, c.RSAPrivateKey)
	case EncPKCS7:
		if c.PKCS7Peer == nil && c.PKCS7Cert == nil {
			return nil, errors.New("enc type PKCS7 needs the peer's certificate or our certificate and key")
		}
		k.Cipher = NewPKCS7Cipher(pkcs.SM4CBC, c.PKCS7Peer, c.PKCS7Cert, c.PKCS7Key)
	default:
		return nil, fmt.Errorf("unknown enc type %q", c.EncType)
	}
	return k, nil
}
