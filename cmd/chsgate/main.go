// Command chsgate is the gateway, sandbox and tool set of the Fujian
// healthcare-security platform's commercial-insurance interface.
// Run "chsgate help" for its commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"chsgate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
