// Package http is tundra's HTTP/1.0 and HTTP/1.1, server and client,
// written from RFC 9112 (message syntax), RFC 9110 (semantics) and
// RFC 1945 (HTTP/1.0). It runs on any net.Conn: the kernel's sockets, an
// in-memory net.Pipe, or tundra's own TCP stack, so the same code serves
// over all three. It reuses net/http's types (Handler, Request,
// ResponseWriter, Header, Response), so handlers and routers such as
// nethttp.ServeMux work unchanged, but none of net/http's Server or
// Transport runs underneath.
//
// # What HTTP/1.1 changed on the wire
//
// An HTTP/1.0 exchange is one request and one response per TCP connection:
// the client sends
//
//	GET /index.html HTTP/1.0
//	Host: example.test
//
// and the server answers and closes. The close is how the client knows the
// response body is over when there is no Content-Length. Opening a
// connection per request costs a round trip for the handshake and restarts
// TCP's slow start every time. HTTP/1.0 clients can ask to keep the
// connection with "Connection: keep-alive", and then the server must give a
// Content-Length, since it can no longer use the close to end the body.
//
// HTTP/1.1 (RFC 9112 section 9.3) makes connections persistent by default:
// after one response the connection waits for the next request, until a
// side sends "Connection: close". That needs every body to be delimited
// without closing, which is why 1.1 added the chunked transfer coding
// (section 7.1): a body of unknown length is sent as hexadecimal-sized
// chunks, ended by a zero-size chunk, optionally followed by trailer
// fields:
//
//	HTTP/1.1 200 OK
//	Transfer-Encoding: chunked
//
//	5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n
//
// A 1.1 client may also pipeline: send several requests without waiting
// for the responses, which the server must answer in the same order
// (section 9.3.2). This server reads a request, answers it and only then
// reads the next, so the order holds by construction. Finally, 1.1 requires
// a Host header on every request (one IP address can serve many names) and
// adds "Expect: 100-continue", with which a client asks before sending a
// large body.
//
// # Framing is security
//
// A message's body length is decided by RFC 9112 section 6.3. When a proxy
// and a server decide it differently (one trusting Content-Length, the
// other Transfer-Encoding; one accepting a malformed chunk size the other
// rejects) an attacker can hide a second request inside the first one's
// body: request smuggling (section 11.2). This package never guesses: a
// request with both length headers, repeated lengths, a transfer coding
// other than a final chunked, obsolete line folding, a bare CR, bad
// characters in a field, or an invalid chunk gets 400 and the connection is
// closed.
//
// # Server
//
// Server.Serve takes a net.Listener. One goroutine serves each connection;
// buffers come from pools, and the Request, its URL and its Header are
// reused from one request to the next on a connection, so a keep-alive GET
// costs about one allocation in the server. See Server for the timeouts,
// limits, graceful Shutdown and panic handling.
//
// # Client
//
// Client sends requests over connections from its DialContext function and
// keeps them alive in a per-host pool. See Client.
//
// # Contract
//
// ContractHandler is the HTTP part of tundra's benchmark contract (see
// DESIGN.md), which `tundra serve` mounts.
//
// # Reading the code
//
// The files go from the bytes up:
//
//	wire.go        one line at a time: character classes, request line,
//	               status line, field line, header-name canonicalization
//	head.go        reading a whole head off a connection, with limits
//	body.go        which framing a message has (RFC 9112 section 6.3) and
//	               reading a body of that framing
//	chunked.go     the chunked transfer coding, both directions
//	server.go      Server and the per-connection loop
//	response.go    the ResponseWriter: when to send the head, which
//	               framing, whether the connection survives
//	client.go      Client: redirects, retries and the connection pool
//	persistconn.go one client connection: writing a request, reading a
//	               response, handing the connection back
//	contract.go    the benchmark contract's handler
//
// The tests are organized the same way; parse_test.go, chunked_test.go and
// response_test.go hold the vectors taken from nodejs/llhttp and Go's own
// tests, each cited, and fuzz_test.go compares our parsers with net/http's.
package http
