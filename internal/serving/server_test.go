package serving

import (
	"net"
	"net/http"
	"testing"
	"time"
)

func TestNewServerSetsEveryTimeout(t *testing.T) {
	t.Parallel()
	s := NewServer(http.NotFoundHandler(), 7*time.Second)
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 || s.WriteTimeout != 7*time.Second {
		t.Errorf("server %+v: every timeout must be set", s)
	}
}

// A client that opens a connection and never finishes its headers is cut
// off: the server closes the connection after ReadHeaderTimeout.
func TestNewServerClosesStalledClients(t *testing.T) {
	t.Parallel()
	s := NewServer(http.NotFoundHandler(), time.Second)
	s.ReadHeaderTimeout = 100 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil { // headers never end
		t.Fatal(err)
	}
	// The read returns once the server gives up on the request (a 408 or a
	// close); the deadline only bounds a broken server.
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a stalled client's connection open for 30 s")
	}
	t.Logf("server answered the stalled client with %q (%v)", buf[:n], err)
}
