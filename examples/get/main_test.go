package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	tundrahttp "github.com/tundra-net/tundra/http"
)

func TestFetch(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &tundrahttp.Server{Handler: tundrahttp.ContractHandler()}
	go srv.Serve(l)
	defer srv.Close()
	client := &tundrahttp.Client{DialContext: dial}
	base := "http://" + l.Addr().String()

	var body, bar bytes.Buffer
	n, err := fetch(context.Background(), client, "GET", base+"/", &body, false, &bar)
	if err != nil || n != 13 || body.String() != "hello, world\n" || bar.Len() != 0 {
		t.Fatalf("small: %d %q %v, bar %q", n, body.String(), err, bar.String())
	}

	body.Reset()
	n, err = fetch(context.Background(), client, "GET", base+"/bytes/3000000", &body, false, &bar)
	if err != nil || n != 3000000 || body.Len() != 3000000 {
		t.Fatalf("large: %d %v", n, err)
	}
	if !strings.Contains(bar.String(), "downloading") {
		t.Fatalf("no progress bar for a large body: %q", bar.String())
	}
}
