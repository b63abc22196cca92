package server_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
)

// startRun starts server.Run as servertest.Run does, with the shared test
// master key unless cfg has one.
func startRun(t *testing.T, cfg server.Config) (*servertest.Server, error) {
	t.Helper()
	if cfg.MasterKey == nil {
		cfg.MasterKey = servertest.MasterKey(t)
	}
	return servertest.Run(t, cfg)
}

// ownChannel returns a channel with the shared test secrets, none of which
// is a published demo value, and an SM2 key of its own.
func ownChannel(t *testing.T, appid string) channel.Config {
	t.Helper()
	_, public := servertest.SM2KeyPair(t)
	return servertest.FJSChannel(appid, public)
}

// selfSignedCertificate writes a certificate for 127.0.0.1 and its key as
// PEM files and returns their paths and the parsed certificate.
func selfSignedCertificate(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "chsgate test"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestTLS(t *testing.T) {
	b := storetest.Backends(t)[0]
	certFile, keyFile, cert := selfSignedCertificate(t)
	r, err := startRun(t, server.Config{Store: b.Store, TLSCert: certFile, TLSKey: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	healthz := "://" + r.Addr.String() + "/healthz"
	clientTrusting := func(roots *x509.CertPool) *http.Client {
		return &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		}
	}

	t.Run("test root", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(cert)
		resp, err := clientTrusting(roots).Get("https" + healthz)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HTTP %d, want 200", resp.StatusCode)
		}
		if string(body) != "ok\n" {
			t.Errorf("body %q, want \"ok\\n\"", body)
		}
	})
	t.Run("no root", func(t *testing.T) {
		_, err := clientTrusting(x509.NewCertPool()).Get("https" + healthz)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("error %v, want an unknown authority error", err)
		}
	})
	t.Run("plain HTTP", func(t *testing.T) {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
		resp, err := client.Get("http" + healthz)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		// Go's TLS server responds to a plain HTTP request with 400 and
		// closes the connection. It must never serve the route.
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("HTTP %d, want 400 or no response", resp.StatusCode)
		}
	})
}

func TestProductionRejectsDemoSecrets(t *testing.T) {
	const wantError = "channel ldxt uses the published demo secrets: rotate them (chsgate channel rotate) or run with --sandbox"
	// Each case keeps one published value of the demo channel and replaces
	// the others, so every value is checked on its own.
	cases := []struct {
		name   string
		config func(t *testing.T) channel.Config
		reject bool
	}{
		{"demo channel", func(t *testing.T) channel.Config { return server.DemoChannel() }, true},
		{"demo appsecret", func(t *testing.T) channel.Config {
			c := ownChannel(t, server.DemoAppID)
			c.Secrets.AppSecret = server.DemoAppSecret
			return c
		}, true},
		{"demo bizkey", func(t *testing.T) channel.Config {
			c := ownChannel(t, server.DemoAppID)
			c.Secrets.BizKey = server.DemoBizKey
			return c
		}, true},
		{"demo SM2 key", func(t *testing.T) channel.Config {
			c := ownChannel(t, server.DemoAppID)
			c.SM2PublicKey = server.DemoSM2PublicKey
			return c
		}, true},
		{"own secrets", func(t *testing.T) channel.Config { return ownChannel(t, server.DemoAppID) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, b := range storetest.Backends(t) {
				t.Run(b.Name, func(t *testing.T) {
					if _, err := servertest.NewRegistry(t, b.Store).Add(t.Context(), c.config(t), time.Now()); err != nil {
						t.Fatal(err)
					}

					r, err := startRun(t, server.Config{Store: b.Store})
					switch {
					case !c.reject && err != nil:
						t.Fatalf("production start failed: %v", err)
					case c.reject && err == nil:
						t.Fatal("production mode started")
					case c.reject && err.Error() != wantError:
						t.Fatalf("error %q, want %q", err, wantError)
					}
					if r != nil {
						if err := r.Stop(); err != nil {
							t.Fatal(err)
						}
					}

					sandbox, err := startRun(t, server.Config{Store: b.Store, Sandbox: true})
					if err != nil {
						t.Fatalf("sandbox start failed: %v", err)
					}
					if status := getStatus(t, sandbox.URL+"/healthz"); status != http.StatusOK {
						t.Errorf("sandbox healthz HTTP %d, want 200", status)
					}
				})
			}
		})
	}
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSandboxSeedsEmptyDatabaseOnce(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			for _, start := range []string{"first", "second"} {
				r, err := startRun(t, server.Config{Store: b.Store, Sandbox: true})
				if err != nil {
					t.Fatalf("%s start: %v", start, err)
				}
				if err := r.Stop(); err != nil {
					t.Fatalf("%s stop: %v", start, err)
				}
				if persons := personCount(t, b.Store); persons != 205 {
					t.Errorf("%s start: %d persons, want 205", start, persons)
				}
				if appids := channelIDs(t, b.Store); !slices.Equal(appids, []string{server.DemoAppID}) {
					t.Errorf("%s start: channels %v, want [%s]", start, appids, server.DemoAppID)
				}
				seeded := strings.Count(r.Logs.String(), `"msg":"sandbox seeded"`)
				want := map[string]int{"first": 1, "second": 0}[start]
				if seeded != want {
					t.Errorf("%s start: %d \"sandbox seeded\" log lines, want %d", start, seeded, want)
				}
			}
			if err := b.Store.LedgerCheck(t.Context()); err != nil {
				t.Errorf("ledger after two starts: %v", err)
			}

			demo, err := servertest.NewRegistry(t, b.Store).Lookup(t.Context(), server.DemoAppID)
			if err != nil {
				t.Fatal(err)
			}
			want := server.DemoChannel()
			fields := []struct{ name, got, want string }{
				{"appsecret", demo.Secrets.AppSecret, want.Secrets.AppSecret},
				{"bizkey", demo.Secrets.BizKey, want.Secrets.BizKey},
				{"salt", demo.Secrets.Salt, want.Secrets.Salt},
				{"sign type", demo.SignType, string(want.SignType)},
				{"enc type", demo.EncType, string(want.EncType)},
				{"org_code", demo.OrgCode, want.OrgCode},
				{"service_id", demo.ServiceID, want.ServiceID},
				{"SM2 public key", demo.SM2PublicKey, want.SM2PublicKey},
				{"allowed hosts", strings.Join(demo.AllowedHosts, ","), "127.0.0.1,localhost"},
			}
			for _, f := range fields {
				if f.got != f.want {
					t.Errorf("demo channel %s %q, want %q", f.name, f.got, f.want)
				}
			}
		})
	}
}

