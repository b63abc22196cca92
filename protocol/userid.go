package protocol

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm2"
)

// UserID is the plaintext of a user_id: who the platform means, readable
// only by the channel holding the private key.
type UserID struct {
	CertType string `json:"cert_type"`
	IDCard   string `json:"idcard"`
	Name     string `json:"name"`
}

var userIDEncrypterOpts = sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2)

// EncryptUserID encrypts u to the channel's SM2 public key: C1C3C2 with an
// uncompressed C1, written as upper-case hex.
func EncryptUserID(pub *ecdsa.PublicKey, u UserID) (string, error) {
	plain, err := json.Marshal(u)
	if err != nil {
		return "", err
	}
	ciphertext, err := sm2.Encrypt(rand.Reader, pub, plain, userIDEncrypterOpts)
	if err != nil {
		return "", fmt.Errorf("encrypt user_id: %w", err)
	}
	return strings.ToUpper(hex.EncodeToString(ciphertext)), nil
}

// DecryptUserID decrypts a user_id with the channel's SM2 private key. Hex of
// either case is accepted.
func DecryptUserID(priv *sm2.PrivateKey, userID string) (UserID, error) {
	ciphertext, err := hex.DecodeString(userID)
	if err != nil {
		return UserID{}, fmt.Errorf("user_id is not hex: %w", err)
	}
	plain, err := sm2.Decrypt(priv, ciphertext)
	if err != nil {
		return UserID{}, fmt.Errorf("decrypt user_id: %w", err)
	}
	var u UserID
	if err := json.Unmarshal(plain, &u); err != nil {
		return UserID{}, fmt.Errorf("user_id does not hold JSON: %w", err)
	}
	return u, nil
}
