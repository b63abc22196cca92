package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/registry"
	"chsgate/internal/server"
	"chsgate/internal/servertest"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
	"chsgate/sdk"
)

// The channel that the command tests add. Its master key is servertest's,
// because startGateway serves the database with that key.
const (
	cmdMasterKey = servertest.MasterKeyHex
	cmdAppID     = "hmbcli"
	cmdSecret    = "5e1f0c2b3a4d6e7f8091a2b3c4d5e6f7"
	cmdBizKey    = "bizkey-for-command-tests"
	cmdSalt      = "00112233445566778899aabbccddeeff"
	cmdOrgCode   = "ORG042"
	cmdServiceID = "SVC042"
)

// testDatabase is a fresh, empty database that the commands open by --db.
type testDatabase struct{ name, dsn string }

// testDatabases returns a SQLite file and, when CHSGATE_TEST_POSTGRES_URL
// is set, a PostgreSQL schema.
func testDatabases(t *testing.T) []testDatabase {
	t.Helper()
	dbs := []testDatabase{{"sqlite", filepath.Join(t.TempDir(), "chsgate.db")}}
	if url, ok := storetest.PostgresURL(t); ok {
		dbs = append(dbs, testDatabase{"postgres", url})
	}
	return dbs
}

// addChannelArgs returns the command line that adds the test channel to
// dsn, followed by extra flags.
func addChannelArgs(dsn, userPublicKey string, extra ...string) []string {
	args := []string{"channel", "add", "--db", dsn, "--appid", cmdAppID, "--appsecret", cmdSecret,
		"--bizkey", cmdBizKey, "--salt", cmdSalt, "--org-code", cmdOrgCode, "--service-id", cmdServiceID,
		"--sm2-public-key", userPublicKey, "--allow-host", "127.0.0.1"}
	return withFlags(args, extra...)
}

// startGateway runs the server on dsn, as chsgate serve would, and returns
// its base URL.
func startGateway(t *testing.T, dsn string) string {
	t.Helper()
	st, err := openStore(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the server's cleanup, so it runs after the server
	// has stopped.
	t.Cleanup(func() { st.Close() })
	return servertest.Start(t, server.Config{Store: st, MasterKey: servertest.MasterKey(t)}).URL
}

// callClock stamps every call a millisecond later than the one before, so
// two calls with the same content are never taken for a replay.
var callClock atomic.Int64

// callInsured calls CI00.01.00.03 as the test channel with the given
// secrets and returns the SDK's error.
func callInsured(t *testing.T, url, appSecret, bizKey string, opts ...sdk.Option) error {
	t.Helper()
	opts = append([]sdk.Option{
		sdk.WithCredentials(appSecret, bizKey, cmdSalt),
		sdk.WithClock(func() time.Time { return time.Now().Add(time.Duration(callClock.Add(1)) * time.Millisecond) }),
	}, opts...)
	client, err := sdk.New(url, cmdAppID, opts...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Insured(t.Context(), &api.InsuredRequest{UserList: []api.InsuredPerson{
		{Name: "王二", IDCard: "650101198001010032", CertType: "01"},
	}})
	return err
}

func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	if got := sdk.Code(err); got != code {
		t.Errorf("call: %v, want code %d", err, code)
	}
	if code == protocol.CodeOK && err != nil {
		t.Errorf("call: %v, want success", err)
	}
}

func TestKeysSM2(t *testing.T) {
	// A label before each key is allowed, as long as the private key comes
	// first.
	pattern := regexp.MustCompile(`^(?:private +)?([0-9a-f]{64})\n(?:public +)?(04[0-9a-f]{128})\n$`)
	var privates []string
	for range 2 {
		r := run(t, "", "keys", "sm2")
		wantSuccess(t, r)
		m := pattern.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("output %q, want a private and a public line of hex", r.stdout)
		}
		key, err := protocol.ParseSM2PrivateKey(m[1])
		if err != nil {
			t.Fatalf("private key: %v", err)
		}
		if derived := channel.SM2PublicKeyHex(&key.PublicKey); derived != m[2] {
			t.Errorf("public key %s, but the private key's is %s", m[2], derived)
		}
		privates = append(privates, m[1])
	}
	if privates[0] == privates[1] {
		t.Error("two runs printed the same private key")
	}
}

