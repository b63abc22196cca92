package protocol

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"

	gmcipher "github.com/emmansun/gmsm/cipher"
	"github.com/emmansun/gmsm/padding"
	"github.com/emmansun/gmsm/pkcs"
	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/sm4"
	"github.com/emmansun/gmsm/smx509"
)

// EncType names a payload encryption, as the hsa profile's encType field
// spells it. EncNone sends the business fields in clear.
type EncType string

const (
	EncNone  EncType = ""
	EncSM4   EncType = "SM4"   // SM4-ECB with PKCS #7 padding
	EncAES   EncType = "AES"   // AES-128-ECB with PKCS #7 padding
	EncRSA   EncType = "RSA"   // RSA PKCS #1 v1.5, in blocks of the key size less 11 bytes
	EncPKCS7 EncType = "PKCS7" // CMS EnvelopedData (RFC 5652)
)

// ParseEncType returns the enc type named s: SM4, AES, RSA, PKCS7, or
// "none" (or "") for clear text.
func ParseEncType(s string) (EncType, error) {
	switch t := EncType(s); t {
	case EncSM4, EncAES, EncRSA, EncPKCS7:
		return t, nil
	}
	if s == "" || s == "none" {
		return EncNone, nil
	}
	return "", fmt.Errorf("unknown enc type %q: use SM4, AES, RSA, PKCS7 or none", s)
}

// Cipher encrypts and decrypts a message's payload. Decrypt leaves its
// argument unchanged and returns an error, never a panic, for any input.
type Cipher interface {
	EncType() EncType
	Encrypt(plaintext []byte) ([]byte, error)
	Decrypt(ciphertext []byte) ([]byte, error)
}

// BlockCipher is SM4 or AES-128 in ECB mode with PKCS #7 padding, the data
// encryption of both profiles. ECB is the peers' choice, not ours: the
// platform's published vectors decrypt only in ECB.
type BlockCipher struct {
	typ   EncType
	block cipher.Block
	// ECB keeps no state between calls, so one encrypter and one decrypter
	// serve every goroutine.
	encrypter, decrypter cipher.BlockMode
}

// NewBlockCipher returns the cipher of type EncSM4 or EncAES under a 16-byte
// key.
func NewBlockCipher(t EncType, key []byte) (*BlockCipher, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("%s key has %d bytes, want 16", t, len(key))
	}
	var block cipher.Block
	var err error
	switch t {
	case EncSM4:
		block, err = sm4.NewCipher(key)
	case EncAES:
		block, err = aes.NewCipher(key)
	default:
		return nil, fmt.Errorf("enc type %s is not a block cipher", t)
	}
	if err != nil {
		return nil, err
	}
	return &BlockCipher{
		typ:       t,
		block:     block,
		encrypter: gmcipher.NewECBEncrypter(block),
		decrypter: gmcipher.NewECBDecrypter(block),
	}, nil
}

func (c *BlockCipher) EncType() EncType { return c.typ }

func (c *BlockCipher) Encrypt(plaintext []byte) ([]byte, error) {
	size := c.block.BlockSize()
	return c.appendEncrypt(make([]byte, 0, (len(plaintext)/size+1)*size), plaintext), nil
}

// appendEncrypt appends the padded ciphertext of plaintext to dst.
func (c *BlockCipher) appendEncrypt(dst, plaintext []byte) []byte {
	n := len(plaintext)
	padLen := c.block.BlockSize() - n%c.block.BlockSize()
	start := len(dst)
	dst = append(dst, plaintext...)
	for range padLen {
		dst = append(dst, byte(padLen))
	}
	out := dst[start:]
	c.encrypter.CryptBlocks(out, out)
	return dst
}

// Decrypt checks the padding fully, in constant time: every pad byte must
// equal the pad length, which must be 1 to 16.
func (c *BlockCipher) Decrypt(ciphertext []byte) ([]byte, error) {
	return c.decryptInPlace(append([]byte(nil), ciphertext...))
}

// decryptInPlace is Decrypt overwriting ciphertext, for buffers the caller
// owns.
func (c *BlockCipher) decryptInPlace(ciphertext []byte) ([]byte, error) {
	size := c.block.BlockSize()
	if len(ciphertext) == 0 || len(ciphertext)%size != 0 {
		return nil, fmt.Errorf("%s ciphertext has %d bytes, not a positive multiple of %d", c.typ, len(ciphertext), size)
	}
	c.decrypter.CryptBlocks(ciphertext, ciphertext)
	plain, err := padding.NewPKCS7Padding(uint(size)).ConstantTimeUnpad(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.typ, err)
	}
	return plain, nil
}

