// Package keyfile writes the PEM files testerd generates at first start
// (the DKIM keys of replies, the self-signed STARTTLS certificate) so that
// a crash never leaves half a file: written aside, synced, then renamed.
package keyfile

import (
	"encoding/pem"
	"os"
	"path/filepath"
)

// WritePEM writes one PEM block to path with perm, atomically, creating
// the directory (0700) if needed.
func WritePEM(path, blockType string, der []byte, perm os.FileMode) error {
	return Write(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), perm)
}

// Write writes data to path with perm, atomically, creating the directory
// (0700) if needed.
func Write(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
