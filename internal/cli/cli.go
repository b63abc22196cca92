// Package cli implements the chsgate command line. Run is its entry point,
// so tests drive every command in-process as the binary does.
package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses of Run.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed: a bad signature, a decryption failure, invalid input
	exitUsage   = 2 // the command line is wrong: an unknown command, a missing or invalid flag, no input
)

// maxInputBytes limits what a command reads from standard input. Platform
// messages are far smaller, so the limit only stops a wrong redirect, such as
// a disk image, from exhausting memory.
const maxInputBytes = 64 << 20

// programName starts every usage line and every error message.
const programName = "chsgate"

// command is a node of the command tree: a leaf that has run, or a group
// that has subcommands. A new command is a run function in a file of its
// own plus an entry in commands or in its group's table.
type command struct {
	name    string
	summary string // one line, shown in the parent's usage
	// run executes a leaf. path is the full command, such as
	// "chsgate envelope sign", and args are the arguments after it.
	run         func(ctx context.Context, s *streams, path string, args []string) error
	subcommands []*command
}

// commands is the top level of the command tree, in the order the usage
// lists them. "help" is handled by dispatch, because its entry would refer
// to this table and Go rejects that initialization cycle.
var commands = []*command{
	demoCommand,
	serveCommand,
	callCommand,
	channelCommand,
	keysCommand,
	importCommand,
	reconcileCommand,
	envelopeCommand,
	migrateCommand,
	versionCommand,
}

// streams are the standard streams of one Run.
type streams struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Run executes the command line args, given without the program name, and
// returns the exit status: 0 on success, 1 when the command failed, 2 when
// the command line is wrong. Every error is one line on stderr that starts
// with "chsgate: ".
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &streams{stdin: stdin, stdout: stdout, stderr: stderr}
	err := dispatch(ctx, s, programName, commands, args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "%s: %s\n", programName, oneLine(err.Error()))
	var usage *usageError
	if errors.As(err, &usage) {
		return exitUsage
	}
	return exitFailure
}

// dispatch finds the command named by args[0] in table and runs it, or
// descends into its group. path is the command line so far.
func dispatch(ctx context.Context, s *streams, path string, table []*command, args []string) error {
	if len(args) == 0 {
		return usagef("missing command after %q. Run '%s -h' for the list of commands", path, path)
	}
	name := args[0]
	if isHelpFlag(name) {
		printGroupUsage(s.stdout, path, table)
		return flag.ErrHelp
	}
	if path == programName && name == "help" {
		return runHelp(ctx, s, args[1:])
	}

	cmd := findCommand(table, name)
	if cmd == nil {
		return usagef("unknown command %q after %q. Run '%s -h' for the list of commands", name, path, path)
	}
	full := path + " " + name
	if cmd.subcommands != nil {
		return dispatch(ctx, s, full, cmd.subcommands, args[1:])
	}
	return cmd.run(ctx, s, full, args[1:])
}

// runHelp prints the usage of the command named by args, or of the program
// when args is empty.
func runHelp(ctx context.Context, s *streams, args []string) error {
	path, table := programName, commands
	for i, name := range args {
		cmd := findCommand(table, name)
		if cmd == nil {
			return usagef("unknown command %q after %q. Run '%s help' for the list of commands", name, path, programName)
		}
		path += " " + name
		if cmd.subcommands == nil {
			if i != len(args)-1 {
				return usagef("%q has no subcommands", path)
			}
			return cmd.run(ctx, s, path, []string{"-h"})
		}
		table = cmd.subcommands
	}
	printGroupUsage(s.stdout, path, table)
	return nil
}

func findCommand(table []*command, name string) *command {
	for _, cmd := range table {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "--h"
}

func printGroupUsage(w io.Writer, path string, table []*command) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\nCommands:\n", path)
	width := len("help")
	for _, cmd := range table {
		width = max(width, len(cmd.name))
	}
	for _, cmd := range table {
		fmt.Fprintf(w, "  %-*s  %s\n", width, cmd.name, cmd.summary)
	}
	if path == programName {
		fmt.Fprintf(w, "  %-*s  %s\n", width, "help", "print the usage of a command")
	}
	fmt.Fprintf(w, "\nRun '%s <command> -h' for the flags of a command.\n", path)
}

