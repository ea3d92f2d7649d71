package main

import (
	"encoding/json"
	"flag"
	"fmt"

	"github.com/testerd/testerd/bounce"
)

// runBounce is "testerd bounce": explains a bounce (a returned message or
// pasted text) from a file or standard input.
func runBounce(cl *cli, args []string) int {
	stdin, stdout, stderr := cl.stdin, cl.stdout, cl.stderr
	fs := flag.NewFlagSet("testerd bounce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	langFlag := addLangFlag(cl, fs)
	probe := fs.String("probe", "", "a tester address to offer when authentication is involved (such as check@tester.example)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: testerd bounce [--lang en|it] [--json] [--probe ADDRESS] FILE|-")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "testerd bounce: give one file, or - for standard input")
		return 2
	}
	lang, ok := langFlag.parse("bounce", stderr)
	if !ok {
		return 2
	}
	raw, err := readMessage(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "testerd bounce: %v\n", err)
		return 1
	}
	if len(raw) > bounce.MaxInput {
		raw = raw[:bounce.MaxInput]
	}
	s := bounce.Explain(raw).In(lang, *probe, "")
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			fmt.Fprintf(stderr, "testerd bounce: %v\n", err)
			return 1
		}
	} else {
		bounce.WriteText(stdout, s, lang)
	}
	if !s.Recognised {
		return 3
	}
	return 0
}
