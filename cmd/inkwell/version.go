package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// buildVersion returns the version of this build: the module version the
// go command stamped ("(devel)" for a build from a checkout), the VCS
// revision it was built from (with "+dirty" for uncommitted changes), and
// the Go version.
func buildVersion() (version, revision, goVersion string) {
	version, revision, goVersion = "(unknown)", "unknown", runtime.Version()
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	version = info.Main.Version
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				defer func() { revision += "+dirty" }()
			}
		}
	}
	return
}

// versionLine is what inkwell version prints.
func versionLine() string {
	version, revision, goVersion := buildVersion()
	return fmt.Sprintf("inkwell %s (revision %s, %s)", version, revision, goVersion)
}