func TestChannelAddList(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	_, userPublic := sm2KeyPair(t)
	for _, db := range testDatabases(t) {
		t.Run(db.name, func(t *testing.T) {
			// --allow-host is the one flag that may be given more than once.
			args := append(addChannelArgs(db.dsn, userPublic, "--functions", api.FunInsured+","+api.FunQuery), "--allow-host", "hmb.example.cn")
			r := run(t, "", args...)
			wantSuccess(t, r)
			if want := "added channel hmbcli (org_code ORG042, service_id SVC042, fjs, sign SM3, enc SM4, key mode)\n"; r.stdout != want {
				t.Errorf("add printed %q, want %q", r.stdout, want)
			}

			list := run(t, "", "channel", "list", "--db", db.dsn)
			wantSuccess(t, list)
			lines := strings.Split(strings.TrimSuffix(list.stdout, "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("list printed %d lines, want a header and one channel:\n%s", len(lines), list.stdout)
			}
			wantHeader := []string{"APPID", "ORG_CODE", "SERVICE_ID", "PROFILE", "SIGN", "ENC", "MODE", "STATE", "ALLOWED", "HOSTS", "FUNCTIONS"}
			if got := strings.Fields(lines[0]); !slices.Equal(got, wantHeader) {
				t.Errorf("header %q, want %q", got, wantHeader)
			}
			wantRow := []string{"hmbcli", "ORG042", "SVC042", "fjs", "SM3", "SM4", "key", "enabled", "127.0.0.1,hmb.example.cn", "CI00.01.00.03,CI00.02.00.04"}
			if got := strings.Fields(lines[1]); !slices.Equal(got, wantRow) {
				t.Errorf("row %q, want %q", got, wantRow)
			}
			for _, secret := range []string{cmdSecret, cmdBizKey, cmdSalt, cmdMasterKey} {
				if strings.Contains(list.stdout, secret) {
					t.Errorf("list shows the secret %q", secret)
				}
			}
		})
	}
}

// TestChannelAddSM2KeyFile reads the channel's SM2 public key from a file,
// as --rsa-public-key can, and stores the same key as when it is given
// inline.
func TestChannelAddSM2KeyFile(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	_, userPublic := sm2KeyPair(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "channel-sm2.pub")
	if err := os.WriteFile(path, []byte(userPublic+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := filepath.Join(dir, "chsgate.db")
	wantSuccess(t, run(t, "", "migrate", "--db", dsn))
	wantSuccess(t, run(t, "", addChannelArgs(dsn, "@"+path)...))
	st, err := openStore(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	row, err := st.Channel(t.Context(), cmdAppID)
	if err != nil {
		t.Fatal(err)
	}
	if row.SM2PublicKey != userPublic {
		t.Errorf("stored SM2 public key %s, want %s", row.SM2PublicKey, userPublic)
	}

	missing := addChannelArgs(filepath.Join(dir, "other.db"), "@"+filepath.Join(dir, "absent.pub"))
	wantFailure(t, run(t, "", missing...), exitUsage, "read --sm2-public-key")
}

func TestChannelAddDuplicate(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	_, userPublic := sm2KeyPair(t)
	for _, db := range testDatabases(t) {
		t.Run(db.name, func(t *testing.T) {
			wantSuccess(t, run(t, "", addChannelArgs(db.dsn, userPublic)...))
			r := run(t, "", addChannelArgs(db.dsn, userPublic)...)
			wantFailure(t, r, exitFailure, "channel hmbcli already exists: use another --appid, or chsgate channel rotate to change its secrets")
		})
	}
}

func TestChannelDisableEnable(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	_, userPublic := sm2KeyPair(t)
	for _, db := range testDatabases(t) {
		t.Run(db.name, func(t *testing.T) {
			wantSuccess(t, run(t, "", addChannelArgs(db.dsn, userPublic)...))
			url := startGateway(t, db.dsn)
			wantCode(t, callInsured(t, url, cmdSecret, cmdBizKey), protocol.CodeOK)

			steps := []struct {
				args   []string
				output string
				code   int
			}{
				{[]string{"channel", "disable", "--db", db.dsn, "--appid", cmdAppID}, "channel hmbcli disabled\n", protocol.CodeUnknownChannel},
				{[]string{"channel", "disable", "--db", db.dsn, "--appid", cmdAppID, "--enable"}, "channel hmbcli enabled\n", protocol.CodeOK},
			}
			for _, step := range steps {
				r := run(t, "", step.args...)
				wantSuccess(t, r)
				if r.stdout != step.output {
					t.Errorf("%s printed %q, want %q", strings.Join(step.args[:2], " "), r.stdout, step.output)
				}
				wantCode(t, callInsured(t, url, cmdSecret, cmdBizKey), step.code)
			}
		})
	}
}

func TestChannelDisableUnknown(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	dsn := filepath.Join(t.TempDir(), "chsgate.db")
	wantSuccess(t, run(t, "", "migrate", "--db", dsn))
	r := run(t, "", "channel", "disable", "--db", dsn, "--appid", "nobody")
	wantFailure(t, r, exitFailure, "channel nobody not found: chsgate channel list shows the channels")
}

// TestChannelCommandsMissingDB gives a SQLite path that does not exist, as
// a typo would. Only channel add may create the database.
func TestChannelCommandsMissingDB(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	dsn := filepath.Join(t.TempDir(), "typo.db")
	for _, args := range [][]string{
		{"channel", "list", "--db", dsn},
		{"channel", "disable", "--db", dsn, "--appid", cmdAppID},
		{"channel", "rotate", "--db", dsn, "--appid", cmdAppID, "--generate"},
	} {
		wantFailure(t, run(t, "", args...), exitUsage, "typo.db does not exist: check the path")
	}
	if _, err := os.Stat(dsn); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a channel command created %s", dsn)
	}
}

func TestChannelRotateGenerate(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	_, userPublic := sm2KeyPair(t)
	pattern := regexp.MustCompile(`^rotated channel hmbcli: appsecret, bizkey\nappsecret ([0-9a-f]{32})\nbizkey    ([0-9a-f]{32})\n$`)
	for _, db := range testDatabases(t) {
		t.Run(db.name, func(t *testing.T) {
			wantSuccess(t, run(t, "", addChannelArgs(db.dsn, userPublic)...))
			url := startGateway(t, db.dsn)
			wantCode(t, callInsured(t, url, cmdSecret, cmdBizKey), protocol.CodeOK)

			r := run(t, "", "channel", "rotate", "--db", db.dsn, "--appid", cmdAppID, "--generate")
			wantSuccess(t, r)
			m := pattern.FindStringSubmatch(r.stdout)
			if m == nil {
				t.Fatalf("rotate printed %q, want the new appsecret and bizkey", r.stdout)
			}
			newSecret, newBizKey := m[1], m[2]
			if newSecret == cmdSecret {
				t.Error("the new appsecret is the old one")
			}

			cases := []struct {
				name           string
				secret, bizKey string
				code           int
			}{
				{"old secrets", cmdSecret, cmdBizKey, protocol.CodeAuthFailed},
				{"old appsecret", cmdSecret, newBizKey, protocol.CodeAuthFailed},
				{"new secrets", newSecret, newBizKey, protocol.CodeOK},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					wantCode(t, callInsured(t, url, c.secret, c.bizKey), c.code)
				})
			}
		})
	}
}

// TestChannelSM2Keys adds an SM2 channel, whose platform public key channel
// add prints as the only way the channel learns it, then replaces the
// channel's SM2 public key and the platform's key pair. Requests signed with
// the old channel key, and responses checked with the old platform key,
// then fail.
func TestChannelSM2Keys(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	oldPrivate, oldPublic := sm2KeyPair(t)
	newPrivate, newPublic := sm2KeyPair(t)
	pattern := regexp.MustCompile(`\nplatform SM2 public key for the channel to verify responses: (04[0-9a-f]{128})\n$`)
	for _, db := range testDatabases(t) {
		t.Run(db.name, func(t *testing.T) {
			added := run(t, "", addChannelArgs(db.dsn, oldPublic, "--sign-type", "SM2")...)
			wantSuccess(t, added)
			oldPlatform := pattern.FindStringSubmatch(added.stdout)
			if oldPlatform == nil {
				t.Fatalf("add printed %q, want the platform's SM2 public key", added.stdout)
			}
			url := startGateway(t, db.dsn)
			call := func(private, platform string) error {
				return callInsured(t, url, cmdSecret, cmdBizKey, sdk.WithSignType(protocol.SignSM2),
					sdk.WithSM2PrivateKey(private), sdk.WithPlatformPublicKey(platform))
			}
			wantCode(t, call(oldPrivate, oldPlatform[1]), protocol.CodeOK)

			rotated := run(t, "", "channel", "rotate", "--db", db.dsn, "--appid", cmdAppID,
				"--sm2-public-key", newPublic, "--new-platform-key")
			wantSuccess(t, rotated)
			newPlatform := pattern.FindStringSubmatch(rotated.stdout)
			if newPlatform == nil {
				t.Fatalf("rotate printed %q, want the platform's new SM2 public key", rotated.stdout)
			}
			if newPlatform[1] == oldPlatform[1] {
				t.Fatal("rotate printed the old platform public key")
			}

			wantCode(t, call(oldPrivate, newPlatform[1]), protocol.CodeBadSignature)
			var verr *sdk.VerificationError
			if err := call(newPrivate, oldPlatform[1]); !errors.As(err, &verr) {
				t.Errorf("response checked with the old platform key: %v, want a verification error", err)
			}
			wantCode(t, call(newPrivate, newPlatform[1]), protocol.CodeOK)
		})
	}
}

// TestChannelRotateKeyErrors rejects key changes that do not fit the
// channel, and changes nothing.
func TestChannelRotateKeyErrors(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	_, userPublic := sm2KeyPair(t)
	_, rsaPublic := rsaKeyPair(t, 2048)
	dsn := filepath.Join(t.TempDir(), "chsgate.db")
	wantSuccess(t, run(t, "", addChannelArgs(dsn, userPublic)...))
	rotate := []string{"channel", "rotate", "--db", dsn, "--appid", cmdAppID}
	cases := []struct {
		name  string
		extra []string
		want  string
	}{
		{"platform key of an SM3 channel", []string{"--new-platform-key"}, "sign type SM3 uses no platform key pair"},
		{"RSA key of an SM3 channel", []string{"--rsa-public-key", rsaPublic}, "sign type SM3 does not use it"},
		{"bad SM2 key", []string{"--sm2-public-key", "04abcd"}, "--sm2-public-key:"},
		{"demo SM2 key", []string{"--sm2-public-key", server.DemoSM2PublicKey}, "--sm2-public-key is the demo channel's key"},
		{"nothing to rotate", nil, "nothing to rotate"},
		// An unset shell variable must not keep the old value unnoticed.
		{"empty salt", []string{"--appsecret", "a-new-appsecret-0123456789", "--salt", ""}, "--salt is empty"},
		{"empty SM2 key", []string{"--sm2-public-key", ""}, "--sm2-public-key is empty"},
		{"empty bizkey with generate", []string{"--generate", "--bizkey", ""}, "--bizkey is empty"},
		{"demo appsecret", []string{"--appsecret", server.DemoAppSecret}, "--appsecret is the published demo value"},
		{"demo bizkey", []string{"--bizkey", server.DemoBizKey}, "--bizkey is the published demo value"},
		{"pasted file as secret", []string{"--appsecret", strings.Repeat("a", 257)}, "--appsecret has 257 characters, more than 256"},
	}
	before := storedChannel(t, dsn, cmdAppID)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantFailure(t, run(t, "", append(rotate[:len(rotate):len(rotate)], c.extra...)...), exitUsage, c.want)
			after := storedChannel(t, dsn, cmdAppID)
			if !after.UpdatedAt.Equal(before.UpdatedAt) || !bytes.Equal(after.Secrets, before.Secrets) ||
				after.SM2PublicKey != before.SM2PublicKey || after.RSAPublicKey != before.RSAPublicKey {
				t.Error("the rejected rotation changed the stored channel")
			}
		})
	}
}

