package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/server"
	"chsgate/internal/store"
	"chsgate/protocol"
)

var channelCommand = &command{
	name:    "channel",
	summary: "manage the third-party channels allowed to call the gateway",
	subcommands: []*command{
		{name: "add", summary: "add a channel", run: runChannelAdd},
		{name: "list", summary: "list the channels", run: runChannelList},
		{name: "disable", summary: "disable a channel, or enable it again", run: runChannelDisable},
		{name: "rotate", summary: "replace a channel's secrets and keys", run: runChannelRotate},
	},
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
func (l *listFlag) repeatable()        {}

// registryFlags are the flags every channel command shares.
type registryFlags struct {
	dsn, masterKeyFile string
}

func (f *registryFlags) add(fs *flagSet) {
	fs.StringVar(&f.dsn, "db", "", "database: a SQLite file `PATH` or a postgres:// URL")
	fs.StringVar(&f.masterKeyFile, "master-key-file", "", "`FILE` holding the master key (64 hex digits); CHSGATE_MASTER_KEY takes precedence")
}

// open opens the registry of --db. Only channel add passes create, which
// lets a SQLite file that does not exist yet be made: for the other
// commands a missing file is a mistyped path, which would otherwise become
// a new, empty database.
func (f *registryFlags) open(ctx context.Context, s *streams, create bool) (*channel.Registry, func(), error) {
	// checkDSN comes first: it rejects, without echoing it, a value that
	// may hold a password.
	if err := checkDSN(f.dsn); err != nil {
		return nil, nil, err
	}
	logger, _ := newLogger(s, "text")
	key, err := resolveMasterKey(f.dsn, f.masterKeyFile, false, logger)
	if err != nil {
		return nil, nil, err
	}
	if !create && !isPostgresURL(f.dsn) {
		if _, err := os.Stat(f.dsn); errors.Is(err, os.ErrNotExist) {
			return nil, nil, usagef("--db %s does not exist: check the path (channel add creates a new database)", f.dsn)
		}
	}
	st, err := openStore(ctx, f.dsn)
	if err != nil {
		return nil, nil, err
	}
	registry, err := channel.NewRegistry(st, key)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	// Every channel command checks the key, so that one given by mistake
	// fails before it changes anything, as it would at serve.
	if err := registry.CheckMasterKey(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	return registry, func() { st.Close() }, nil
}

func runChannelAdd(ctx context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "--db PATH|URL --appid ID --appsecret S --bizkey K --salt T --org-code ORG --service-id SVC [flags]",
		"Adds a channel. Its secrets are stored sealed under the master key. For sign type\n"+
			"SM2 or RSA a platform key pair is generated, and its public key printed for the\n"+
			"channel.")
	var (
		rf                                                  registryFlags
		cfg                                                 channel.Config
		profile, signType, encType, derivation, mode, funcs string
		rsaPublicKey                                        string
		hosts                                               listFlag
	)
	rf.add(fs)
	fs.StringVar(&cfg.AppID, "appid", "", "channel id `ID` (chs_fjs_appid), at most 20 characters")
	fs.StringVar(&cfg.Secrets.AppSecret, "appsecret", "", "channel secret `S` (chs_fjs_appsecret)")
	fs.StringVar(&cfg.Secrets.BizKey, "bizkey", "", "sign key `K` of the fjs profile")
	fs.StringVar(&cfg.Secrets.Salt, "salt", "", "encryption salt `T` of the key derivation")
	fs.StringVar(&cfg.OrgCode, "org-code", "", "the third party's platform code `ORG` (org_code)")
	fs.StringVar(&cfg.ServiceID, "service-id", "", "service id `SVC` (service_id)")
	fs.StringVar(&profile, "profile", "fjs", "envelope layout: fjs or hsa")
	fs.StringVar(&signType, "sign-type", "SM3", "sign type: SM3, MD5, SM2 or RSA")
	fs.StringVar(&encType, "enc-type", "SM4", "enc type: SM4, AES or none")
	fs.StringVar(&derivation, "key-derivation", "salt", "data key derivation: salt, salt-hex, appid or raw:KEY")
	fs.StringVar(&cfg.SM2PublicKey, "sm2-public-key", "", "the channel's SM2 public key, `HEX_OR_PEM`: user_id is encrypted to it, and SM2 signatures verify under it; @FILE reads it from FILE")
	fs.StringVar(&rsaPublicKey, "rsa-public-key", "",
		"the channel's RSA public key for sign type RSA, `PEM_OR_BASE64` (PKIX or PKCS #1, at least 2048 bits): RSA signatures of the channel verify under it; @FILE reads it from FILE")
	fs.Var(&hosts, "allow-host", "`HOST[:PORT]` allowed in notify_url, redirect_url and fail_url; repeat for more")
	fs.StringVar(&funcs, "functions", "", "comma-separated function `IDS` the channel may call (default all nine)")
	fs.StringVar(&mode, "security-mode", "key", "authentication: key, token or anonymous")
	if err := fs.parse(s, args); err != nil {
		return err
	}

	if err := checkSecretFlags(cfg.Secrets); err != nil {
		return err
	}
	var err error
	if cfg.Profile, err = protocol.ParseProfile(profile); err != nil {
		return usagef("--profile: %v", err)
	}
	if cfg.SignType, err = protocol.ParseSignType(signType); err != nil {
		return usagef("--sign-type: %v", err)
	}
	cfg.EncType, err = protocol.ParseEncType(encType)
	// The protocol core also supports RSA and PKCS7 encryption, but channels
	// cannot store their certificates yet.
	if err != nil || cfg.EncType == protocol.EncRSA || cfg.EncType == protocol.EncPKCS7 {
		return usagef("--enc-type: %q is not a channel enc type: use SM4, AES or none", encType)
	}
	kd, raw, err := protocol.ParseKeyDerivation(derivation)
	if err != nil {
		return usagef("--key-derivation: %v", err)
	}
	cfg.KeyDerivation = kd
	if raw != nil {
		cfg.Secrets.RawKey = hex.EncodeToString(raw)
	}
	if cfg.SM2PublicKey, err = parseSM2PublicKeyFlag(cfg.SM2PublicKey); err != nil {
		return err
	}
	if cfg.RSAPublicKey, err = parseRSAPublicKeyFlag(cfg.SignType, rsaPublicKey); err != nil {
		return err
	}
	cfg.SecurityMode = store.SecurityMode(mode)
	cfg.AllowedHosts = hosts
	cfg.Functions = api.Functions
	if flagGiven(fs.FlagSet, "functions") {
		// An empty list given on purpose, such as an unset shell variable,
		// must not turn into the default of every function.
		if strings.TrimSpace(funcs) == "" {
			return usagef("--functions is empty: list the function ids the channel may call, or leave the flag out for all nine")
		}
		cfg.Functions = strings.Split(funcs, ",")
	}

	registry, done, err := rf.open(ctx, s, true)
	if err != nil {
		return err
	}
	defer done()
	ch, err := registry.Add(ctx, cfg, time.Now())
	var invalid *channel.InvalidError
	switch {
	case errors.As(err, &invalid):
		return usagef("%v", err)
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("channel %s already exists: use another --appid, or chsgate channel rotate to change its secrets", cfg.AppID)
	case err != nil:
		return err
	}
	fmt.Fprintf(s.stdout, "added channel %s (org_code %s, service_id %s, %s, sign %s, enc %s, %s mode)\n",
		ch.AppID, ch.OrgCode, ch.ServiceID, ch.Profile, ch.SignType, orNone(ch.EncType), ch.SecurityMode)
	if others, err := registry.SharingOrg(ctx, ch.OrgCode, ch.AppID); err == nil && len(others) > 0 {
		fmt.Fprintf(s.stderr, "%s: warning: org_code %s is also the org of channel %s; channels of one org_code see each other's orders, authorizations and reconciliation records. If %s belongs to another third party, disable it and add that party as a new channel with its own --appid and --org-code\n",
			programName, ch.OrgCode, strings.Join(others, ", "), ch.AppID)
	}
	return printPlatformKeys(s, ch)
}

// rotated names what change replaces, in the order of the flags.
func rotated(change channel.Rotation) []string {
	var names []string
	for _, item := range []struct {
		name string
		set  bool
	}{
		{"appsecret", change.Secrets.AppSecret != ""},
		{"bizkey", change.Secrets.BizKey != ""},
		{"salt", change.Secrets.Salt != ""},
		{"SM2 public key", change.SM2PublicKey != ""},
		{"RSA public key", change.RSAPublicKey != ""},
		{"platform key pair", change.PlatformKey},
	} {
		if item.set {
			names = append(names, item.name)
		}
	}
	return names
}

// printPlatformKeys prints the public half of the channel's platform key
// pair, the only way the channel learns it.
func printPlatformKeys(s *streams, ch *channel.Channel) error {
	if ch.Secrets.PlatformSM2PrivateKey != "" {
		key, err := protocol.ParseSM2PrivateKey(ch.Secrets.PlatformSM2PrivateKey)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.stdout, "platform SM2 public key for the channel to verify responses: %s\n", channel.SM2PublicKeyHex(&key.PublicKey))
	}
	if ch.Secrets.PlatformRSAPrivateKey != "" {
		key, err := protocol.ParseRSAPrivateKey(ch.Secrets.PlatformRSAPrivateKey)
		if err != nil {
			return err
		}
		public, err := channel.RSAPublicKeyPEM(&key.PublicKey)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.stdout, "platform RSA public key for the channel to verify responses:\n%s", public)
	}
	return nil
}

