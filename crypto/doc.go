// Package crypto turns the cluster's crypto_key settings into AES keys and
// seals the messages agents exchange: AES-GCM with a random nonce, the
// sender, an (incarnation, sequence) pair, a timestamp and the fingerprint
// of the sender's configuration inside the authenticated part, so a
// message cannot be forged, altered or replayed.
//
// It replaces the original goavail's AES-CFB with a fixed IV, which had no
// authentication and panicked on bad input.
package crypto
