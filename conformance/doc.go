// Package conformance runs the FreeBSD TCP test suite (packetdrill
// scripts, kept in ../../shared/conformance) against tundra's stack and
// keeps each script's result in expectations.txt. Its test fails when a
// script that passed stops passing; "go test ./conformance -update"
// rewrites the file after an improvement. See README.md for what the
// runner checks and what the results mean.
package conformance
