package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

func main() { os.Exit(run(os.Stdin, os.Stdout)) }

type skip struct{ pkg, test, reason string }

func run(in io.Reader, out io.Writer) int {
	failed := false
	outputs := map[string][]string{} // package/test -> its output lines so far
	var skips []skip
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintln(out, string(line)) // not go test's JSON: pass it on
			if strings.HasPrefix(string(line), "FAIL") {
				failed = true
			}
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "build-fail":
			failed = true
		case "output":
			if e.Test == "" {
				if e.Output != "PASS\n" { // go test without -v does not print it
					fmt.Fprint(out, e.Output) // package lines: ok, FAIL, panics outside tests
				}
				continue
			}
			outputs[key] = append(outputs[key], e.Output)
		case "fail":
			failed = true
			if e.Test != "" {
				fmt.Fprint(out, strings.Join(outputs[key], ""))
			}
			delete(outputs, key)
		case "skip":
			if e.Test != "" {
				skips = append(skips, skip{e.Package, e.Test, reason(outputs[key])})
			}
			delete(outputs, key)
		case "pass":
			delete(outputs, key)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testsum: reading go test output:", err)
		failed = true
	}
	printSkips(out, skips)
	if failed {
		return 1
	}
	return 0
}

// reason picks the skip message out of a skipped test's output: the lines
// after its === RUN line, without the --- SKIP line.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

func printSkips(out io.Writer, skips []skip) {
	if len(skips) == 0 {
		fmt.Fprintln(out, "skipped tests: none")
		return
	}
	slices.SortFunc(skips, func(a, b skip) int { return strings.Compare(a.pkg+a.test, b.pkg+b.test) })
	fmt.Fprintf(out, "skipped tests: %d\n", len(skips))
	for _, s := range skips {
		fmt.Fprintf(out, "  SKIP %s %s: %s\n", s.pkg, s.test, s.reason)
	}
}
