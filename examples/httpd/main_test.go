package main

import (
	"io"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tundrahttp "github.com/tundra-net/tundra/http"
)

func TestSite(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "note.txt"), []byte("a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &tundrahttp.Server{Handler: newMux(dir)}
	go srv.Serve(l)
	defer srv.Close()

	c := &tundrahttp.Client{}
	defer c.CloseIdleConnections()
	base := "http://" + l.Addr().(*net.TCPAddr).String()
	for path, want := range map[string]string{
		"/":               "<h1>tundra httpd</h1>",
		"/hello":          "hello, world\n",
		"/headers":        "GET /headers HTTP/1.1",
		"/files/note.txt": "a file\n",
		"/bytes/5":        "abcde",
	} {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != nethttp.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %q, want it to contain %q", path, resp.StatusCode, body, want)
		}
	}
}
