package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// vectors mirrors testdata/test-vectors.json: the spec's worked examples and
// one message published by the national platform.
type vectors struct {
	FJSRequestSignMD5 struct {
		Channel struct {
			AppID     string `json:"appid"`
			AppSecret string `json:"appsecret"`
			BizKey    string `json:"bizkey"`
			Salt      string `json:"salt"`
		} `json:"channel"`
		PlaintextRequest json.RawMessage `json:"plaintext_request"`
		SignString       string          `json:"sign_string"`
		Sign             string          `json:"chs_fjs_sign"`
	} `json:"fjs_request_sign_md5"`
	HSASM4Decrypt struct {
		AppID     string `json:"appId"`
		AppSecret string `json:"appSecret"`
		DataKey   string `json:"derived_data_key_ascii"`
		EncData   string `json:"encData"`
		Plaintext string `json:"plaintext"`
	} `json:"hsa_sm4_decrypt"`
	HSASignString struct {
		AppSecret  string          `json:"appSecret"`
		Message    json.RawMessage `json:"message"`
		SignString string          `json:"sign_string"`
	} `json:"hsa_sign_string"`
	HSASM2Verify struct {
		AppCode    string          `json:"appCode"`
		AppSecret  string          `json:"appSecret"`
		PublicKey  string          `json:"public_key_base64"`
		UserID     string          `json:"sm2_user_id"`
		Message    json.RawMessage `json:"message"`
		SignString string          `json:"sign_string"`
		DataKey    string          `json:"derived_data_key_ascii"`
	} `json:"hsa_sm2_verify"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "test-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("parse test vectors: %v", err)
	}
	return &v
}

func TestVectorFJSRequestMD5(t *testing.T) {
	v := loadVectors(t).FJSRequestSignMD5

	got, err := ProfileFJS.SignString(v.PlaintextRequest, v.Channel.BizKey)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != v.SignString {
		t.Errorf("sign string\n got %s\nwant %s", got, v.SignString)
	}

	signer, _ := NewDigestSigner(SignMD5)
	sig, err := signer.Sign(got)
	if err != nil {
		t.Fatal(err)
	}
	if sig != v.Sign || sig != "37A299CF9B627EABB920D3314324031B" {
		t.Errorf("chs_fjs_sign = %s, want %s", sig, v.Sign)
	}
}

func TestVectorFJSRequestOpens(t *testing.T) {
	v := loadVectors(t).FJSRequestSignMD5
	body := append(v.PlaintextRequest[:len(v.PlaintextRequest)-1:len(v.PlaintextRequest)-1],
		[]byte(`,"chs_fjs_sign":"`+v.Sign+`"}`)...)

	env, err := ProfileFJS.DecodeRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if env.AppID != "ldxt" || env.FunID != "F04.05.13.09" || env.Timestamp != "1631685457000" {
		t.Errorf("envelope fields = %q %q %q", env.AppID, env.FunID, env.Timestamp)
	}
	keys, err := NewKeys(KeyConfig{SignType: SignMD5, SignKey: v.Channel.BizKey})
	if err != nil {
		t.Fatal(err)
	}
	opened, err := env.Open(keys)
	if err != nil {
		t.Fatalf("open the spec's request: %v", err)
	}
	if want := `{"psnBasicInfoDTO":`; string(opened.Payload[:len(want)]) != want {
		t.Errorf("payload = %s", opened.Payload)
	}
}

func TestVectorHSASignString(t *testing.T) {
	v := loadVectors(t).HSASignString
	got, err := ProfileHSA.SignString(v.Message, v.AppSecret)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != v.SignString {
		t.Errorf("sign string\n got %s\nwant %s", got, v.SignString)
	}
}

func TestVectorHSASM4Decrypt(t *testing.T) {
	v := loadVectors(t).HSASM4Decrypt
	key, err := DeriveDataKey(EncSM4, DeriveAppID, ChannelSecrets{AppID: v.AppID, AppSecret: v.AppSecret})
	if err != nil {
		t.Fatal(err)
	}
	if string(key) != v.DataKey || string(key) != "863B5F40C70B71EA" {
		t.Errorf("data key = %s, want %s", key, v.DataKey)
	}

	c, err := NewBlockCipher(EncSM4, key)
	if err != nil {
		t.Fatal(err)
	}
	ciphertext, err := hex.DecodeString(v.EncData)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.Decrypt(ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != v.Plaintext {
		t.Errorf("plaintext\n got %s\nwant %s", plain, v.Plaintext)
	}

	// Encrypting the plaintext again must give the printed ciphertext: ECB
	// is deterministic.
	again, _ := c.Encrypt(plain)
	if got := upperHex(again); got != v.EncData {
		t.Errorf("re-encryption differs from the printed encData:\n got %s\nwant %s", got, v.EncData)
	}
}

func TestVectorHSASM2Verify(t *testing.T) {
	v := loadVectors(t).HSASM2Verify
	if v.UserID != string(sm2UserID) {
		t.Fatalf("vector uses SM2 user ID %q, this package %q", v.UserID, sm2UserID)
	}

	signString, err := ProfileHSA.SignString(v.Message, v.AppSecret)
	if err != nil {
		t.Fatal(err)
	}
	if string(signString) != v.SignString {
		t.Errorf("sign string\n got %s\nwant %s", signString, v.SignString)
	}

	pub, err := ParseSM2PublicKey(v.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	env, err := ProfileHSA.DecodeRequest(v.Message)
	if err != nil {
		t.Fatal(err)
	}
	if env.AppID != v.AppCode {
		t.Errorf("AppID = %q, want the appCode %q", env.AppID, v.AppCode)
	}
	if err := NewSM2Verifier(pub).Verify(signString, env.Signature); err != nil {
		t.Errorf("published SM2 signature does not verify: %v", err)
	}
	tampered := append([]byte(nil), signString...)
	tampered[len("appCode=")] ^= 1
	if err := NewSM2Verifier(pub).Verify(tampered, env.Signature); err == nil {
		t.Error("SM2 signature verifies over a changed sign string")
	}

	keys, err := NewKeys(KeyConfig{SignType: SignSM2, SignKey: v.AppSecret, SM2PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	opened, err := env.Open(keys)
	if err != nil {
		t.Fatalf("open the published message: %v", err)
	}
	var payload bytes.Buffer
	if err := json.Compact(&payload, opened.Payload); err != nil {
		t.Fatal(err)
	}
	if want := `{"keyWords":"","drugType":"","pageNo":2,"pageSize":10,"medListCodg":"X"}`; payload.String() != want {
		t.Errorf("payload = %s, want %s", payload.Bytes(), want)
	}

	key, err := DeriveDataKey(EncSM4, DeriveAppID, ChannelSecrets{AppID: v.AppCode, AppSecret: v.AppSecret})
	if err != nil {
		t.Fatal(err)
	}
	if string(key) != v.DataKey {
		t.Errorf("data key = %s, want %s", key, v.DataKey)
	}
}
