package channel

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/emmansun/gmsm/sm2"

	"chsgate/protocol"
)

// MinRSAKeyBits is the smallest RSA modulus a channel's or the platform's
// key may have: FIPS 186-5 approves RSA signatures only with moduli of at
// least 2048 bits.
const MinRSAKeyBits = 2048

// GenerateSM2KeyHex returns a new SM2 private key as hex of its 32-byte
// scalar.
func GenerateSM2KeyHex() (string, error) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(key.D.FillBytes(make([]byte, 32))), nil
}

// SM2PublicKeyHex returns an SM2 public key as hex of the uncompressed
// point 04‖X‖Y.
func SM2PublicKeyHex(key *ecdsa.PublicKey) string {
	point := make([]byte, 65)
	point[0] = 4
	key.X.FillBytes(point[1:33])
	key.Y.FillBytes(point[33:])
	return hex.EncodeToString(point)
}

// GenerateRSAKeyPEM returns a new RSA private key of MinRSAKeyBits bits as
// PEM (PKCS #8).
func GenerateRSAKeyPEM() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, MinRSAKeyBits)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// RSAPublicKeyPEM returns an RSA public key as PEM (PKIX), the form that
// protocol.ParseRSAPublicKey and OpenSSL read.
func RSAPublicKeyPEM(key *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// ParseRSAPublicKey reads an RSA public key as protocol.ParseRSAPublicKey
// does, and rejects a modulus shorter than MinRSAKeyBits.
func ParseRSAPublicKey(text string) (*rsa.PublicKey, error) {
	key, err := protocol.ParseRSAPublicKey(text)
	if err != nil {
		return nil, err
	}
	if err := checkRSAKeySize(key); err != nil {
		return nil, err
	}
	return key, nil
}

// ParseRSAPrivateKey reads an RSA private key as protocol.ParseRSAPrivateKey
// does, and rejects a modulus shorter than MinRSAKeyBits.
func ParseRSAPrivateKey(text string) (*rsa.PrivateKey, error) {
	key, err := protocol.ParseRSAPrivateKey(text)
	if err != nil {
		return nil, err
	}
	if err := checkRSAKeySize(&key.PublicKey); err != nil {
		return nil, err
	}
	return key, nil
}

func checkRSAKeySize(key *rsa.PublicKey) error {
	if bits := key.N.BitLen(); bits < MinRSAKeyBits {
		return fmt.Errorf("key has %d bits: at least %d are required", bits, MinRSAKeyBits)
	}
	return nil
}

// ParseMasterKey reads a master key written as 64 hex digits.
func ParseMasterKey(text string) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil || len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key must be %d hex digits (%d bytes)", 2*MasterKeySize, MasterKeySize)
	}
	return key, nil
}

// LoadOrCreateMasterKeyFile reads the master key in path, creating the file
// with a new random key, readable by its owner only, when it does not exist.
// It is for sandbox mode, where the key lives beside the SQLite file.
func LoadOrCreateMasterKeyFile(path string) ([]byte, bool, error) {
	if data, err := os.ReadFile(path); err == nil {
		key, err := ParseMasterKey(string(data))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return key, false, nil
	} else if !os.IsNotExist(err) {
		return nil, false, err
	}
	key := make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create master key file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	return key, true, nil
}