// storedChannel reads channel appid from the database as stored, secrets
// sealed.
func storedChannel(t *testing.T, dsn, appid string) *store.Channel {
	t.Helper()
	st, err := openStore(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	row, err := st.Channel(t.Context(), appid)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// generateRSAKeyPair returns a new RSA key pair of the given size: the
// private key as PEM (PKCS #8) and the public key as PEM (PKIX).
func generateRSAKeyPair(bits int) (privatePEM, publicPEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return "", "", err
	}
	private, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	public, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: private})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: public})), nil
}

func rsaKeyPair(t *testing.T, bits int) (privatePEM, publicPEM string) {
	t.Helper()
	privatePEM, publicPEM, err := generateRSAKeyPair(bits)
	if err != nil {
		t.Fatal(err)
	}
	return privatePEM, publicPEM
}

// writeFile writes text to a new file in a temporary directory and returns
// its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKeysRSA(t *testing.T) {
	r := run(t, "", "keys", "rsa")
	wantSuccess(t, r)
	privateBlock, rest := pem.Decode([]byte(r.stdout))
	if privateBlock == nil || privateBlock.Type != "PRIVATE KEY" {
		t.Fatalf("output %q, want a PRIVATE KEY block first", r.stdout)
	}
	publicBlock, rest := pem.Decode(rest)
	if publicBlock == nil || publicBlock.Type != "PUBLIC KEY" {
		t.Fatalf("output %q, want a PUBLIC KEY block after the private key", r.stdout)
	}
	if len(rest) != 0 {
		t.Errorf("output ends with %q after the two blocks, want nothing", rest)
	}

	private, err := protocol.ParseRSAPrivateKey(string(pem.EncodeToMemory(privateBlock)))
	if err != nil {
		t.Fatalf("private key: %v", err)
	}
	public, err := protocol.ParseRSAPublicKey(string(pem.EncodeToMemory(publicBlock)))
	if err != nil {
		t.Fatalf("public key: %v", err)
	}
	if !private.PublicKey.Equal(public) {
		t.Error("the public key is not the private key's")
	}
	if bits := public.N.BitLen(); bits != channel.MinRSAKeyBits {
		t.Errorf("key has %d bits, want %d", bits, channel.MinRSAKeyBits)
	}
}