// A database with any person or channel is not empty, so the sandbox adds
// neither the synthetic registry nor the demo channel to it.
func TestSandboxLeavesDataAlone(t *testing.T) {
	cases := []struct {
		name     string
		fill     func(t *testing.T, b storetest.Backend)
		persons  int
		channels []string
	}{
		{"channel only", func(t *testing.T, b storetest.Backend) {
			if _, err := servertest.NewRegistry(t, b.Store).Add(t.Context(), ownChannel(t, "hmbown"), time.Now()); err != nil {
				t.Fatal(err)
			}
		}, 0, []string{"hmbown"}},
		{"persons only", func(t *testing.T, b storetest.Backend) {
			servertest.ImportPersons(t, b.Store, singles(registry.Synthetic(3)[:5]), time.Now())
		}, 5, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, b := range storetest.Backends(t) {
				t.Run(b.Name, func(t *testing.T) {
					c.fill(t, b)
					r, err := startRun(t, server.Config{Store: b.Store, Sandbox: true})
					if err != nil {
						t.Fatal(err)
					}
					if err := r.Stop(); err != nil {
						t.Fatal(err)
					}
					if persons := personCount(t, b.Store); persons != c.persons {
						t.Errorf("%d persons, want %d", persons, c.persons)
					}
					if appids := channelIDs(t, b.Store); !slices.Equal(appids, c.channels) {
						t.Errorf("channels %v, want %v", appids, c.channels)
					}
				})
			}
		})
	}
}

// singles returns the records without their family networks, so any
// subset of them is a valid import.
func singles(records []store.PersonRecord) []store.PersonRecord {
	out := slices.Clone(records)
	for i := range out {
		out[i].FamilyID, out[i].Relation = "", ""
	}
	return out
}

func personCount(t *testing.T, s store.Store) int {
	t.Helper()
	n, err := s.PersonCount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func channelIDs(t *testing.T, s store.Store) []string {
	t.Helper()
	rows, err := s.Channels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var appids []string
	for _, row := range rows {
		appids = append(appids, row.AppID)
	}
	return appids
}

// TestGracefulShutdown cancels Run's context while a request is in the
// handler, waiting for the rest of its body. Shutdown must stop accepting
// connections and still let that request finish.
func TestGracefulShutdown(t *testing.T) {
	b := storetest.Backends(t)[0]
	config := ownChannel(t, "hmbown")
	if _, err := servertest.NewRegistry(t, b.Store).Add(t.Context(), config, time.Now()); err != nil {
		t.Fatal(err)
	}
	persons := registry.Synthetic(5)
	servertest.ImportPersons(t, b.Store, persons, time.Now())

	// The gateway reads the clock first thing in every request, so the
	// first reading after arming shows that the handler has started.
	var armed atomic.Bool
	handlerStarted := make(chan struct{}, 1)
	clock := func() time.Time {
		if armed.Load() {
			select {
			case handlerStarted <- struct{}{}:
			default:
			}
		}
		return time.Now()
	}
	r, err := startRun(t, server.Config{Store: b.Store, Now: clock})
	if err != nil {
		t.Fatal(err)
	}

	payload := fmt.Sprintf(`{"userlist":[{"name":%q,"idcard":%q,"cert_type":"01"}]}`, persons[0].Name, persons[0].IDCard)
	body, err := protocol.ProfileFJS.SealRequest(servertest.Keys(t, config.AppID, protocol.SignSM3), &protocol.Request{
		AppID:     config.AppID,
		AppSecret: config.Secrets.AppSecret,
		FunID:     api.FunInsured,
		Timestamp: protocol.ProfileFJS.FormatTimestamp(time.Now()),
		Payload:   []byte(payload),
	})
	if err != nil {
		t.Fatal(err)
	}

	conn, err := net.DialTimeout("tcp", r.Addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	half := len(body) / 2
	armed.Store(true)
	header := fmt.Sprintf("POST /gateway HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", r.Addr, len(body))
	if _, err := io.WriteString(conn, header); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-handlerStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("handler did not start within 10 s")
	}

	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop() }()
	waitListenerClosed(t, r.Addr.String())

	if _, err := conn.Write(body[half:]); err != nil {
		t.Fatalf("send the rest of the body: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to the request in flight: %v", err)
	}
	if env := servertest.ReadFJSResponse(t, resp); env.Code != protocol.CodeOK {
		t.Errorf("code %d (%s), want 0", env.Code, env.Message)
	}

	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of the request's end")
	}
}

// waitListenerClosed waits until connections to addr are refused, which
// shows that shutdown has closed the listener.
func waitListenerClosed(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections 10 s after the context was canceled", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
