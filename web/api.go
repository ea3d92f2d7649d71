package web

import (
	_ "embed"
	"net/http"

	"github.com/testerd/testerd/reports"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
)

// The JSON API's response bodies, each named as openapi.json's schemas
// name it (TestOpenAPI generates those schemas from these types).

// OpenAPI is the OpenAPI 3.1 description of the JSON API, served at
// /api/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// errorBody is every error's body.
type errorBody struct {
	Error string `json:"error"`
}

// testCreated is POST /api/tests.
type testCreated struct {
	Token     string        `json:"token"`
	Addresses testAddresses `json:"addresses"`
	Page      string        `json:"page"`
	Results   string        `json:"results"`
}

type testAddresses struct {
	SPF   string `json:"spf"`
	DKIM  string `json:"dkim"`
	Check string `json:"check"`
}

// testResults is GET /api/tests/{token}.
type testResults struct {
	Token   string      `json:"token"`
	Results []apiResult `json:"results"`
}

// operatorMail is GET /api/mail.
type operatorMail struct {
	Mail []apiResult `json:"mail"`
}

// reanalysis is POST /api/results/{id}/reanalyze.
type reanalysis struct {
	ID           string          `json:"id"`
	Tags         []string        `json:"tags"`
	PreviousTags []string        `json:"previous_tags"`
	Verdict      *verify.Verdict `json:"verdict"`
}

// postedReport is POST /api/tlsrpt: the id the report is stored under.
type postedReport struct {
	ID string `json:"id"`
}

// reportList is GET /api/reports.
type reportList struct {
	Domains []store.ReportDomain `json:"domains"`
	Reports []*store.DMARCReport `json:"reports"`
}

// domainReports is GET /api/reports/{domain}.
type domainReports struct {
	Summary *reports.Summary     `json:"summary"`
	Reports []*store.DMARCReport `json:"reports"`
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*") // a public description, for API explorers
	w.Write(OpenAPI)
}
