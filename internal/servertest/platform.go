package servertest

import (
	"testing"
	"time"

	"chsgate/internal/channel"
	"chsgate/internal/registry"
	"chsgate/internal/server"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/sdk"
)

// syntheticSeed fixes the synthetic registry that NewPlatform imports.
const syntheticSeed = 7

// Platform is a database with channels and persons, served by server.Run
// once Start is called.
type Platform struct {
	Backend   storetest.Backend
	MasterKey []byte
	Channels  *channel.Registry
	// Clock is the server's and the SDK's clock. Tests advance it before
	// each request that may pass, because the same sign string twice inside
	// the timestamp window is a replay.
	Clock *Clock
	// UserKey is the private key, hex, of the channels' SM2 key pair, and
	// UserPublicKey is its public key. The platform encrypts user_id values
	// to the public key.
	UserKey, UserPublicKey string
	// Persons are the records of the registry in the database.
	Persons []store.PersonRecord
	// Server is the running server. It is nil until Start.
	*Server
}

// NewPlatform imports a synthetic registry into b and returns a platform
// with a channel registry under MasterKeyHex and a new SM2 key pair for
// the channels. The clock starts at the current time cut to whole
// milliseconds, the precision of fjs timestamps, so a request stamped at
// the clock's time carries exactly that time.
func NewPlatform(t *testing.T, b storetest.Backend) *Platform {
	t.Helper()
	p := &Platform{
		Backend:   b,
		MasterKey: MasterKey(t),
		Channels:  NewRegistry(t, b.Store),
		Clock:     NewClock(time.Now().Truncate(time.Millisecond)),
		Persons:   registry.Synthetic(syntheticSeed),
	}
	p.UserKey, p.UserPublicKey = SM2KeyPair(t)
	ImportPersons(t, b.Store, p.Persons, p.Clock.Now())
	return p
}

// AddChannel adds a channel at the clock's time and returns it.
func (p *Platform) AddChannel(t *testing.T, config channel.Config) *channel.Channel {
	t.Helper()
	added, err := p.Channels.Add(t.Context(), config, p.Clock.Now())
	if err != nil {
		t.Fatalf("add channel %s: %v", config.AppID, err)
	}
	return added
}

// Start serves the platform's database with its master key and clock and
// the other settings of cfg. It fails the test when the server does not
// start.
func (p *Platform) Start(t *testing.T, cfg server.Config) {
	t.Helper()
	cfg.Store = p.Backend.Store
	cfg.MasterKey = p.MasterKey
	cfg.Now = p.Clock.Now
	p.Server = Start(t, cfg)
}

// Client returns an SDK client of appid for the public listener, as
// ClientAt does.
func (p *Platform) Client(t *testing.T, appid string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	return p.ClientAt(t, p.URL, appid, opts...)
}

// ClientAt returns an SDK client of appid at baseURL with the shared
// secrets, SM3 signatures, SM4 encryption, the channels' SM2 private key
// and the platform's clock. The options given come after these, so they
// override them.
func (p *Platform) ClientAt(t *testing.T, baseURL, appid string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	opts = append([]sdk.Option{
		sdk.WithSM2PrivateKey(p.UserKey),
		sdk.WithClock(p.Clock.Now),
	}, opts...)
	return NewClient(t, baseURL, appid, opts...)
}

// Pick returns the first person of the registry that matches.
func (p *Platform) Pick(t *testing.T, match func(store.PersonRecord) bool) store.PersonRecord {
	t.Helper()
	for _, person := range p.Persons {
		if match(person) {
			return person
		}
	}
	t.Fatal("no synthetic person matches")
	return store.PersonRecord{}
}
