// Package providertest holds the provider contract: one table-driven test
// (contract_test.go) that runs the same scenarios against every DNS
// provider goavail has, each through the dns core's Reconciler as the
// agent wires it, and checks the outcome by reading the provider's own
// state (the emulator's store, named's answers), never the core's report.
// A new provider is one more entry in the table: a provider value whose
// start function builds its world (provider_*_test.go).
package providertest
