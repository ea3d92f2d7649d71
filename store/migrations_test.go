package store

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// shipped are the SHA-256 digests (first 16 hex digits) of each shipped
// migration, as SQLite runs it and as dialect.ddl gives it to PostgreSQL.
// A database that ran a migration never runs it again, so editing one, or
// the ddl rules that translate it, makes new databases differ from old
// ones without a word: append a migration instead. A new migration adds
// its line here (the test prints it).
var shipped = [][2]string{
	{"5d080896eca24747", "0d3503ef818efa21"},
	{"1655b50221a585e8", "23b7f974952e4d95"},
	{"6959276ec65e57dd", "6959276ec65e57dd"},
	{"2520b1879a4abf18", "793ee8aedba1d069"},
	{"d093dc65532d4022", "d093dc65532d4022"},
	{"aacb671f8dd64a5b", "a7c1d9af4864d50c"},
	{"50aa6ee661a9e5f9", "aeca60541271fde1"},
	{"b1b4130b36b21871", "d5999e225c184bb8"},
	{"c794a57c457b4f9d", "22d8c348bd78bd17"},
	{"bb6bb343270e792e", "767d69d2d8cfe7fd"},
	{"a0a456749951051e", "a0a456749951051e"},
	{"af753136b0385ec5", "af753136b0385ec5"},
	{"a1ee5e26cf1b27c1", "e0fcce654f2ae6c2"},
	{"bc9f50a4eb85746a", "f0b10a35fe3d3e36"},
	{"f578eb636354bcaf", "f578eb636354bcaf"},
	{"0072a302ab9fd761", "f75b2c41b1e43f8b"},
	{"8c0495cbba19757a", "d7aa834a6d6f30a4"},
	{"40be08ac0e9bae91", "10e0a2bdd4f967a2"},
	{"081f2b8e850cf168", "081f2b8e850cf168"},
	{"e580c84340888849", "00cc9a2752dc9103"},
	{"dd693a7a945d5406", "dd693a7a945d5406"},
	{"6d808e4e93d8b2b7", "6d808e4e93d8b2b7"},
	{"8a881581d0897ac2", "1282aba60949cc2d"},
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

func TestMigrationsFrozen(t *testing.T) {
	pg := dialect{postgres: true}
	for i, m := range migrations {
		got := [2]string{digest(m), digest(pg.ddl(m))}
		if i >= len(shipped) {
			t.Errorf("migration %d is new: add {%q, %q} to shipped", i+1, got[0], got[1])
			continue
		}
		if got != shipped[i] {
			t.Errorf("migration %d changed (%q, %q; shipped %q): a shipped migration must never change, on either engine; append a new one", i+1, got[0], got[1], shipped[i])
		}
	}
	if len(shipped) > len(migrations) {
		t.Errorf("%d migrations shipped, %d now: a shipped migration was removed", len(shipped), len(migrations))
	}
}
