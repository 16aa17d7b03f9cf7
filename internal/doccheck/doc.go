// Package doccheck holds only tests: they keep the documentation honest.
// One checks that every relative link and #anchor in README.md and docs/
// resolves; the other that every key the config package accepts is named
// in docs/configuration.md, so the docs and the code cannot drift apart.
package doccheck