// An RSA channel added by channel add serves the SDK and chsgate call with
// the keys that the third party and channel add hold, and keeps them when
// its secrets are rotated.
func TestChannelAddRSA(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	_, userPublic := sm2KeyPair(t)
	channelPrivate, channelPublic := rsaKeyPair(t, 2048)
	otherPrivate, _ := rsaKeyPair(t, 2048)
	channelPrivateFile := writeFile(t, "channel-rsa.key", channelPrivate)
	channelPublicFile := writeFile(t, "channel-rsa.pub", channelPublic)
	pattern := regexp.MustCompile(`(?s)^added channel hmbcli \(org_code ORG042, service_id SVC042, fjs, sign RSA, enc SM4, key mode\)\n` +
		`platform RSA public key for the channel to verify responses:\n(-----BEGIN PUBLIC KEY-----\n.+\n-----END PUBLIC KEY-----\n)$`)

	for _, db := range testDatabases(t) {
		t.Run(db.name, func(t *testing.T) {
			r := run(t, "", addChannelArgs(db.dsn, userPublic, "--sign-type", "RSA", "--rsa-public-key", "@"+channelPublicFile)...)
			wantSuccess(t, r)
			m := pattern.FindStringSubmatch(r.stdout)
			if m == nil {
				t.Fatalf("add printed %q, want the platform's RSA public key in PEM", r.stdout)
			}
			platformPublic := m[1]
			key, err := protocol.ParseRSAPublicKey(platformPublic)
			if err != nil {
				t.Fatalf("printed platform key: %v", err)
			}
			if bits := key.N.BitLen(); bits != 2048 {
				t.Errorf("platform key has %d bits, want 2048", bits)
			}

			list := run(t, "", "channel", "list", "--db", db.dsn)
			wantSuccess(t, list)
			lines := strings.Split(strings.TrimSuffix(list.stdout, "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("list printed %d lines, want a header and one channel:\n%s", len(lines), list.stdout)
			}
			if fields := strings.Fields(lines[1]); len(fields) < 5 || fields[4] != "RSA" {
				t.Errorf("row %q, want sign type RSA in the fifth column", lines[1])
			}
			if strings.Contains(list.stdout, "PRIVATE KEY") {
				t.Error("list shows a private key")
			}

			url := startGateway(t, db.dsn)
			rsaOptions := func(channelKey string) []sdk.Option {
				return []sdk.Option{
					sdk.WithSignType(protocol.SignRSA),
					sdk.WithRSAPrivateKey(channelKey),
					sdk.WithPlatformRSAPublicKey(platformPublic),
				}
			}
			t.Run("SDK", func(t *testing.T) {
				wantCode(t, callInsured(t, url, cmdSecret, cmdBizKey, rsaOptions(channelPrivate)...), protocol.CodeOK)
			})
			t.Run("SDK with another channel key", func(t *testing.T) {
				wantCode(t, callInsured(t, url, cmdSecret, cmdBizKey, rsaOptions(otherPrivate)...), protocol.CodeBadSignature)
			})
			t.Run("call with key files", func(t *testing.T) {
				platformPublicFile := writeFile(t, "platform-rsa.pub", platformPublic)
				// The SDK calls above do not send this person. chsgate call
				// stamps requests with the real clock and callInsured stamps
				// them a few milliseconds ahead, so the same content could
				// repeat a sign string, which the gateway rejects as a replay.
				input := `{"userlist":[{"name":"李四","idcard":"350102199001010016","cert_type":"01"}]}`
				r := run(t, input, "call", "--url", url, "--appid", cmdAppID, "--appsecret", cmdSecret,
					"--bizkey", cmdBizKey, "--salt", cmdSalt, "--funid", api.FunInsured, "--sign-type", "RSA",
					"--rsa-private-key", "@"+channelPrivateFile, "--platform-rsa-public-key", "@"+platformPublicFile)
				wantSuccess(t, r)
				if !strings.Contains(r.stdout, `"is_insu": "0"`) {
					t.Errorf("stdout = %q, want the insured entry of a person the platform does not know", r.stdout)
				}
			})
			t.Run("rotated secrets", func(t *testing.T) {
				r := run(t, "", "channel", "rotate", "--db", db.dsn, "--appid", cmdAppID,
					"--appsecret", "a-new-appsecret-of-32-characters", "--bizkey", "a-new-bizkey")
				wantSuccess(t, r)
				wantCode(t, callInsured(t, url, "a-new-appsecret-of-32-characters", "a-new-bizkey", rsaOptions(channelPrivate)...), protocol.CodeOK)
			})
		})
	}
}

// channel add rejects an RSA channel without a usable RSA public key before
// it stores anything.
func TestChannelAddRSARejected(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	_, userPublic := sm2KeyPair(t)
	_, shortPublic := rsaKeyPair(t, 1024)
	_, channelPublic := rsaKeyPair(t, 2048)
	block, _ := pem.Decode([]byte(channelPublic))
	truncated := base64.StdEncoding.EncodeToString(block.Bytes[:len(block.Bytes)/2])
	dsn := filepath.Join(t.TempDir(), "chsgate.db")

	cases := []struct {
		name  string
		extra []string
		want  string
	}{
		{"missing key", []string{"--sign-type", "RSA"}, "missing --rsa-public-key: sign type RSA verifies the channel's requests with the channel's RSA public key"},
		{"1024-bit key", []string{"--sign-type", "RSA", "--rsa-public-key", shortPublic}, "--rsa-public-key: key has 1024 bits: at least 2048 are required"},
		{"not a key", []string{"--sign-type", "RSA", "--rsa-public-key", "not a key"}, "--rsa-public-key: key is neither PEM nor base64 DER"},
		{"truncated DER", []string{"--sign-type", "RSA", "--rsa-public-key", truncated}, "--rsa-public-key: not an RSA public key"},
		{"SM2 key in place of RSA", []string{"--sign-type", "RSA", "--rsa-public-key", userPublic}, "--rsa-public-key: "},
		{"key file missing", []string{"--sign-type", "RSA", "--rsa-public-key", "@" + filepath.Join(t.TempDir(), "absent.pub")}, "read --rsa-public-key"},
		{"key without sign type RSA", []string{"--rsa-public-key", channelPublic}, "--rsa-public-key is used only with --sign-type RSA, not SM3: leave it out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantFailure(t, run(t, "", addChannelArgs(dsn, userPublic, c.extra...)...), exitUsage, c.want)
		})
	}

	// The flags are checked before the database is opened, so the rejected
	// adds did not even create it.
	if _, err := os.Stat(dsn); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rejected adds created the database %s", dsn)
	}
}

