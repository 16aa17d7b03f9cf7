// Command goavail watches IP addresses with health checks (ICMP, TCP, HTTP,
// HTTPS) and keeps their DNS records in step with their health; README.md
// is the front door and docs/ the manual.
//
// This package is the command line only: flags and commands (main.go,
// flags.go), exit codes, signals around a running agent (monitor.go: the
// runtime itself is package agent), validate, and the client side of
// status, drain and undrain (status.go, drain_cmd.go), which talk to a
// running agent over its http_listen. The end-to-end tests here run the
// built binary against the Cloudflare emulator in network namespaces
// (lab_e2e_test.go sets the lab up).
package main
