package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// stampedVersion and stampedRevision are set at link time by image and
// release builds, which build without the repository's history (the
// Dockerfile passes its build args VERSION and REVISION; docs/production-stack.md
// has the command):
//
//	go build -ldflags "-X main.stampedVersion=v1.4.0 -X main.stampedRevision=$(git rev-parse HEAD)" ./cmd/inkwell
//
// Empty, the go command's build info says which build runs. They are the
// only package variables here, as -X can set nothing else.
var stampedVersion, stampedRevision string

// buildVersion returns the version of this build: the stamped version, else
// the module version the go command stamped ("(devel)" for a build from a
// checkout); the stamped revision, else the VCS revision the go command
// recorded (with "+dirty" for uncommitted changes); and the Go version.
func buildVersion() (version, revision, goVersion string) {
	version, revision, goVersion = "(unknown)", "unknown", runtime.Version()
	defer func() {
		if stampedVersion != "" {
			version = stampedVersion
		}
		if stampedRevision != "" {
			revision = stampedRevision
		}
	}()
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	version = info.Main.Version
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty {
		revision += "+dirty"
	}
	return
}

// versionLine is what inkwell version prints.
func versionLine() string {
	version, revision, goVersion := buildVersion()
	return fmt.Sprintf("inkwell %s (revision %s, %s)", version, revision, goVersion)
}