func TestChannelUsageErrors(t *testing.T) {
	_, userPublic := sm2KeyPair(t)
	dsn := filepath.Join(t.TempDir(), "chsgate.db")
	const noMasterKey = "no master key: set CHSGATE_MASTER_KEY to 64 hex digits or give --master-key-file (only a sandbox on a SQLite file creates its own)"
	cases := []struct {
		name      string
		masterKey string
		args      []string
		want      string
	}{
		{"add without db", cmdMasterKey, []string{"channel", "add", "--appid", cmdAppID, "--appsecret", cmdSecret, "--bizkey", cmdBizKey,
			"--salt", cmdSalt, "--org-code", cmdOrgCode, "--service-id", cmdServiceID}, "missing --db: give a SQLite file path or a postgres:// URL"},
		{"list without db", cmdMasterKey, []string{"channel", "list"}, "missing --db: give a SQLite file path or a postgres:// URL"},
		{"add without master key", "", addChannelArgs(dsn, userPublic), noMasterKey},
		{"list without master key", "", []string{"channel", "list", "--db", dsn}, noMasterKey},
		{"malformed master key", "0011", []string{"channel", "list", "--db", dsn}, "CHSGATE_MASTER_KEY: master key must be 64 hex digits (32 bytes)"},
		{"demo appsecret", cmdMasterKey, addChannelArgs(dsn, userPublic, "--appsecret", server.DemoAppSecret), "--appsecret is the published demo value"},
		// The message leaves out the value, which may hold a password.
		{"list db with password", cmdMasterKey, []string{"channel", "list", "--db", "mysql://app:SECRET@127.0.0.1/db"}, "--db is neither a postgres:// URL nor a file path"},
		{"rotate db with password", cmdMasterKey, []string{"channel", "rotate", "--db", "host=127.0.0.1 password=SECRET", "--appid", cmdAppID, "--generate"}, "--db is neither a postgres:// URL nor a file path"},
		{"demo SM2 key", cmdMasterKey, addChannelArgs(dsn, server.DemoSM2PublicKey), "--sm2-public-key is the demo channel's key"},
		{"bad sign type", cmdMasterKey, addChannelArgs(dsn, userPublic, "--sign-type", "SHA1"), `--sign-type: unknown sign type "SHA1": use MD5, SM3, SM2 or RSA`},
		{"lower-case sign type", cmdMasterKey, addChannelArgs(dsn, userPublic, "--sign-type", "sm3"), `--sign-type: unknown sign type "sm3": use MD5, SM3, SM2 or RSA`},
		{"empty functions", cmdMasterKey, addChannelArgs(dsn, userPublic, "--functions", ""), "--functions is empty"},
		{"appsecret of spaces", cmdMasterKey, addChannelArgs(dsn, userPublic, "--appsecret", strings.Repeat(" ", 20)), "--appsecret contains a space or control character at byte 0"},
		{"bizkey with line break", cmdMasterKey, addChannelArgs(dsn, userPublic, "--bizkey", "testkey\n"), "--bizkey contains a space or control character at byte 7"},
		{"unknown enc type", cmdMasterKey, addChannelArgs(dsn, userPublic, "--enc-type", "DES"), `--enc-type: "DES" is not a channel enc type: use SM4, AES or none`},
		{"RSA enc type", cmdMasterKey, addChannelArgs(dsn, userPublic, "--enc-type", "RSA"), `--enc-type: "RSA" is not a channel enc type: use SM4, AES or none`},
		{"blank functions", cmdMasterKey, addChannelArgs(dsn, userPublic, "--functions", " "), "--functions is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(masterKeyEnv, c.masterKey)
			r := run(t, "", c.args...)
			wantFailure(t, r, exitUsage, c.want)
			if strings.Contains(r.stderr, "SECRET") {
				t.Errorf("stderr shows the password: %q", r.stderr)
			}
		})
	}
}

