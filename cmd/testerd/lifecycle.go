package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// A part is one long-running piece of the server. run blocks until its
// context ends or it fails, and returns once it has stopped; a part that
// returns nil before it is told to stop has failed too.
type part struct {
	name string
	run  func(ctx context.Context) error
}

// runParts starts parts in order, each under a context of its own, calls
// ready once every one of them runs, and waits. When ctx ends or a part
// fails, the parts stop in reverse order: each is told to stop and
// waited for before the one started before it is told (maddy's
// LifetimeTracker does the same). It returns the first failure, or nil.
func runParts(ctx context.Context, parts []part, ready func()) error {
	g, failed := errgroup.WithContext(ctx)
	stops := make([]context.CancelFunc, len(parts))
	done := make([]chan struct{}, len(parts))
	for i, p := range parts {
		// Not failed's context: the order of stopping is runParts' own.
		pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		stops[i], done[i] = stop, make(chan struct{})
		g.Go(func() error {
			defer close(done[i])
			err := p.run(pctx)
			switch {
			case err != nil:
				return fmt.Errorf("%s: %w", p.name, err)
			case pctx.Err() == nil:
				return fmt.Errorf("%s stopped by itself", p.name)
			}
			return nil
		})
	}
	if ready != nil {
		ready()
	}
	<-failed.Done()
	for i := len(parts) - 1; i >= 0; i-- {
		stops[i]()
		<-done[i]
	}
	return g.Wait()
}

// httpServer is an HTTP server part that owns its listener: the web
// pages, or an operator listener (profiler, metrics).
type httpServer struct {
	srv *http.Server
	ln  net.Listener
	// shutdown bounds the wait for requests in flight once stopped.
	shutdown time.Duration
}

// listenHTTP binds addr for srv; nothing is served until run.
func listenHTTP(addr string, srv *http.Server, shutdown time.Duration) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &httpServer{srv: srv, ln: ln, shutdown: shutdown}, nil
}

// run serves until ctx ends, then waits for the requests in flight (up
// to the shutdown bound) and closes the listener itself.
func (h *httpServer) run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- h.srv.Serve(h.ln) }()
	select {
	case err := <-errc:
		h.ln.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), h.shutdown)
	defer cancel()
	if err := h.srv.Shutdown(sctx); err != nil {
		h.srv.Close()
	}
	h.ln.Close()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Close releases the listener of a server that never ran.
func (h *httpServer) Close() error {
	h.srv.Close()
	return h.ln.Close()
}
