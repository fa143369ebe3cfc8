// Package conformance runs packetdrill scripts against tundra's stack:
// the FreeBSD TCP test suite (kept in ../../shared/conformance), whose
// per-script results are recorded in expectations.txt, and tundra's own
// scripts for the classic exchanges of RFC 9293 (tundra/), which run
// against the stack's default configuration and must all pass.
//
// Its tests fail when a FreeBSD script that passed stops passing, when one
// of tundra's own scripts fails without a known-bug entry, when a failing
// script has no reason in reasons.txt, or when ../docs/conformance.md
// differs from what expectations.txt, reasons.txt and the own scripts'
// results make of it. "go test ./conformance -update" rewrites
// expectations.txt and the generated parts of docs/conformance.md. See
// README.md for what the runner checks.
package conformance