// parseSM2PublicKeyFlag reads --sm2-public-key and returns the key as hex
// of 04‖X‖Y, or "" when the flag is empty.
func parseSM2PublicKeyFlag(value string) (string, error) {
	if value == "" {
		return "", nil
	}
	text, err := readKeyText("--sm2-public-key", value)
	if err != nil {
		return "", err
	}
	key, err := protocol.ParseSM2PublicKey(text)
	if err != nil {
		return "", usagef("--sm2-public-key: %v", err)
	}
	hexKey := channel.SM2PublicKeyHex(key)
	return hexKey, checkSM2PublicKeyFlag(hexKey)
}

// parseRSAPublicKeyFlag checks --rsa-public-key against the sign type and
// returns the key as PEM (PKIX), or "" for a channel that does not sign
// with RSA.
func parseRSAPublicKeyFlag(signType protocol.SignType, value string) (string, error) {
	switch {
	case signType == protocol.SignRSA && value == "":
		return "", usagef("missing --rsa-public-key: sign type RSA verifies the channel's requests with the channel's RSA public key (PEM or base64 DER, at least %d bits)", channel.MinRSAKeyBits)
	case signType != protocol.SignRSA && value != "":
		return "", usagef("--rsa-public-key is used only with --sign-type RSA, not %s: leave it out", signType)
	case value == "":
		return "", nil
	}
	return parseRSAPublicKeyText(value)
}