// TestCallTokenRejected calls a token-mode channel of a real server with a
// wrong appsecret: the token endpoint returns 401 and call names the flags
// to check.
func TestCallTokenRejected(t *testing.T) {
	t.Setenv(masterKeyEnv, cmdMasterKey)
	_, userPublic := sm2KeyPair(t)
	dsn := filepath.Join(t.TempDir(), "chsgate.db")
	wantSuccess(t, run(t, "", addChannelArgs(dsn, userPublic, "--security-mode", "token")...))
	url := startGateway(t, dsn)
	r := run(t, `{"userlist":[{"name":"王二","idcard":"650101198001010032","cert_type":"01"}]}`,
		"call", "--url", url, "--appid", cmdAppID, "--appsecret", "a-wrong-appsecret-0123456789", "--bizkey", cmdBizKey,
		"--salt", cmdSalt, "--funid", api.FunInsured, "--token-mode")
	wantFailure(t, r, exitFailure, "Check --appid and --appsecret: the platform did not issue a token for them")
}

// TestChannelCommandsCheckMasterKey runs channel commands with a master key
// other than the one that sealed the stored channels. They fail before they
// change anything.
func TestChannelCommandsCheckMasterKey(t *testing.T) {
	_, userPublic := sm2KeyPair(t)
	dsn := filepath.Join(t.TempDir(), "chsgate.db")
	t.Setenv(masterKeyEnv, cmdMasterKey)
	wantSuccess(t, run(t, "", addChannelArgs(dsn, userPublic)...))

	t.Setenv(masterKeyEnv, strings.Repeat("ab", 32))
	for _, args := range [][]string{
		{"channel", "list", "--db", dsn},
		{"channel", "disable", "--db", dsn, "--appid", cmdAppID},
	} {
		r := run(t, "", args...)
		if r.code != exitFailure || !strings.Contains(r.stderr, "master key") {
			t.Errorf("%s with another master key: exit %d, stderr %q; want exit 1 naming the master key", args[1], r.code, r.stderr)
		}
	}

	t.Setenv(masterKeyEnv, cmdMasterKey)
	list := run(t, "", "channel", "list", "--db", dsn)
	wantSuccess(t, list)
	if !strings.Contains(list.stdout, "enabled") {
		t.Errorf("channel disabled under another master key:\n%s", list.stdout)
	}
}

