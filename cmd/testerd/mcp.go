package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/web"
)

// runMCP is "testerd mcp": the tester's MCP tools over standard input and
// output, for an AI assistant that starts testerd as its tool server.
// With --server it relays a running tester's /mcp (the token's scope and
// rate limit apply there); without, it opens the data directory as
// testerd serve does (with the same flags and environment), and may run
// beside it.
func runMCP(cl *cli, args []string) int {
	stdout, stderr := cl.stdout, cl.stderr
	fs := flag.NewFlagSet("testerd mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := bindConfig(fs, cl.env)
	server := fs.String("server", cl.getenv("TESTERD_MCP_SERVER", ""), "a running tester's web address (https://tester.example.com): relay its /mcp instead of opening the data directory (env TESTERD_MCP_SERVER)")
	token := fs.String("token", cl.getenv("TESTERD_MCP_TOKEN", ""), "the API token with the mcp scope, for --server (env TESTERD_MCP_TOKEN)")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "testerd mcp: it takes no arguments; it speaks MCP on standard input and output")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	t := &mcp.IOTransport{Reader: io.NopCloser(cl.stdin), Writer: nopWriteCloser{stdout}}
	var err error
	if *server != "" {
		err = relayMCP(ctx, *server, *token, t)
	} else {
		err = serveMCP(ctx, c, stderr, t)
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "testerd mcp: %v\n", err)
		return 1
	}
	return 0
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// serveMCP serves the tools from the data directory.
func serveMCP(ctx context.Context, c *config, stderr io.Writer, t mcp.Transport) error {
	if err := c.resolve(); err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	resolver, err := dnsx.NewClient(c.Resolver, dnsx.DefaultTimeout)
	if err != nil {
		return err
	}
	w := &web.Server{Store: st, Domain: c.Domain, Lang: c.lang, BaseURL: strings.TrimSuffix(c.Out.PublicURL, "/"),
		Logger: slog.New(slog.NewTextHandler(stderr, nil)),
		Lint:   &lint.Checker{Resolver: resolver, Receiver: c.Hostname, MaxLookups: WebLintLookups, STS: &mtasts.Fetcher{Resolver: resolver}, BIMI: c.bimi()},
		Judge:  &verify.Judge{Resolver: resolver, Receiver: c.Hostname, Reputation: c.reputation(), Spam: c.spam(), Unsubscribe: c.unsubscribeTrier(), BIMI: c.bimi()}}
	return w.MCPServer(nil).Run(ctx, t)
}

// relayMCP serves, over t, the tools of the tester at base, calling them
// there with the token.
func relayMCP(ctx context.Context, base, token string, t mcp.Transport) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("--server %q: give the tester's web address, such as https://tester.example.com", base)
	}
	if token == "" {
		return errors.New("--server needs --token (or TESTERD_MCP_TOKEN): an API token with the mcp scope")
	}
	hc := &http.Client{Timeout: web.MaxMCPWait + 30*time.Second, Transport: bearerTransport{token: token}}
	client := mcp.NewClient(&mcp.Implementation{Name: "testerd-mcp-relay", Version: "1"}, nil)
	remote, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: strings.TrimSuffix(base, "/") + "/mcp",
		HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		return fmt.Errorf("%s/mcp: %w", strings.TrimSuffix(base, "/"), err)
	}
	defer remote.Close()
	tools, err := remote.ListTools(ctx, nil)
	if err != nil {
		return fmt.Errorf("listing the tools of %s: %w", base, err)
	}
	init := remote.InitializeResult()
	srv := mcp.NewServer(&mcp.Implementation{Name: "testerd", Title: "testerd, the mail tester (relay)", Version: "1"},
		&mcp.ServerOptions{Instructions: init.Instructions, Capabilities: &mcp.ServerCapabilities{}})
	for _, tool := range tools.Tools {
		srv.AddTool(tool, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return remote.CallTool(ctx, &mcp.CallToolParams{Name: req.Params.Name, Arguments: req.Params.Arguments})
		})
	}
	return srv.Run(ctx, t)
}

// bearerTransport adds the token to every request.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}
