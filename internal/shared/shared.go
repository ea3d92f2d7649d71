// Package shared finds the project's shared material (../shared beside the
// repository: test suites, vectors, reference documents) for tests. The
// material is read in place and never copied into the repository. A test
// that needs it skips when it is absent, and fails instead when
// TESTERD_REQUIRE_SHARED=1, as CI sets.
package shared

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the path of elem under the shared directory, or ends the
// test: skipped, or failed when TESTERD_REQUIRE_SHARED=1. TESTERD_SHARED
// overrides where the shared directory is.
func Dir(tb testing.TB, elem ...string) string {
	tb.Helper()
	root, err := root()
	if err == nil {
		p := filepath.Join(append([]string{root}, elem...)...)
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("shared test material not found (%v): clone ../shared beside the repository or set TESTERD_SHARED", err)
	if os.Getenv("TESTERD_REQUIRE_SHARED") == "1" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

func root() (string, error) {
	if d := os.Getenv("TESTERD_SHARED"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
