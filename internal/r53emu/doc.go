// Package r53emu is a Route 53 emulator for tests: the REST-XML API
// (version 2013-04-01) that aws-sdk-go-v2's route53 client speaks, for the
// calls goavail makes (ListHostedZonesByName, GetHostedZone,
// ListResourceRecordSets, ChangeResourceRecordSets, GetChange), written
// from the AWS API reference, plus a DNS server on loopback that answers
// for the zones once a change has propagated.
//
// What it keeps of Route 53's rules:
//   - record sets keyed by (name, type, set identifier), names in Route
//     53's form (lower case, trailing dot, "\052" for a leading *), listed
//     in Route 53's order (labels reversed, then type, then identifier)
//     with its pagination (NextRecordName/Type/Identifier);
//   - a change batch is atomic; a DELETE must name the set exactly (TTL,
//     every value, every routing field), else InvalidChangeBatch; a CREATE
//     of an existing set is InvalidChangeBatch; UPSERT replaces; the batch
//     limits (1,000 records, 32,000 characters of values);
//   - a change is PENDING until the propagation delay has passed, then
//     INSYNC, and the DNS server answers with it from then on;
//   - SigV4: a request must be signed with a known access key id and its
//     secret, else 403 InvalidClientTokenId / SignatureDoesNotMatch;
//   - faults: Throttling, PriorRequestNotComplete, 5xx, a hold in transit,
//     a lost answer.
//
// A journal of requests in the shape of internal/cfemu's (Entry) turns
// into chaos.Op for the chaos checker (Ops).
package r53emu
