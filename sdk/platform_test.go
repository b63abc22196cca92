package sdk_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"chsgate/api"
	"chsgate/protocol"
	"chsgate/sdk"
)

// The published demo SM2 key pair, which the sandbox gives its demo channel.
const (
	demoPrivateKey = "8eb480ce1185b47c6271a4e065694c07387e456834d4929fdb532fdf0cbf5311"
	demoPublicKey  = "04c8b6bc8cb8315cd777c961887ad91e77098e2adf1c6530fc60270434eedd2c4271dd0b5c8cd9a1689058aacd3f053cf7f2b6d98c48f9454e29fd44e5414196a8"
)

// A key pair generated for these tests, standing in for the platform's own,
// so that a client verifying with the channel's key instead would fail.
const (
	platformPrivateKey = "a671ccccc61aa16d9a1d0b28980f83abf6ec7e2c884a6915a91c20bc96a86011"
	platformPublicKey  = "0415fb5100126d2286e76ccb79b7e80f7e03f66a35daf7576c3c45166d78fc97dc3defeb2c807837ad385f5bf8e7355e9b2b85bf81df299272dcedfc0447e307a3"
)

// rsaKeyPair is an RSA key pair: the private key as PEM (PKCS #8) and the
// public key as PEM (PKIX).
type rsaKeyPair struct{ private, public string }

func newRSAKeyPair(bits int) (rsaKeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return rsaKeyPair{}, err
	}
	private, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return rsaKeyPair{}, err
	}
	public, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return rsaKeyPair{}, err
	}
	return rsaKeyPair{
		private: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: private})),
		public:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: public})),
	}, nil
}

// testRSAKeys returns the RSA key pairs of sign type RSA, generated once
// for these tests: the channel's, which signs requests, and the platform's,
// which signs responses and callbacks.
var testRSAKeys = sync.OnceValue(func() (keys struct{ channel, platform rsaKeyPair }) {
	var err error
	if keys.channel, err = newRSAKeyPair(2048); err != nil {
		panic(fmt.Sprintf("generate the channel's RSA key: %v", err))
	}
	if keys.platform, err = newRSAKeyPair(2048); err != nil {
		panic(fmt.Sprintf("generate the platform's RSA key: %v", err))
	}
	return keys
})

// tokenLifetime is the expires_in of the fake platform's access tokens, in
// seconds.
const tokenLifetime = 7200

// channel is one channel's settings, shared by the fake platform and the
// client under test.
type channel struct {
	profile    protocol.Profile
	appID      string
	appSecret  string
	bizKey     string
	salt       string
	signType   protocol.SignType
	encType    protocol.EncType
	derivation protocol.KeyDerivation // the profile's default when empty
}

// demoChannel returns the sandbox's demo channel with sign type SM3.
func demoChannel() channel {
	return channel{
		profile:   protocol.ProfileFJS,
		appID:     "ldxt",
		appSecret: "67b082f9d58045619a4ef05147b87659",
		bizKey:    "testkey",
		salt:      "f2313d85601342b8b15c872286c6aaff",
		signType:  protocol.SignSM3,
		encType:   protocol.EncSM4,
	}
}

// hsaChannel returns a channel of the hsa profile with the appId and
// appSecret of the spec's appendix, whose data key the appid derivation
// makes.
func hsaChannel() channel {
	return channel{
		profile:   protocol.ProfileHSA,
		appID:     "43AF047BBA47FC8A1AE8EFB232BDBBCB",
		appSecret: "4117E877F5FA0A0188891283E4B617D5",
		signType:  protocol.SignSM3,
		encType:   protocol.EncSM4,
	}
}

