package keyfile

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

func TestWritePEM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "k.pem")
	if err := WritePEM(path, "PRIVATE KEY", []byte{1, 2, 3}, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" || string(blk.Bytes) != "\x01\x02\x03" {
		t.Errorf("%q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
