package main

import (
	"net"
	"testing"
	"time"
)

// TestPerAddressCapExemptsTrustedProxies: a third connection from one address is closed on
// accept, a trusted proxy's are not, and a closed connection frees its address's slot.
func TestPerAddressCapExemptsTrustedProxies(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, proxy, _ := net.ParseCIDR("127.0.0.2/32")
	ln := limitListener(raw, 100, 2, []*net.IPNet{proxy})
	defer func() { _ = ln.Close() }()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	// open dials from src and returns the server's side of the connection, nil when refused.
	open := func(src string) (net.Conn, bool) {
		c, err := dialFrom(src, raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		select {
		case s := <-accepted:
			return s, true
		case <-time.After(300 * time.Millisecond):
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("read data from a refused connection")
		}
		return c, false
	}
	a1, ok1 := open("127.0.0.1")
	_, ok2 := open("127.0.0.1")
	_, ok3 := open("127.0.0.1")
	if !ok1 || !ok2 || ok3 {
		t.Errorf("from one address: kept %v %v %v, want the first two only", ok1, ok2, ok3)
	}
	for i := range 4 {
		if _, ok := open("127.0.0.2"); !ok {
			t.Errorf("trusted proxy's connection %d was refused", i+1)
		}
	}
	// The server closes its side of the first one (as http.Server does): the slot is free again.
	_ = a1.Close()
	if _, ok := open("127.0.0.1"); !ok {
		t.Error("a freed slot was not reusable")
	}
}
