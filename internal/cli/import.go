package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"chsgate/internal/registry"
)

var importCommand = &command{
	name:    "import",
	summary: "load registry data",
	subcommands: []*command{
		{name: "persons", summary: "import insured persons from a JSON Lines file", run: runImportPersons},
	},
}

func runImportPersons(ctx context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "--db PATH|URL FILE.jsonl",
		"Imports insured persons, their personal account balances and family networks from a\n"+
			"JSON Lines file, one person per line. The file is applied whole or not at all:\n"+
			"any invalid line is reported with its number and nothing is stored. Importing the\n"+
			"same file again changes nothing; a changed balance is posted to the ledger as an\n"+
			"adjustment. Flags come before FILE.\n\n"+
			"Each line is one JSON object of strings:\n"+
			"  name, idcard, cert_type, phone  identity; cert_type 01 needs an 18-digit ID number\n"+
			"  region        6-digit Fujian region code where insured, such as 350100\n"+
			"  insutype      310 employee or 390 resident basic medical insurance\n"+
			"  insu_stas     1 insured normally, 2 suspended, 4 terminated\n"+
			"  company_name  street-level office (residents)\n"+
			"  acct_balance  personal account balance in yuan, such as \"1200.50\" (employees only)\n"+
			"  family_id     family network id; empty when the person has none\n"+
			"  hser_rlts     relationship to the household head; \"0\" is the head\n"+
			"For example:\n"+
			`  {"name":"林建华","idcard":"35010219800315123X","cert_type":"01","phone":"13800138000",`+"\n"+
			`   "region":"350100","insutype":"310","insu_stas":"1","acct_balance":"1200.50",`+"\n"+
			`   "family_id":"F001","hser_rlts":"0"}`)
	var dsn string
	fs.StringVar(&dsn, "db", "", "database: a SQLite file `PATH` or a postgres:// URL")
	// The file comes after the flags; parse lets no argument through, so the
	// flags are parsed from what precedes it.
	if len(args) > 1 && !isFlag(args[len(args)-1]) && !isFlag(args[len(args)-2]) || len(args) == 1 && !isFlag(args[0]) {
		if err := fs.parse(s, args[:len(args)-1]); err != nil {
			return err
		}
		args = args[len(args)-1:]
	} else {
		if err := fs.parse(s, args); err != nil {
			return err
		}
		args = nil
	}
	if dsn == "" {
		return usagef("missing --db: give a SQLite file path or a postgres:// URL")
	}
	if len(args) != 1 {
		return usagef("missing FILE.jsonl: name the person file to import")
	}

	f, err := os.Open(args[0])
	if err != nil {
		return fmt.Errorf("open the person file: %w", err)
	}
	defer f.Close()
	records, err := registry.ParsePersons(f)
	var parseErr *registry.ParseError
	if errors.As(err, &parseErr) {
		for _, lineErr := range parseErr.Errors {
			fmt.Fprintf(s.stderr, "%s: %s\n", args[0], lineErr)
		}
		more := ""
		if parseErr.Truncated {
			more = " (stopped there; the file may have more)"
		}
		noun := "problems"
		if len(parseErr.Errors) == 1 {
			noun = "problem"
		}
		return fmt.Errorf("%s: %d %s%s; nothing was imported", args[0], len(parseErr.Errors), noun, more)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}

	st, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	result, err := st.ImportPersons(ctx, records, time.Now())
	if err != nil {
		return fmt.Errorf("%s: %w; nothing was imported", args[0], err)
	}
	fmt.Fprintf(s.stdout, "imported %s: %d new, %d updated, %d unchanged, %d balance adjustments\n",
		args[0], result.Inserted, result.Updated, result.Unchanged, result.Adjustments)
	return nil
}

func isFlag(arg string) bool { return len(arg) > 1 && arg[0] == '-' }
