package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/testerd/testerd/store"
)

// errNodeTaken marks the start-up refusals that exit 2: another live
// process holds this node's name or its data directory.
var errNodeTaken = errors.New("refused to start")

// member is this process's entry among the nodes of its database: a node
// name held by one live instance at a time. The data directory's lock
// tells a restart after a crash from a second process: the lock of a
// dead process is free, and the instance it names may be replaced at
// once; a live one's is not.
type member struct {
	store *store.Store
	rec   store.NodeRecord
	lock  *os.File
	log   *slog.Logger
}

// join locks the data directory and registers the node; a name or a
// directory another live process holds is refused with errNodeTaken.
func join(ctx context.Context, st *store.Store, dataDir, addr string, log *slog.Logger) (*member, error) {
	var b [8]byte
	rand.Read(b[:])
	m := &member{store: st, log: log}
	host, _ := os.Hostname()
	now := time.Now()
	m.rec = store.NodeRecord{Name: st.Node, Instance: hex.EncodeToString(b[:]), Addr: host + " " + addr, Started: now, Heartbeat: now}
	lock, previous, err := lockDir(filepath.Join(dataDir, "node.lock"), m.rec.Instance)
	if err != nil {
		return nil, err
	}
	m.lock = lock
	if err := st.Register(ctx, m.rec, previous); err != nil {
		m.unlock()
		var taken *store.NodeTakenError
		if errors.As(err, &taken) {
			return nil, fmt.Errorf("%w: %v", errNodeTaken, err)
		}
		return nil, fmt.Errorf("registering node %q: %w", st.Node, err)
	}
	return m, nil
}

// run beats the node's heart at a quarter of the lease until ctx ends,
// then leaves the registry. Another instance holding the name (this one
// missed a whole lease of heartbeats) stops the server: two instances
// under one name would deliver each other's mail twice.
func (m *member) run(ctx context.Context) error {
	t := time.NewTicker(m.store.RenewEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := m.store.Deregister(dctx, m.rec.Name, m.rec.Instance); err != nil {
				m.log.Error("node registry: leaving", "err", err)
			}
			return nil
		case <-t.C:
		}
		err := m.store.Heartbeat(ctx, m.rec.Name, m.rec.Instance, time.Now())
		switch {
		case errors.Is(err, store.ErrNodeLost):
			return fmt.Errorf("node %q: %w", m.rec.Name, err)
		case err != nil && ctx.Err() == nil:
			m.log.Error("node registry: heartbeat", "err", err)
		}
	}
}

func (m *member) unlock() error {
	if m.lock == nil {
		return nil
	}
	err := m.lock.Close()
	m.lock = nil
	return err
}

// lockDir takes the lock file at path for instance and returns the
// instance that held it before (its process is gone, or the lock would
// not be free).
func lockDir(path, instance string) (*os.File, string, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, "", err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		held, _ := os.ReadFile(path)
		return nil, "", fmt.Errorf("%w: the data directory %s is in use by another testerd (instance %s): give each process its own --data-dir",
			errNodeTaken, filepath.Dir(path), strings.TrimSpace(string(held)))
	}
	var b [64]byte
	n, _ := f.ReadAt(b[:], 0)
	previous := strings.TrimSpace(string(b[:n]))
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(instance+"\n"), 0)
	}
	return f, previous, nil
}
