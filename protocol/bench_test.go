package protocol

import (
	"testing"

	gmcipher "github.com/emmansun/gmsm/cipher"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// paymentBusiness is a CI00.02.00.01 request for a family of three paying
// by mutual aid: about 1 KiB of compact JSON, the size the benchmarks model.
const paymentBusiness = `{"appid":"ldxt","service_id":"HMB-SVC-01","org_code":"HMB001",` +
	`"user_id":"04A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9",` +
	`"auth_code":"AC7f3e9d2c1b0a9f8e7d6c5b4a39281706","hi_pay_no":"HMB20261204000000000000000000123",` +
	`"hi_pay_date":"2026-12-04 10:15:30","medfee_sumamt":"1288.00","pay_kind":"2",` +
	`"redirect_url":"https://hmb.example.cn/pay/done?order=HMB20261204000000000000000000123",` +
	`"notify_url":"https://hmb.example.cn/api/chs/notify","url_type":"1",` +
	`"fail_url":"https://hmb.example.cn/pay/fail?order=HMB20261204000000000000000000123",` +
	`"paylist":[` +
	`{"name":"林建华","idcard":"350102198003151234","cert_type":"01","region":"350100","pay_amt":"588.00","sub_his_pay_no":"HMB20261204000000000000000000123-1"},` +
	`{"name":"陈秀英","idcard":"350102198207221248","cert_type":"01","region":"350100","pay_amt":"400.00","sub_his_pay_no":"HMB20261204000000000000000000123-2"},` +
	`{"name":"林子涵","idcard":"350102201005061237","cert_type":"01","region":"350100","pay_amt":"300.00","sub_his_pay_no":"HMB20261204000000000000000000123-3"}]}`

func paymentKeys(tb testing.TB) *Keys {
	tb.Helper()
	keys, err := NewKeys(KeyConfig{
		SignType: SignSM3,
		SignKey:  "testkey",
		EncType:  EncSM4,
		Secrets: ChannelSecrets{
			AppID:     "ldxt",
			AppSecret: "67b082f9d58045619a4ef05147b87659",
			Salt:      "f2313d85601342b8b15c872286c6aaff",
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return keys
}

func paymentRequest() *Request {
	return &Request{
		AppID:     "ldxt",
		AppSecret: "67b082f9d58045619a4ef05147b87659",
		FunID:     "CI00.02.00.01",
		Timestamp: "1796364930000",
		Payload:   []byte(paymentBusiness),
	}
}

func BenchmarkSealPaymentRequest(b *testing.B) {
	keys := paymentKeys(b)
	req := paymentRequest()
	b.SetBytes(int64(len(paymentBusiness)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ProfileFJS.SealRequest(keys, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenPaymentRequest(b *testing.B) {
	benchmarkOpen(b, (*Envelope).Open)
}

// BenchmarkOpenWithDigestPaymentRequest is the gateway's path: Open plus
// the replay digest.
func BenchmarkOpenWithDigestPaymentRequest(b *testing.B) {
	benchmarkOpen(b, (*Envelope).OpenWithDigest)
}

func benchmarkOpen(b *testing.B, open func(*Envelope, *Keys) (*Opened, error)) {
	keys := paymentKeys(b)
	body, err := ProfileFJS.SealRequest(keys, paymentRequest())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(paymentBusiness)))
	b.ReportAllocs()
	for b.Loop() {
		env, err := ProfileFJS.DecodeRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := open(env, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrimitivesPaymentRequest does only the cryptographic work that
// sealing the same request needs: SM3 over its exact sign string (envelope
// fields included) and SM4-ECB over its padded business JSON. Seal and open
// are measured against it.
func BenchmarkPrimitivesPaymentRequest(b *testing.B) {
	keys := paymentKeys(b)
	body, err := ProfileFJS.SealRequest(keys, paymentRequest())
	if err != nil {
		b.Fatal(err)
	}
	env, err := ProfileFJS.DecodeRequest(body)
	if err != nil {
		b.Fatal(err)
	}
	opened, err := env.Open(keys)
	if err != nil {
		b.Fatal(err)
	}
	signString, err := ProfileFJS.SignString(opened.Plaintext(), keys.SignKey)
	if err != nil {
		b.Fatal(err)
	}
	dataKey, err := DeriveDataKey(EncSM4, DeriveSalt, ChannelSecrets{
		AppSecret: "67b082f9d58045619a4ef05147b87659", Salt: "f2313d85601342b8b15c872286c6aaff"})
	if err != nil {
		b.Fatal(err)
	}
	block, err := sm4.NewCipher(dataKey)
	if err != nil {
		b.Fatal(err)
	}
	padded := make([]byte, (len(paymentBusiness)/16+1)*16)
	copy(padded, paymentBusiness)
	out := make([]byte, len(padded))
	b.SetBytes(int64(len(paymentBusiness)))
	b.ReportAllocs()
	for b.Loop() {
		sum := sm3.Sum(signString)
		_ = sum
		gmcipher.NewECBEncrypter(block).CryptBlocks(out, padded)
	}
}

func mustParse(tb testing.TB, s string) object {
	tb.Helper()
	o, err := parseObject([]byte(s))
	if err != nil {
		tb.Fatal(err)
	}
	return o
}
