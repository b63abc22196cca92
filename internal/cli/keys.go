package cli

import (
	"context"
	"fmt"

	"chsgate/internal/channel"
	"chsgate/protocol"
)

var keysCommand = &command{
	name:    "keys",
	summary: "generate keys",
	subcommands: []*command{
		{name: "sm2", summary: "print a new SM2 key pair, private and public, in hex", run: runKeysSM2},
		{name: "rsa", summary: "print a new 2048-bit RSA key pair, private and public, in PEM", run: runKeysRSA},
	},
}

func runKeysSM2(_ context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "",
		"Prints a new SM2 key pair: the private key (hex of the 32-byte scalar) on the first\n"+
			"line and the public key (hex of the uncompressed point 04‖X‖Y) on the second.\n"+
			"Give the public key to the platform (channel add --sm2-public-key) and keep the\n"+
			"private key to decrypt user_id.")
	if err := fs.parse(s, args); err != nil {
		return err
	}
	private, err := channel.GenerateSM2KeyHex()
	if err != nil {
		return err
	}
	key, err := protocol.ParseSM2PrivateKey(private)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.stdout, "%s\n%s\n", private, channel.SM2PublicKeyHex(&key.PublicKey))
	return err
}

func runKeysRSA(_ context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "",
		"Prints a new 2048-bit RSA key pair in PEM: the private key (PKCS #8, PRIVATE KEY\n"+
			"block) first and the public key (PKIX, PUBLIC KEY block) after it. Give the\n"+
			"public key to the platform (channel add --rsa-public-key) and keep the private\n"+
			"key to sign requests (call --rsa-private-key).")
	if err := fs.parse(s, args); err != nil {
		return err
	}
	private, err := channel.GenerateRSAKeyPEM()
	if err != nil {
		return err
	}
	key, err := protocol.ParseRSAPrivateKey(private)
	if err != nil {
		return err
	}
	public, err := channel.RSAPublicKeyPEM(&key.PublicKey)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(s.stdout, private+public)
	return err
}