// clientOptions returns the options of a client of ch. Every client gets
// the demo private key, so it can decrypt user_id values.
func (ch channel) clientOptions(now func() time.Time) []sdk.Option {
	opts := []sdk.Option{
		sdk.WithCredentials(ch.appSecret, ch.bizKey, ch.salt),
		sdk.WithProfile(ch.profile),
		sdk.WithSignType(ch.signType),
		sdk.WithEncType(ch.encType),
		sdk.WithSM2PrivateKey(demoPrivateKey),
	}
	if ch.derivation != "" {
		opts = append(opts, sdk.WithKeyDerivation(string(ch.derivation)))
	}
	switch ch.signType {
	case protocol.SignSM2:
		opts = append(opts, sdk.WithPlatformPublicKey(platformPublicKey))
	case protocol.SignRSA:
		opts = append(opts,
			sdk.WithRSAPrivateKey(testRSAKeys().channel.private),
			sdk.WithPlatformRSAPublicKey(testRSAKeys().platform.public))
	}
	if now != nil {
		opts = append(opts, sdk.WithClock(now))
	}
	return opts
}

// platformKeys returns ch's keys from the platform's side: the platform's
// private key signs and the channel's public key verifies.
func (ch channel) platformKeys() (*protocol.Keys, error) {
	signKey := ch.bizKey
	derivation := ch.derivation
	if ch.profile == protocol.ProfileHSA {
		signKey = ch.appSecret
		if derivation == "" {
			derivation = protocol.DeriveAppID
		}
	}
	config := protocol.KeyConfig{
		SignType:   ch.signType,
		SignKey:    signKey,
		EncType:    ch.encType,
		Derivation: derivation,
		Secrets:    protocol.ChannelSecrets{AppID: ch.appID, AppSecret: ch.appSecret, Salt: ch.salt},
	}
	var err error
	switch ch.signType {
	case protocol.SignSM2:
		if config.SM2PrivateKey, err = protocol.ParseSM2PrivateKey(platformPrivateKey); err != nil {
			return nil, err
		}
		if config.SM2PublicKey, err = protocol.ParseSM2PublicKey(demoPublicKey); err != nil {
			return nil, err
		}
	case protocol.SignRSA:
		if config.RSAPrivateKey, err = protocol.ParseRSAPrivateKey(testRSAKeys().platform.private); err != nil {
			return nil, err
		}
		if config.RSAPublicKey, err = protocol.ParseRSAPublicKey(testRSAKeys().channel.public); err != nil {
			return nil, err
		}
	}
	return protocol.NewKeys(config)
}

// fakeClock is a clock that tests move by hand. Each reading advances it
// by step, so consecutive requests get distinct timestamps when step is
// set.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 1, 10, 0, 0, 0, protocol.Shanghai())}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now
	c.now = c.now.Add(c.step)
	return now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// gatewayRequest is what the fake platform recorded of one gateway request.
type gatewayRequest struct {
	path        string
	contentType string
	funID       string
	appSecret   string
	token       string
	timestamp   string
	payload     []byte // the business content in clear, once opened
	signDigest  [sha256.Size]byte
}

// businessFunc handles an opened request and returns a result code and the data to
// send, or nil for none.
type businessFunc func(funID string, payload []byte) (code int, data any)

// fakePlatform plays the platform's gateway and token endpoint for one
// channel, with the protocol package: it opens requests with the channel's
// keys, checks credentials, timestamps and replays, and responds with sealed
// responses or unsigned faults. Its fields other than mu's are set before
// the server starts and never change.
type fakePlatform struct {
	*httptest.Server

	channel  channel
	keys     *protocol.Keys
	now      func() time.Time
	business businessFunc

	// Failure modes, set by tests before the server starts.
	gatewayStatus   int                 // respond to every gateway request with this HTTP status
	closeConnection bool                // close the connection instead of responding
	tamper          func([]byte) []byte // rewrite each sealed response
	tokenStatus     int                 // respond to every token request with this HTTP status
	tokenGate       chan struct{}       // token requests wait until it is closed
	rejectTokens    bool                // reject every token-mode request with 10004

	gatewayHits atomic.Int32
	tokenHits   atomic.Int32

	mu       sync.Mutex
	tokens   map[string]time.Time // access token → expiry
	tokenSeq int
	seen     map[[sha256.Size]byte]bool
	requests []gatewayRequest
}