// RSACipher encrypts to the peer's RSA public key and decrypts with our own
// private key, splitting the payload into blocks of the key size less the
// 11 bytes of PKCS #1 v1.5 padding, as Java peers commonly do.
type RSACipher struct {
	peer *rsa.PublicKey
	own  *rsa.PrivateKey
}

// NewRSACipher returns an RSA cipher; either key may be nil when only one
// direction is needed.
func NewRSACipher(peer *rsa.PublicKey, own *rsa.PrivateKey) *RSACipher {
	return &RSACipher{peer: peer, own: own}
}

func (c *RSACipher) EncType() EncType { return EncRSA }

func (c *RSACipher) Encrypt(plaintext []byte) ([]byte, error) {
	if c.peer == nil {
		return nil, errors.New("rsa: no public key of the peer to encrypt to")
	}
	chunk := c.peer.Size() - 11
	var out []byte
	for start := 0; start < len(plaintext) || start == 0; start += chunk {
		end := min(start+chunk, len(plaintext))
		block, err := rsa.EncryptPKCS1v15(rand.Reader, c.peer, plaintext[start:end])
		if err != nil {
			return nil, fmt.Errorf("rsa encrypt: %w", err)
		}
		out = append(out, block...)
		if end == len(plaintext) {
			break
		}
	}
	return out, nil
}

func (c *RSACipher) Decrypt(ciphertext []byte) ([]byte, error) {
	if c.own == nil {
		return nil, errors.New("rsa: no private key to decrypt with")
	}
	size := c.own.Size()
	if len(ciphertext) == 0 || len(ciphertext)%size != 0 {
		return nil, fmt.Errorf("rsa ciphertext has %d bytes, not a positive multiple of the key size %d", len(ciphertext), size)
	}
	var out []byte
	for start := 0; start < len(ciphertext); start += size {
		block, err := rsa.DecryptPKCS1v15(nil, c.own, ciphertext[start:start+size])
		if err != nil {
			return nil, fmt.Errorf("rsa decrypt: %w", err)
		}
		out = append(out, block...)
	}
	return out, nil
}

// PKCS7Cipher wraps the payload in a CMS EnvelopedData for the peer's
// certificate (RSA or SM2) and opens envelopes addressed to our own.
type PKCS7Cipher struct {
	content pkcs.Cipher
	peer    *smx509.Certificate
	ownCert *smx509.Certificate
	ownKey  crypto.PrivateKey
}

// NewPKCS7Cipher returns a CMS cipher whose content encryption is content
// (for example pkcs.SM4CBC or pkcs.AES128CBC). Either side may be nil when
// only one direction is needed.
func NewPKCS7Cipher(content pkcs.Cipher, peer, ownCert *smx509.Certificate, ownKey crypto.PrivateKey) *PKCS7Cipher {
	return &PKCS7Cipher{content: content, peer: peer, ownCert: ownCert, ownKey: ownKey}
}

func (c *PKCS7Cipher) EncType() EncType { return EncPKCS7 }

func (c *PKCS7Cipher) Encrypt(plaintext []byte) ([]byte, error) {
	if c.peer == nil {
		return nil, errors.New("pkcs7: no certificate of the peer to encrypt to")
	}
	return pkcs7.Encrypt(c.content, plaintext, []*smx509.Certificate{c.peer})
}

func (c *PKCS7Cipher) Decrypt(ciphertext []byte) (plain []byte, err error) {
	if c.ownCert == nil || c.ownKey == nil {
		return nil, errors.New("pkcs7: no certificate and key to decrypt with")
	}
	// The ASN.1 parsing below belongs to a library; a panic there on hostile
	// input must still become an ordinary decryption failure.
	defer func() {
		if r := recover(); r != nil {
			plain, err = nil, fmt.Errorf("pkcs7: malformed envelope: %v", r)
		}
	}()
	// The library ignores bytes after the DER structure; a sealed message
	// has none, so they mean tampering.
	var whole asn1.RawValue
	if rest, err := asn1.Unmarshal(ciphertext, &whole); err != nil || len(rest) > 0 {
		return nil, errors.New("pkcs7: ciphertext is not exactly one DER structure")
	}
	p7, err := pkcs7.Parse(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("pkcs7: %w", err)
	}
	return p7.Decrypt(c.ownCert, c.ownKey)
}
