package cli

import (
	"context"
	"runtime"
	"runtime/debug"
)

var versionCommand = &command{name: "version", summary: "print the version of chsgate", run: runVersion}

// version is the release version, set at build time with
// -ldflags "-X chsgate/internal/cli.version=v1.2.3". Without it, the module
// version from the build information is printed.
var version string

func runVersion(_ context.Context, s *streams, path string, args []string) error {
	fs := newFlagSet(path, "",
		"Prints the version of chsgate, the VCS revision it was built from when known,\n"+
			"and the Go version and platform it was built with.")
	if err := fs.parse(s, args); err != nil {
		return err
	}
	return writeLine(s.stdout, []byte(versionLine()))
}

func versionLine() string {
	v := version
	var revision string
	var modified bool
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, setting := range info.Settings {
			switch setting.Key {
			case "vcs.revision":
				revision = setting.Value
			case "vcs.modified":
				modified = setting.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}

	line := "chsgate " + v
	if revision != "" {
		line += " revision " + revision[:min(len(revision), 12)]
		if modified {
			line += " (modified)"
		}
	}
	return line + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}