// parseRSAPublicKeyText reads a non-empty --rsa-public-key and returns the
// key as PEM (PKIX).
func parseRSAPublicKeyText(value string) (string, error) {
	text, err := readKeyText("--rsa-public-key", value)
	if err != nil {
		return "", err
	}
	key, err := channel.ParseRSAPublicKey(text)
	if err != nil {
		return "", usagef("--rsa-public-key: %v", err)
	}
	return channel.RSAPublicKeyPEM(key)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func runChannelList(ctx context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "--db PATH|URL", "Lists the channels with their settings. Secrets are never printed.")
	var rf registryFlags
	rf.add(fs)
	if err := fs.parse(s, args); err != nil {
		return err
	}
	registry, done, err := rf.open(ctx, s, false)
	if err != nil {
		return err
	}
	defer done()
	rows, err := registry.List(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "APPID\tORG_CODE\tSERVICE_ID\tPROFILE\tSIGN\tENC\tMODE\tSTATE\tALLOWED HOSTS\tFUNCTIONS")
	for _, c := range rows {
		state := "enabled"
		if c.Disabled {
			state = "disabled"
		}
		functions := "all"
		if len(c.Functions) > 0 && len(c.Functions) < len(api.Functions) {
			functions = strings.Join(c.Functions, ",")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.AppID, c.OrgCode, c.ServiceID, c.Profile,
			c.SignType, orNone(c.EncType), c.SecurityMode, state, strings.Join(c.AllowedHosts, ","), functions)
	}
	return w.Flush()
}

