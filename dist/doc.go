// Package dist holds goavail's packaging: the systemd unit, the env file,
// the package scripts (and, at the repository root, .goreleaser.yaml and
// the Dockerfile). Its test builds the release with goreleaser and
// installs the .deb.
package dist
