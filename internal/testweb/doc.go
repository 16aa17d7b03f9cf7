// Package testweb gives tests real HTTP and HTTPS servers: a private CA,
// certificates that are valid, expired, for the wrong name or close to
// expiry, and a handler whose answer a test can switch while it runs.
package testweb