func runChannelDisable(ctx context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "--db PATH|URL --appid ID [--enable]",
		"Disables a channel: its requests get 10003 from then on. --enable reverses it.")
	var rf registryFlags
	var appid string
	var enable bool
	rf.add(fs)
	fs.StringVar(&appid, "appid", "", "channel `ID`")
	fs.BoolVar(&enable, "enable", false, "enable the channel again instead")
	if err := fs.parse(s, args); err != nil {
		return err
	}
	if appid == "" {
		return usagef("missing --appid")
	}
	registry, done, err := rf.open(ctx, s, false)
	if err != nil {
		return err
	}
	defer done()
	if err := registry.SetDisabled(ctx, appid, !enable, time.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("channel %s not found: chsgate channel list shows the channels", appid)
		}
		return err
	}
	state := "disabled"
	if enable {
		state = "enabled"
	}
	fmt.Fprintf(s.stdout, "channel %s %s\n", appid, state)
	return nil
}

func runChannelRotate(ctx context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "--db PATH|URL --appid ID [--generate | --appsecret S --bizkey K] [--salt T] [--sm2-public-key HEX_OR_PEM] [--rsa-public-key PEM_OR_BASE64] [--new-platform-key]",
		"Replaces a channel's secrets and keys. What is not given keeps its value. --generate\n"+
			"makes a new random appsecret and bizkey and prints them once. --new-platform-key\n"+
			"makes a new platform key pair for an SM2 or RSA channel and prints its public key,\n"+
			"which the channel must use from then on to verify responses and callbacks.")
	var rf registryFlags
	var appid, sm2PublicKey, rsaPublicKey string
	var change channel.Rotation
	var generate bool
	rf.add(fs)
	fs.StringVar(&appid, "appid", "", "channel `ID`")
	fs.StringVar(&change.Secrets.AppSecret, "appsecret", "", "new channel secret `S`")
	fs.StringVar(&change.Secrets.BizKey, "bizkey", "", "new sign key `K`")
	fs.StringVar(&change.Secrets.Salt, "salt", "", "new encryption salt `T`")
	fs.BoolVar(&generate, "generate", false, "generate a new random appsecret and bizkey")
	fs.StringVar(&sm2PublicKey, "sm2-public-key", "", "the channel's new SM2 public key, `HEX_OR_PEM`; @FILE reads it from FILE")
	fs.StringVar(&rsaPublicKey, "rsa-public-key", "", "the channel's new RSA public key for sign type RSA, `PEM_OR_BASE64` DER; @FILE reads it from FILE")
	fs.BoolVar(&change.PlatformKey, "new-platform-key", false, "make a new platform key pair for an SM2 or RSA channel")
	if err := fs.parse(s, args); err != nil {
		return err
	}
	if appid == "" {
		return usagef("missing --appid")
	}
	// An empty value given on purpose, such as an unset shell variable,
	// would otherwise keep the old value without a word.
	for _, name := range []string{"appsecret", "bizkey", "salt", "sm2-public-key", "rsa-public-key"} {
		if flagGiven(fs.FlagSet, name) && fs.Lookup(name).Value.String() == "" {
			return usagef("--%s is empty: give the new value, or leave the flag out to keep the current one", name)
		}
	}
	if generate {
		if change.Secrets.AppSecret != "" || change.Secrets.BizKey != "" {
			return usagef("--generate replaces --appsecret and --bizkey: give one or the other")
		}
		change.Secrets.AppSecret, change.Secrets.BizKey = randomSecret(), randomSecret()
	}
	if change.Secrets == (channel.Secrets{}) && sm2PublicKey == "" && rsaPublicKey == "" && !change.PlatformKey {
		return usagef("nothing to rotate: give --generate, new --appsecret, --bizkey or --salt, --sm2-public-key, --rsa-public-key or --new-platform-key")
	}
	if err := checkSecretFlags(change.Secrets); err != nil {
		return err
	}
	var err error
	if change.SM2PublicKey, err = parseSM2PublicKeyFlag(sm2PublicKey); err != nil {
		return err
	}
	if rsaPublicKey != "" {
		if change.RSAPublicKey, err = parseRSAPublicKeyText(rsaPublicKey); err != nil {
			return err
		}
	}
	registry, done, err := rf.open(ctx, s, false)
	if err != nil {
		return err
	}
	defer done()
	ch, err := registry.Rotate(ctx, appid, change, time.Now())
	if err != nil {
		var invalid *channel.InvalidError
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("channel %s not found: chsgate channel list shows the channels", appid)
		case errors.As(err, &invalid):
			return usagef("%v", err)
		}
		return err
	}
	fmt.Fprintf(s.stdout, "rotated channel %s: %s\n", appid, strings.Join(rotated(change), ", "))
	if generate {
		fmt.Fprintf(s.stdout, "appsecret %s\nbizkey    %s\n", change.Secrets.AppSecret, change.Secrets.BizKey)
	}
	if change.PlatformKey {
		return printPlatformKeys(s, ch)
	}
	return nil
}