// newFakePlatform starts a fake platform for ch on 127.0.0.1. setup may set
// failure modes before the server starts. The platform reads the time from
// now, or from time.Now when now is nil.
func newFakePlatform(ch channel, now func() time.Time, setup ...func(*fakePlatform)) *fakePlatform {
	keys, err := ch.platformKeys()
	if err != nil {
		panic(fmt.Sprintf("fake platform keys: %v", err))
	}
	if now == nil {
		now = time.Now
	}
	p := &fakePlatform{
		channel:  ch,
		keys:     keys,
		now:      now,
		business: demoBusiness,
		tokens:   make(map[string]time.Time),
		seen:     make(map[[sha256.Size]byte]bool),
	}
	for _, f := range setup {
		f(p)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", p.serveToken)
	mux.HandleFunc("POST /gateway", p.serveGateway)
	mux.HandleFunc("POST /gateway/{funid}", p.serveGateway)
	mux.HandleFunc("POST /hsa/gateway", p.serveGateway)
	root := http.NewServeMux()
	root.Handle("/", mux)
	root.Handle("/prefix/", http.StripPrefix("/prefix", mux))
	p.Server = httptest.NewServer(root)
	return p
}

// startFakePlatform starts a fake platform for the sandbox's demo channel
// as the sandbox seeds it, with sign type MD5.
func startFakePlatform() *fakePlatform {
	ch := demoChannel()
	ch.signType = protocol.SignMD5
	return newFakePlatform(ch, nil)
}

// recorded returns a copy of the gateway requests received so far.
func (p *fakePlatform) recorded() []gatewayRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]gatewayRequest(nil), p.requests...)
}

// revokeTokens deletes every access token issued, as a restarted platform
// would.
func (p *fakePlatform) revokeTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.tokens)
}

