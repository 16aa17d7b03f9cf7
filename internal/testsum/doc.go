// Command testsum reads `go test -json` on stdin and prints what `go test`
// prints without -v (the output of failing tests, and each package's
// closing ok/FAIL line), then a summary of every skipped test with its
// reason, so that a skip is never invisible. It exits 1 if any test or
// package failed or did not build.
//
//	go test -json ./... 2>&1 | go run ./internal/testsum
package main
