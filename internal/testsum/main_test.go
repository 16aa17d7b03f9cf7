package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRun_SummarisesSkipsAndKeepsClosingLines feeds a recorded go test
// -json stream: passing tests stay quiet, a failing test's output and the
// package lines are printed as go test prints them, and each skip is
// listed with its reason.
func TestRun_SummarisesSkipsAndKeepsClosingLines(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"start","Package":"example.com/a"}`,
		`{"Action":"run","Package":"example.com/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}`,
		`{"Action":"pass","Package":"example.com/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"example.com/a","Test":"TestRoot","Output":"=== RUN   TestRoot\n"}`,
		`{"Action":"output","Package":"example.com/a","Test":"TestRoot","Output":"    x_test.go:9: needs root to build network namespaces\n"}`,
		`{"Action":"output","Package":"example.com/a","Test":"TestRoot","Output":"--- SKIP: TestRoot (0.00s)\n"}`,
		`{"Action":"skip","Package":"example.com/a","Test":"TestRoot"}`,
		`{"Action":"output","Package":"example.com/a","Output":"ok  \texample.com/a\t0.01s\n"}`,
		`{"Action":"pass","Package":"example.com/a"}`,
		`{"Action":"output","Package":"example.com/b","Test":"TestBad","Output":"=== RUN   TestBad\n"}`,
		`{"Action":"output","Package":"example.com/b","Test":"TestBad","Output":"    b_test.go:3: got 1, want 2\n"}`,
		`{"Action":"output","Package":"example.com/b","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}`,
		`{"Action":"fail","Package":"example.com/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"example.com/b","Output":"FAIL\texample.com/b\t0.01s\n"}`,
		`{"Action":"fail","Package":"example.com/b"}`,
	}, "\n")
	var out bytes.Buffer
	if code := run(strings.NewReader(in), &out); code != 1 {
		t.Errorf("exit %d with a failing test, want 1", code)
	}
	want := "ok  \texample.com/a\t0.01s\n" +
		"=== RUN   TestBad\n    b_test.go:3: got 1, want 2\n--- FAIL: TestBad (0.00s)\n" +
		"FAIL\texample.com/b\t0.01s\n" +
		"skipped tests: 1\n  SKIP example.com/a TestRoot: x_test.go:9: needs root to build network namespaces\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestRun_BuildFailureFails: a package that does not build fails the run.
func TestRun_BuildFailureFails(t *testing.T) {
	in := `{"ImportPath":"example.com/c","Action":"build-output","Output":"c.go:1: syntax error\n"}` + "\n" +
		`{"ImportPath":"example.com/c","Action":"build-fail"}` + "\n" +
		"FAIL\texample.com/c [build failed]\n"
	var out bytes.Buffer
	if code := run(strings.NewReader(in), &out); code != 1 || !strings.Contains(out.String(), "syntax error") || !strings.Contains(out.String(), "skipped tests: none") {
		t.Errorf("exit %d:\n%s", code, out.String())
	}
}
