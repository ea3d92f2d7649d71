module github.com/testerd/testerd

go 1.26.8

require (
	github.com/emersion/go-msgauth v0.7.0
	github.com/miekg/dns v1.1.73
	golang.org/x/net v0.57.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.40.0 // indirect
)
