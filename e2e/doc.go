// Package e2e holds tundra's end-to-end tests: HTTP and TLS served and
// fetched by tundra's own stack over a real TUN device, with the Linux
// kernel and ordinary programs on the other side. The unit tests of http
// and tls run over in-memory connections and the kernel's loopback; these
// put the whole product on the wire: curl, wrk, openssl, testssl.sh and
// Go's net/http and crypto/tls talk to the stack's TCP from inside a
// network namespace, and tundra's HTTP and TLS clients dial kernel-side
// servers through the stack.
//
// Every test that needs a TUN follows tundra's network rule: it creates a
// network namespace of its own (link/tun/netnstest), with the kernel side
// at 198.18.0.1/24 and the stack at 198.18.0.2, no route out, and deletes
// it when it ends. Those tests need root and skip with a message without
// it, as they do when a tool they drive (curl, wrk, openssl) is missing.
// Every external command runs under a timeout and every load is bounded in
// time, so the package finishes in well under two minutes.
//
// The files:
//
//	env_test.go       the shared setup: a namespace, a TUN, a stack serving
//	                  the benchmark contract (internal/services), helpers to
//	                  run commands and open sockets inside the namespace
//	http_test.go      curl (HTTP/1.0, keep-alive, chunked uploads,
//	                  100-continue), Go's net/http client, our client against
//	                  net/http's server, wrk, smuggling and malformed
//	                  requests, pipelining and the head limits
//	tls_test.go       curl and openssl s_client against our HTTPS, our client
//	                  against openssl s_server and crypto/tls, mutual TLS
//	nettest_test.go   nettest.TestConn over TLS on two in-memory stacks (no
//	                  root needed)
//	testssl_test.go   testssl.sh against our HTTPS (only with
//	                  TUNDRA_TESTSSL=1: it takes about a minute)
//	examples_test.go  examples/httpd, get and proxy built and run with -tun
//	                  on a TUN of their own
package e2e