// TestMasterKeyFileTooLarge gives a master key file over the key file
// limit, as a wrong path such as a disk image would be.
func TestMasterKeyFileTooLarge(t *testing.T) {
	t.Setenv(masterKeyEnv, "")
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, make([]byte, maxKeyFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := filepath.Join(t.TempDir(), "chsgate.db")
	r := run(t, "", "channel", "list", "--db", dsn, "--master-key-file", keyFile)
	wantFailure(t, r, exitFailure, "read --master-key-file: "+keyFile+" is larger than 64 KiB")
}

func TestImportPersonsBadCheckDigit(t *testing.T) {
	records := registry.Synthetic(5)[:5]
	for i := range records {
		// Without their family networks, any five records are a valid file.
		records[i].FamilyID, records[i].Relation = "", ""
	}
	idcard := records[2].IDCard
	last := idcard[len(idcard)-1]
	wrong := byte('0')
	if last == '0' {
		wrong = '1'
	}
	records[2].IDCard = idcard[:len(idcard)-1] + string(wrong)
	var jsonl bytes.Buffer
	if err := registry.WritePersons(&jsonl, records); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "persons.jsonl")
	if err := os.WriteFile(file, jsonl.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, db := range testDatabases(t) {
		t.Run(db.name, func(t *testing.T) {
			r := run(t, "", "import", "persons", "--db", db.dsn, file)
			if r.code != exitFailure {
				t.Errorf("exit %d, want %d", r.code, exitFailure)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("stderr has %d lines, want the line error and the summary: %q", len(lines), r.stderr)
			}
			if want := file + ": line 3: idcard "; !strings.HasPrefix(lines[0], want) {
				t.Errorf("first line %q, want it to start with %q", lines[0], want)
			}
			summary := regexp.MustCompile(`^chsgate: (.+): 1 ([a-z ]+); nothing was imported$`).FindStringSubmatch(lines[1])
			if summary == nil {
				t.Fatalf("summary %q, want \"chsgate: FILE: 1 ...; nothing was imported\"", lines[1])
			}
			if summary[1] != file {
				t.Errorf("summary names %q, want %q", summary[1], file)
			}
			if strings.HasSuffix(summary[2], "s") {
				t.Errorf("summary counts 1 %q, want the singular", summary[2])
			}

			st, err := openStore(t.Context(), db.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			n, err := st.PersonCount(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d persons stored, want 0", n)
			}
		})
	}
}

func TestServeUsageErrors(t *testing.T) {
	// A check that fails to stop serve would start a server. The master key
	// lets it get that far, and the timeout below stops it again.
	t.Setenv(masterKeyEnv, cmdMasterKey)
	dir := t.TempDir()
	dsn := filepath.Join(dir, "chsgate.db")
	cert := filepath.Join(dir, "cert.pem")
	key := filepath.Join(dir, "key.pem")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no db", []string{"--insecure-http", "--addr", "127.0.0.1:0"}, "missing --db: give a SQLite file path or a postgres:// URL"},
		// The message leaves out the value, which may hold a password.
		{"key=value db", []string{"--db", "host=127.0.0.1 password=SECRET", "--insecure-http", "--addr", "127.0.0.1:0"}, "--db is neither a postgres:// URL nor a file path"},
		{"cert without key", []string{"--db", dsn, "--tls-cert", cert, "--addr", "127.0.0.1:0"}, "--tls-cert and --tls-key go together: give both or neither"},
		{"key without cert", []string{"--db", dsn, "--tls-key", key, "--addr", "127.0.0.1:0"}, "--tls-cert and --tls-key go together: give both or neither"},
		{"no TLS", []string{"--db", dsn, "--addr", "127.0.0.1:0"}, "no TLS certificate: give --tls-cert and --tls-key, or --insecure-http to serve plain HTTP"},
		{"addr without port", []string{"--db", dsn, "--insecure-http", "--addr", "127.0.0.1"}, `--addr "127.0.0.1"`},
		{"port out of range", []string{"--db", dsn, "--insecure-http", "--addr", "127.0.0.1:70000"}, `--addr "127.0.0.1:70000"`},
		{"window of years", []string{"--db", dsn, "--insecure-http", "--addr", "127.0.0.1:0", "--timestamp-window", "87600h"}, "--timestamp-window must be at most 1h0m0s, got 87600h0m0s"},
		{"public URL not a URL", []string{"--db", dsn, "--insecure-http", "--addr", "127.0.0.1:0", "--public-url", "not a url"}, "want an absolute http:// or https:// URL"},
		{"public URL script", []string{"--db", dsn, "--insecure-http", "--addr", "127.0.0.1:0", "--public-url", "javascript:alert(1)//"}, "want an absolute http:// or https:// URL"},
		{"public URL no host", []string{"--db", dsn, "--insecure-http", "--addr", "127.0.0.1:0", "--public-url", "https:///h5"}, "the URL has no host"},
		{"public URL query", []string{"--db", dsn, "--insecure-http", "--addr", "127.0.0.1:0", "--public-url", "https://pay.example.cn/?x=1"}, "must not have a query or a fragment"},
		{"public URL fragment", []string{"--db", dsn, "--insecure-http", "--addr", "127.0.0.1:0", "--public-url", "https://pay.example.cn/#top"}, "must not have a query or a fragment"},
		{"public URL user", []string{"--db", dsn, "--insecure-http", "--addr", "127.0.0.1:0", "--public-url", "https://u:p@pay.example.cn"}, "must not carry a user name or password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := Run(ctx, append([]string{"serve"}, c.args...), strings.NewReader(""), &stdout, &stderr)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Fatal("serve started a server instead of rejecting the command line")
			}
			wantFailure(t, result{code: code, stdout: stdout.String(), stderr: stderr.String()}, exitUsage, c.want)
			if strings.Contains(stderr.String(), "SECRET") {
				t.Errorf("stderr shows the password: %q", stderr.String())
			}
		})
	}
}
