package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"
)

// listenOperator binds the listener of an operator-only flag (--pprof-addr,
// --metrics-addr) with handler. Unless the handler asks for a token
// (anyAddr), it refuses any address that is not loopback: profiles show
// message contents and internals and can be made to burn CPU, and metrics
// show what the tester is asked.
func listenOperator(flagName, addr string, anyAddr bool, handler http.Handler) (*httpServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--%s %q: %w", flagName, addr, err)
	}
	if ip, err := netip.ParseAddr(host); !anyAddr && (err != nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--%s %q: use a loopback address such as 127.0.0.1:6060 (a reverse proxy or an SSH tunnel can reach it)", flagName, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagName, err)
	}
	// Profiles and scrapes are not waited for at shutdown.
	return &httpServer{srv: &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}, ln: ln}, nil
}

// pprofHandler serves Go's profiler under /debug/pprof/.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