// usageError is a mistake in the command line, reported with exit status 2.
type usageError struct{ message string }

func (e *usageError) Error() string { return e.message }

func usagef(format string, args ...any) error {
	return &usageError{message: fmt.Sprintf(format, args...)}
}

// hintedError adds the next step for the user to an error. Unwrap keeps the
// cause visible to errors.As, so a wrapped usage error still exits with 2.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() + ". " + e.hint }

func (e *hintedError) Unwrap() error { return e.err }

func withHint(err error, hint string) error {
	return &hintedError{err: err, hint: hint}
}

// oneLine keeps an error on one line of stderr, whatever its cause wrote.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// flagSet is a flag.FlagSet that reports its errors to Run instead of
// printing them, and prints its usage with "--" flags.
type flagSet struct {
	*flag.FlagSet
	synopsis    string // arguments after the command path on the usage line
	description string
}

func newFlagSet(path, synopsis, description string) *flagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis, description: description}
}

// parse parses args. On -h it prints the usage to stdout and returns
// flag.ErrHelp, which Run turns into exit status 0. A flag given twice is
// an error unless its value is repeatable, because the flag package keeps
// the last value and a doubled secret or database would pass unnoticed.
func (fs *flagSet) parse(s *streams, args []string) error {
	var repeated string
	originals := map[*flag.Flag]flag.Value{}
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := f.Value.(repeatable); !ok {
			originals[f] = f.Value
			f.Value = &onceValue{Value: f.Value, name: f.Name, repeated: &repeated}
		}
	})
	err := fs.Parse(args)
	// The usage names a flag's type by its Value's type, so the originals
	// go back before anything prints it.
	for f, v := range originals {
		f.Value = v
	}
	if errors.Is(err, flag.ErrHelp) {
		fs.printUsage(s.stdout)
		return err
	}
	command := strings.TrimPrefix(fs.Name(), programName+" ")
	if repeated != "" {
		return usagef("%s: --%s is given more than once: give each flag once", command, repeated)
	}
	if err != nil {
		hint := ""
		if strings.Contains(err.Error(), "parse error") {
			hint = " (a duration needs a unit, such as 600s or 10m; a number is plain digits)"
		}
		return usagef("%s: %v%s. Run '%s -h' for its flags", command, err, hint, fs.Name())
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q. Run '%s -h' for its flags", command, fs.Arg(0), fs.Name())
	}
	return nil
}

// repeatable marks flag values that collect every occurrence, such as
// --allow-host.
type repeatable interface{ repeatable() }

// onceValue wraps a flag's value during parsing and records the flag's
// name in repeated when it is set a second time.
type onceValue struct {
	flag.Value
	name     string
	set      bool
	repeated *string
}

func (v *onceValue) Set(s string) error {
	if v.set {
		*v.repeated = v.name
		return errors.New("given more than once")
	}
	v.set = true
	return v.Value.Set(s)
}

// IsBoolFlag keeps boolean flags usable without a value, as the flag
// package checks for this method on the value it holds.
func (v *onceValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", fs.Name(), fs.synopsis, fs.description)
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nFlags:\n")
			first = false
		}
		placeholder, usage := flag.UnquoteUsage(f)
		if placeholder != "" {
			placeholder = " " + placeholder
		}
		fmt.Fprintf(w, "  --%s%s\n        %s", f.Name, placeholder, usage)
		if f.DefValue != "" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// readInput reads all of standard input, up to maxInputBytes.
func readInput(s *streams) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(s.stdin, maxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read standard input: %w", err)
	}
	if len(data) > maxInputBytes {
		return nil, fmt.Errorf("standard input is larger than %d MiB: pass one message", maxInputBytes>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, usagef("standard input is empty: redirect the JSON message from a file, for example < message.json")
	}
	return data, nil
}

// writeLine writes line and a newline to w.
func writeLine(w io.Writer, line []byte) error {
	if _, err := w.Write(append(line[:len(line):len(line)], '\n')); err != nil {
		return fmt.Errorf("write standard output: %w", err)
	}
	return nil
}

// flagGiven reports whether the command line set the flag called name,
// even to an empty value.
func flagGiven(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}
