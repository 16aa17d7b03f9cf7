//go:build !route53contract

package providertest_test

// moreProviders are the entries this build adds to the table: none. Built
// with -tags route53contract (once dns/route53 and internal/r53emu are
// merged), provider_route53_test.go adds Route 53.
func moreProviders() []provider { return nil }