// randomSecret returns 32 hex digits from the system's random source, the
// form of the platform's published appsecrets.
func randomSecret() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// checkSecretFlags rejects secrets with spaces or control characters. Both
// sides type or paste these values, and a stray space or line break in
// one would make every signature fail without saying why.
func checkSecretFlags(secrets channel.Secrets) error {
	for _, f := range []struct{ flag, value, demo string }{
		{"--appsecret", secrets.AppSecret, server.DemoAppSecret},
		{"--bizkey", secrets.BizKey, server.DemoBizKey},
		{"--salt", secrets.Salt, ""},
	} {
		if i := strings.IndexFunc(f.value, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
			return usagef("%s contains a space or control character at byte %d: secrets are printable characters without spaces", f.flag, i)
		}
		if n := utf8.RuneCountInString(f.value); n > maxSecretLength {
			return usagef("%s has %d characters, more than %d", f.flag, n, maxSecretLength)
		}
		// serve outside the sandbox refuses to start with these, so they
		// are refused here, before a running server accepts them.
		if f.demo != "" && f.value == f.demo {
			return usagef("%s is the published demo value: choose a secret of your own, or use --generate with channel rotate", f.flag)
		}
	}
	return nil
}

// maxSecretLength bounds an appsecret, bizkey or salt. The interface's
// secrets are 32 characters; the bound only stops a pasted file.
const maxSecretLength = 256

// checkSM2PublicKeyFlag refuses the demo channel's SM2 public key, whose
// private key is published.
func checkSM2PublicKeyFlag(hexKey string) error {
	if strings.EqualFold(hexKey, server.DemoSM2PublicKey) {
		return usagef("--sm2-public-key is the demo channel's key, whose private key is published: use the third party's own key (chsgate keys sm2 makes one)")
	}
	return nil
}
