package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/web"
)

func TestLintCommand(t *testing.T) {
	t.Parallel()
	dns := probeDNS(t)
	var out, errb bytes.Buffer
	code := run([]string{"lint", "abc.it", "--resolver", dns, "--selector", "s1", "--ip", "127.0.0.9"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"abc.it — errors: 0", "== SPF", `record: "v=spf1 ip4:127.0.0.0/24 -all"`, "0 of 10 DNS-querying terms",
		"Mail from abc.it that fails DMARC is rejected", "s=s1 (given): ed25519", "MAIL FROM postmaster@abc.it from 127.0.0.9: pass"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"lint", "--json", "--resolver", dns, "evil.example"}, nil, &out, &errb); code != 3 {
		t.Fatalf("a domain with errors: exit %d, want 3", code)
	}
	var rep lint.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Domain != "evil.example" || rep.Errors == 0 {
		t.Fatalf("json: %v %+v", err, rep)
	}
	if code := run([]string{"lint", "--resolver", dns, "not a domain"}, nil, &out, &errb); code != 2 {
		t.Fatalf("bad domain: exit %d", code)
	}
}

func TestDomainAPI(t *testing.T) {
	t.Parallel()
	_, httpAddr := startServe(t)
	var rep lint.Report
	getJSON(t, "http://"+httpAddr+"/api/domain/abc.it?selectors=s1", &rep)
	if rep.Domain != "abc.it" || rep.Errors != 0 || len(rep.DKIM) != 1 || rep.DKIM[0].Key == nil || rep.SPF.Tree == nil {
		t.Fatalf("report %+v", rep)
	}
	// The same question is answered from the cache, without a lookup.
	for i := 0; i < 20; i++ {
		getJSON(t, "http://"+httpAddr+"/api/domain/abc.it?selectors=s1", &rep)
	}
	// New questions count against the per-IP limit: 1 so far.
	codes := map[int]int{}
	for i := 0; i < web.ChecksPerMinute; i++ {
		resp, err := http.Get(fmt.Sprintf("http://%s/api/domain/abc.it?selectors=x%d", httpAddr, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[200] != web.ChecksPerMinute-1 || codes[429] != 1 {
		t.Fatalf("status codes %v, want %d 200s then one 429", codes, web.ChecksPerMinute-1)
	}
	resp, err := http.Get("http://" + httpAddr + "/api/domain/not..a..domain")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("a bad name: %s", resp.Status)
	}
}