func (p *fakePlatform) serveToken(w http.ResponseWriter, r *http.Request) {
	p.tokenHits.Add(1)
	if p.tokenGate != nil {
		<-p.tokenGate
	}
	if p.tokenStatus != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(p.tokenStatus)
		io.WriteString(w, `{"error":"temporarily_unavailable","error_description":"try later"}`)
		return
	}

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	timestamp := p.channel.profile.FormatTimestamp(p.now())
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		w.Write(p.channel.profile.EncodeFault(protocol.CodeMalformed, "", timestamp))
		return
	}
	if err := r.ParseForm(); err != nil {
		w.Write(p.channel.profile.EncodeFault(protocol.CodeMalformed, "", timestamp))
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" ||
		r.PostForm.Get("client_id") != p.channel.appID ||
		r.PostForm.Get("client_secret") != p.channel.appSecret {
		w.Write(p.channel.profile.EncodeFault(protocol.CodeAuthFailed, "", timestamp))
		return
	}

	p.mu.Lock()
	p.tokenSeq++
	token := "token-" + strconv.Itoa(p.tokenSeq)
	p.tokens[token] = p.now().Add(tokenLifetime * time.Second)
	p.mu.Unlock()
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d}`, token, tokenLifetime)
}

func (p *fakePlatform) serveGateway(w http.ResponseWriter, r *http.Request) {
	p.gatewayHits.Add(1)
	if p.closeConnection {
		io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	if p.gatewayStatus != 0 {
		http.Error(w, "upstream unavailable", p.gatewayStatus)
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	responseBody := p.respond(r, body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(responseBody)
}

// respond opens one gateway request and returns the response body, checking
// what the platform checks, in its order.
func (p *fakePlatform) respond(r *http.Request, body []byte) []byte {
	profile := p.channel.profile
	now := p.now()
	timestamp := profile.FormatTimestamp(now)
	fault := func(err error) []byte {
		var e *protocol.Error
		if !errors.As(err, &e) {
			e = protocol.NewError(protocol.CodeInternal)
		}
		return profile.EncodeFault(e.Code, e.Message, timestamp)
	}

	envelope, err := profile.DecodeRequest(body)
	if err != nil {
		return fault(err)
	}
	request := gatewayRequest{
		path:        r.RequestURI,
		contentType: r.Header.Get("Content-Type"),
		funID:       envelope.FunID,
		appSecret:   envelope.AppSecret,
		token:       envelope.Token,
		timestamp:   envelope.Timestamp,
	}
	defer func() {
		p.mu.Lock()
		p.requests = append(p.requests, request)
		p.mu.Unlock()
	}()

	if alias := r.PathValue("funid"); alias != "" && alias != envelope.FunID {
		return fault(protocol.NewError(protocol.CodeUnknownFunction))
	}
	if envelope.AppID != p.channel.appID {
		return fault(protocol.NewError(protocol.CodeUnknownChannel))
	}
	if profile == protocol.ProfileFJS && !p.authenticated(envelope, now) {
		return fault(protocol.NewError(protocol.CodeAuthFailed))
	}
	if err := profile.CheckTimestamp(envelope.Timestamp, now, protocol.DefaultTimestampWindow); err != nil {
		return fault(err)
	}
	opened, err := envelope.OpenWithDigest(p.keys)
	if err != nil {
		return fault(err)
	}
	request.payload = opened.Payload
	request.signDigest = opened.SignDigest
	if p.replayed(opened.SignDigest) {
		return fault(protocol.NewError(protocol.CodeReplay))
	}

	code, data := p.business(envelope.FunID, opened.Payload)
	var payload []byte
	if data != nil {
		if payload, err = json.Marshal(data); err != nil {
			return fault(err)
		}
	}
	sealed, err := profile.SealResponse(p.keys, &protocol.Response{Code: code, Timestamp: timestamp, Payload: payload})
	if err != nil {
		return fault(err)
	}
	if p.tamper != nil {
		sealed = p.tamper(sealed)
	}
	return sealed
}

// authenticated checks the credential of an fjs request: a live token in
// token mode, the appsecret in key mode.
func (p *fakePlatform) authenticated(envelope *protocol.Envelope, now time.Time) bool {
	if envelope.Token == "" {
		return envelope.AppSecret == p.channel.appSecret
	}
	if p.rejectTokens {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	expiry, ok := p.tokens[envelope.Token]
	return ok && now.Before(expiry)
}

func (p *fakePlatform) replayed(digest [sha256.Size]byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen[digest] {
		return true
	}
	p.seen[digest] = true
	return false
}

// insuredRegistry contains the persons of the fake platform, by ID number.
// The first is the fictional person of the interface specification's
// signed example request.
var insuredRegistry = map[string]struct {
	region   string
	insured  bool
	insuType string
}{
	"650101198001010032": {region: "350102", insured: true, insuType: "职工基本医疗保险"},
	"350102199001010011": {region: "350104", insured: false, insuType: "城乡居民基本医疗保险"},
}

var channelPublicKey = mustParsePublicKey(demoPublicKey)

func mustParsePublicKey(text string) *ecdsa.PublicKey {
	key, err := protocol.ParseSM2PublicKey(text)
	if err != nil {
		panic(err)
	}
	return key
}

// demoBusiness responds to CI00.01.00.03 from insuredRegistry and every other
// function with its function id.
func demoBusiness(funID string, payload []byte) (int, any) {
	if funID != api.FunInsured {
		return protocol.CodeOK, map[string]string{"funid": funID}
	}

	var request api.InsuredRequest
	if err := json.Unmarshal(payload, &request); err != nil {
		return protocol.CodeBadField, nil
	}
	response := api.InsuredResponse{List: []api.InsuredResult{}}
	for _, person := range request.UserList {
		switch {
		case person.Name == "":
			return protocol.CodeNameEmpty, nil
		case person.CertType == "":
			return protocol.CodeCertTypeEmpty, nil
		case person.IDCard == "":
			return protocol.CodeIDNumberEmpty, nil
		}
		userID, err := protocol.EncryptUserID(channelPublicKey, protocol.UserID{
			CertType: person.CertType, IDCard: person.IDCard, Name: person.Name,
		})
		if err != nil {
			return protocol.CodeInternal, nil
		}
		entry := insuredRegistry[person.IDCard]
		result := api.InsuredResult{Region: entry.region, IsInsu: "0", UserID: userID, InsuTypeName: entry.insuType}
		if person.Region != "" {
			result.Region = person.Region
		}
		if entry.insured {
			result.IsInsu = "1"
		}
		response.List = append(response.List, result)
	}
	return protocol.CodeOK, response
}
