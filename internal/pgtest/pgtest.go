// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the server TESTERD_TEST_POSTGRES names (.ci/postgres.sh starts
// a throwaway one), dropped when the test ends. Without that variable a
// test skips with a clear message, and fails instead when
// TESTERD_REQUIRE_POSTGRES=1 (set in .ci/run).
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Env names the server for the tests.
const Env = "TESTERD_TEST_POSTGRES"

// DSN returns the URL of a fresh, empty schema for t.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		if os.Getenv("TESTERD_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("%s is not set, and TESTERD_REQUIRE_POSTGRES=1 requires PostgreSQL (eval \"$(.ci/postgres.sh)\" starts one)", Env)
		}
		t.Skipf("no PostgreSQL: set %s (eval \"$(.ci/postgres.sh)\" starts a throwaway server)", Env)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("PostgreSQL at %s: %v", base, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
