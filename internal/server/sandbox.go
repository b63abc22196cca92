package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/registry"
	"chsgate/internal/store"
	"chsgate/protocol"
)

// The demo channel of sandbox mode. Its secrets are published, in the spec's
// examples and in the docs, so that integrators can call the sandbox at
// once. Production mode does not start while any of them is in use.
const (
	DemoAppID     = "ldxt"
	DemoAppSecret = "67b082f9d58045619a4ef05147b87659"
	DemoBizKey    = "testkey"
	DemoSalt      = "f2313d85601342b8b15c872286c6aaff"
	DemoOrgCode   = "HMB001"
	DemoServiceID = "HMB-SVC-01"
	// DemoSM2PrivateKey and DemoSM2PublicKey are the demo channel's SM2 key
	// pair: the platform encrypts user_id to the public key, and the third
	// party decrypts it with the private key.
	DemoSM2PrivateKey = "8eb480ce1185b47c6271a4e065694c07387e456834d4929fdb532fdf0cbf5311"
	DemoSM2PublicKey  = "04c8b6bc8cb8315cd777c961887ad91e77098e2adf1c6530fc60270434eedd2c4271dd0b5c8cd9a1689058aacd3f053cf7f2b6d98c48f9454e29fd44e5414196a8"
)

// SandboxSeed fixes the synthetic registry, so every sandbox has the same
// persons and examples in the docs stay true.
const SandboxSeed = 20261204

// DemoChannel returns the settings of the demo channel.
func DemoChannel() channel.Config {
	return channel.Config{
		AppID:         DemoAppID,
		OrgCode:       DemoOrgCode,
		ServiceID:     DemoServiceID,
		Profile:       protocol.ProfileFJS,
		SignType:      protocol.SignMD5,
		EncType:       protocol.EncSM4,
		KeyDerivation: protocol.DeriveSalt,
		SecurityMode:  store.ModeKey,
		SM2PublicKey:  DemoSM2PublicKey,
		AllowedHosts:  []string{"127.0.0.1", "localhost"},
		Functions:     api.Functions,
		Secrets:       channel.Secrets{AppSecret: DemoAppSecret, BizKey: DemoBizKey, Salt: DemoSalt},
	}
}

// SeedSandbox fills an empty database with the synthetic registry and the
// demo channel. A database that holds any person or channel is left alone.
func SeedSandbox(ctx context.Context, s store.Store, channels *channel.Registry, now time.Time, logger *slog.Logger) error {
	persons, err := s.PersonCount(ctx)
	if err != nil {
		return err
	}
	existing, err := s.Channels(ctx)
	if err != nil {
		return err
	}
	if persons > 0 || len(existing) > 0 {
		seeded := false
		for _, c := range existing {
			seeded = seeded || c.AppID == DemoAppID
		}
		if !seeded {
			// Sandbox mode on a production database opens the identity
			// simulator to real channels and persons, so it gets a warning.
			logger.Warn("sandbox mode on a database that was not seeded as a sandbox: the identity simulator and /sandbox endpoints serve its channels and persons; use a separate database for the sandbox",
				"persons", persons, "channels", len(existing))
			return nil
		}
		logger.Info("sandbox database already has data; seeding nothing", "persons", persons, "channels", len(existing))
		return nil
	}
	records := registry.Synthetic(SandboxSeed)
	result, err := s.ImportPersons(ctx, records, now)
	if err != nil {
		return fmt.Errorf("import the synthetic registry: %w", err)
	}
	if _, err := channels.Add(ctx, DemoChannel(), now); err != nil {
		return fmt.Errorf("add the demo channel: %w", err)
	}
	logger.Info("sandbox seeded", "persons", result.Inserted, "channel", DemoAppID)
	return nil
}
