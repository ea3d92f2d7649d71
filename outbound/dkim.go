package outbound

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/testerd/testerd/internal/keyfile"
)

// Key files in the data directory.
const (
	RSAKeyFile     = "dkim-rsa.pem"
	Ed25519KeyFile = "dkim-ed25519.pem"
	// RSABits is the size of a generated RSA key.
	RSABits = 2048
)

// Key is one DKIM signing key and the selector it is published under.
type Key struct {
	Selector string
	// Algorithm is "rsa" or "ed25519", the k= of the key record.
	Algorithm string
	Signer    crypto.Signer
}

// Record is the key's DNS TXT record (RFC 6376 §3.6.1).
func (k *Key) Record() (string, error) {
	var p []byte
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		p = der
	case ed25519.PublicKey:
		p = pub // RFC 8463 §4.2: the raw 32-byte key
	default:
		return "", fmt.Errorf("outbound: unsupported key type %T", pub)
	}
	return "v=DKIM1; k=" + k.Algorithm + "; p=" + base64.StdEncoding.EncodeToString(p), nil
}

// LoadOrCreateKeys loads the DKIM keys from dir, generating them at first
// start: an RSA-2048 key under selector, and with withEd25519 an Ed25519
// key under selector+"-ed25519" too. Keys are PKCS#8 PEM files readable by
// the owner only.
func LoadOrCreateKeys(dir, selector string, withEd25519 bool) ([]*Key, error) {
	rsaKey, err := loadOrCreate(filepath.Join(dir, RSAKeyFile), func() (crypto.Signer, error) {
		return rsa.GenerateKey(rand.Reader, RSABits)
	})
	if err != nil {
		return nil, err
	}
	if _, ok := rsaKey.(*rsa.PrivateKey); !ok {
		return nil, fmt.Errorf("outbound: %s holds a %T, not an RSA key", RSAKeyFile, rsaKey)
	}
	keys := []*Key{{Selector: selector, Algorithm: "rsa", Signer: rsaKey}}
	if withEd25519 {
		edKey, err := loadOrCreate(filepath.Join(dir, Ed25519KeyFile), func() (crypto.Signer, error) {
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			return priv, err
		})
		if err != nil {
			return nil, err
		}
		if _, ok := edKey.(ed25519.PrivateKey); !ok {
			return nil, fmt.Errorf("outbound: %s holds a %T, not an Ed25519 key", Ed25519KeyFile, edKey)
		}
		keys = append(keys, &Key{Selector: selector + "-ed25519", Algorithm: "ed25519", Signer: edKey})
	}
	return keys, nil
}

func loadOrCreate(path string, generate func() (crypto.Signer, error)) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := generate()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := keyfile.WritePEM(path, "PRIVATE KEY", der, 0o600); err != nil {
			return nil, err
		}
		return key, nil
	} else if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("outbound: %s: no PKCS#8 PEM private key", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("outbound: %s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("outbound: %s: %T cannot sign", path, key)
	}
	return signer, nil
}

// SignedHeaders are the fields a Signer covers when present. From is
// listed twice so that a second From cannot be added without breaking
// the signature (RFC 6376 §8.15).
var SignedHeaders = []string{"From", "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
	"Auto-Submitted", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"}

// Signer signs messages for one domain with every key it holds.
type Signer struct {
	Domain string
	Keys   []*Key
}

// Sign returns data with one DKIM-Signature per key, relaxed/relaxed.
func (s *Signer) Sign(data []byte) ([]byte, error) {
	for _, k := range s.Keys {
		var out bytes.Buffer
		out.Grow(len(data) + 1024)
		err := dkim.Sign(&out, bytes.NewReader(data), &dkim.SignOptions{
			Domain:                 s.Domain,
			Selector:               k.Selector,
			Signer:                 k.Signer,
			Hash:                   crypto.SHA256,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             SignedHeaders,
		})
		if err != nil {
			return nil, fmt.Errorf("outbound: dkim signing with %s: %w", k.Selector, err)
		}
		data = out.Bytes()
	}
	return data, nil
}
