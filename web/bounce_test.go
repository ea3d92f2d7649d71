package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"context"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/i18n/i18ntest"
	"github.com/testerd/testerd/store"
)

// TestBouncePage: a pasted Gmail 5.7.26 bounce is explained on the page,
// with a private test made on the spot, in English, Italian and the
// pseudo-locale (where nothing shown is outside the catalog but the
// bounce's own words, quoted).
func TestBouncePage(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pseudo := i18n.EnablePseudo()
	s := &Server{Store: st, Domain: "tester.example"}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	const gmail = "550-5.7.26 Unauthenticated email from forno-anna.it is not accepted due to\n550 5.7.26 domain's DMARC policy. - gsmtp"
	for _, tc := range []struct {
		lang i18n.Lang
		want []string
	}{
		{i18n.EN, []string{"fails DMARC", "Who must act:", "your domain's DNS records", "check+t-", `href="/new/t-`}},
		{i18n.IT, []string{"non supera DMARC", "Chi deve intervenire:", "record DNS del tuo dominio", "check+t-"}},
		{pseudo, nil},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/bounce", strings.NewReader(url.Values{"text": {gmail}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept-Language", string(tc.lang))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		shown, _ := visibleText(strings.NewReader(body))
		for _, want := range tc.want {
			if !strings.Contains(body, want) && !strings.Contains(shown, want) {
				t.Errorf("%s: the explanation lacks %q", tc.lang, want)
			}
		}
		if tc.lang == pseudo {
			text, err := visibleText(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			// The textarea holds the bounce as pasted: data.
			if bad := i18ntest.Unmarked(text, strings.Fields(gmail)...); len(bad) > 0 {
				t.Errorf("words outside the catalog: %q", bad)
			}
		}
	}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s", resp.Request.URL, resp.Status)
	}
	return b.String()
}
