package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/testerd/testerd/explain"
)

// The exit codes of testerd lint and testerd check, for CI:
const (
	exitPass    = 0 // nothing at or above --fail-on
	exitTester  = 1 // testerd could not judge: its resolver, a file it could not read
	exitUsage   = 2 // a wrong flag or argument
	exitFailsOn = 3 // something at or above --fail-on
)

// exitCodesHelp is the exit codes as the commands' usage prints them.
const exitCodesHelp = `exit codes: 0 nothing at or above --fail-on; 1 testerd could not judge (its DNS resolver did not answer, an unreadable file);
2 a wrong flag or argument; 3 something at or above --fail-on (see docs/ci.md)`

// failOn is the --fail-on threshold: error, warning, or never.
type failOn string

const (
	failOnError   failOn = "error"
	failOnWarning failOn = "warning"
	failOnNever   failOn = "never"
)

// addFailOnFlag adds --fail-on with its default: lint fails on errors as
// it always has; check, whose output is the verdict, fails on nothing
// unless asked.
func addFailOnFlag(fs *flag.FlagSet, what string, def failOn) *string {
	return fs.String("fail-on", string(def), "exit 3 when "+what+" has an error (error), an error or a warning (warning), or never (never)")
}

// parseFailOn checks the flag's value.
func parseFailOn(s, cmd string, stderr io.Writer) (failOn, bool) {
	switch f := failOn(strings.ToLower(s)); f {
	case failOnError, failOnWarning, failOnNever:
		return f, true
	}
	fmt.Fprintf(stderr, "testerd %s: --fail-on %q: use error, warning or never\n", cmd, s)
	return "", false
}

// exceeded reports whether errors and warnings reach the threshold.
func (f failOn) exceeded(errors, warnings int) bool {
	switch f {
	case failOnError:
		return errors > 0
	case failOnWarning:
		return errors+warnings > 0
	}
	return false
}

// diagnosisCounts counts a diagnosis' findings as errors (some provider
// refuses, defers or junks the message for it) and warnings, leaving out
// the requirements in ignore.
func diagnosisCounts(d *explain.Diagnosis, ignore []string) (errors, warnings int) {
	for _, f := range d.Findings {
		if slices.Contains(ignore, f.ID) {
			continue
		}
		if f.Severity == explain.Blocking {
			errors++
		} else {
			warnings++
		}
	}
	return errors, warnings
}
