package http_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	nethttp "net/http"
	"strings"
	"time"

	tundrahttp "github.com/tundra-net/tundra/http"
)

// A Server runs ordinary net/http handlers on any net.Listener. Here the
// listener is the kernel's loopback; with tundra's stack it would be the
// stack's Listen, and nothing else would change.
func ExampleServer() {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("GET /greet/{name}", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "hello, %s (%s)\n", r.PathValue("name"), r.Proto)
	})

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &tundrahttp.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	// Talk to it by hand, as HTTP/1.0 would: one request, then the server
	// closes the connection to end the response.
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /greet/student HTTP/1.0\r\n\r\n")
	raw, _ := io.ReadAll(conn)
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	fmt.Println(strings.SplitN(head, "\r\n", 2)[0])
	fmt.Print(body)
	// Output:
	// HTTP/1.1 200 OK
	// hello, student (HTTP/1.0)
}

// A Client keeps connections alive per host and reuses them; reading a
// body to its end hands the connection back to the pool.
func ExampleClient() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &tundrahttp.Server{Handler: tundrahttp.ContractHandler()}
	go srv.Serve(l)
	defer srv.Close()

	dials := 0
	client := &tundrahttp.Client{
		// With tundra's stack, this would be the stack's DialContext.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials++
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer client.CloseIdleConnections()

	for _, path := range []string{"/", "/bytes/5"} {
		resp, err := client.Get("http://" + l.Addr().String() + path)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %s %q\n", path, resp.Status, body)
	}
	resp, err := client.Post("http://"+l.Addr().String()+"/echo", "text/plain", strings.NewReader("echo me"))
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("/echo %q\n", body)
	fmt.Println("connections dialed:", dials)
	// Output:
	// / 200 OK "hello, world\n"
	// /bytes/5 200 OK "abcde"
	// /echo "echo me"
	// connections dialed: 1
}

// ContractHandler is what `tundra serve` mounts for the benchmark
// contract.
func ExampleContractHandler() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &tundrahttp.Server{Handler: tundrahttp.ContractHandler()}
	go srv.Serve(l)
	defer srv.Close()

	client := &tundrahttp.Client{}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/bytes/1048576", "/bytes/nope", "/missing"} {
		resp, err := client.Get("http://" + l.Addr().String() + path)
		if err != nil {
			log.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode, resp.Header.Get("Content-Type"), n, "bytes")
	}
	// Output:
	// /bytes/1048576 200 application/octet-stream 1048576 bytes
	// /bytes/nope 400 text/plain; charset=utf-8 56 bytes
	// /missing 404 text/plain; charset=utf-8 19 bytes
}

// Shutdown lets requests in flight finish and closes idle connections.
func ExampleServer_Shutdown() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	started := make(chan struct{})
	srv := &tundrahttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		close(started)
		time.Sleep(50 * time.Millisecond) // a slow request in flight
		io.WriteString(w, "finished anyway")
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	result := make(chan string, 1)
	go func() {
		resp, err := (&tundrahttp.Client{}).Get("http://" + l.Addr().String())
		if err != nil {
			result <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- string(body)
	}()
	<-started
	fmt.Println("shutdown:", srv.Shutdown(context.Background()))
	fmt.Println("request:", <-result)
	fmt.Println("serve:", <-served)
	// Output:
	// shutdown: <nil>
	// request: finished anyway
	// serve: http: Server closed
}
