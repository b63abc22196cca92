package cli

import (
	"context"

	"chsgate/internal/demo"
)

var demoCommand = &command{name: "demo", summary: "run the whole job once, end to end, in a sandbox", run: runDemo}

func runDemo(ctx context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "",
		"Starts a sandbox server in this process on a free loopback port with a temporary\n"+
			"database, then, as a third party through the SDK over HTTP, runs: insured check,\n"+
			"authorization of a family, user query, mutual-aid payment with its callback,\n"+
			"settlement result, single query, partial refund, and detail and total\n"+
			"reconciliation. It prints each step and exits 0 only when every step gave the\n"+
			"expected result. It needs nothing but this program and removes what it made.")
	if err := fs.parse(s, args); err != nil {
		return err
	}
	return demo.Run(ctx, s.stdout)
}
