package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/testerd/testerd/internal/keyfile"
	"github.com/testerd/testerd/outbound"
	"github.com/testerd/testerd/smtpd"
	"github.com/testerd/testerd/store"
)

// shareIdentity gives every node on one PostgreSQL database the same
// identity: the DKIM keys replies are signed with and, unless the operator
// gives --tls-cert, the STARTTLS certificate. The first node to start
// offers its own (the files in its data directory, given by the operator
// or generated there); every node then writes the database's copy into
// its data directory, where the usual loading finds it. Nodes starting
// together agree: one offer wins.
func shareIdentity(ctx context.Context, st *store.Store, c *config) error {
	if _, err := outbound.LoadOrCreateKeys(c.DataDir, c.Out.DKIMSelector, c.Out.DKIMEd25519); err != nil {
		return err
	}
	secrets := [][]string{{outbound.RSAKeyFile}}
	if c.Out.DKIMEd25519 {
		secrets = append(secrets, []string{outbound.Ed25519KeyFile})
	}
	if c.TLSCert == "" {
		if _, err := smtpd.LoadOrCreateCert(c.DataDir, c.Hostname); err != nil {
			return err
		}
		secrets = append(secrets, []string{smtpd.CertFile, smtpd.KeyFile}) // a certificate and its key go together
	}
	for _, files := range secrets {
		local := map[string][]byte{}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(c.DataDir, f))
			if err != nil {
				return err
			}
			local[f] = b
		}
		offer, err := json.Marshal(local)
		if err != nil {
			return err
		}
		shared, err := st.ShareSecret(ctx, "files:"+fmt.Sprint(files), offer)
		if err != nil {
			return fmt.Errorf("sharing %v through the database: %w", files, err)
		}
		if bytes.Equal(shared, offer) {
			continue // ours is the cluster's
		}
		var theirs map[string][]byte
		if err := json.Unmarshal(shared, &theirs); err != nil {
			return fmt.Errorf("the database's copy of %v: %w", files, err)
		}
		for _, f := range files {
			perm := os.FileMode(0o600)
			if f == smtpd.CertFile {
				perm = 0o644
			}
			if err := keyfile.Write(filepath.Join(c.DataDir, f), theirs[f], perm); err != nil {
				return err
			}
		}
	}
	return nil
}
