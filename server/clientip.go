package server

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// ParseTrustedProxies reads a comma-separated list of CIDRs (a bare address is a /32 or /128).
func ParseTrustedProxies(list string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			ip := net.ParseIP(part)
			if ip == nil {
				return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", part)
			}
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR: %w", part, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// Trusted tells whether ip is inside one of the ranges.
func Trusted(ranges []*net.IPNet, ip net.IP) bool {
	for _, r := range ranges {
		if r.Contains(ip) {
			return true
		}
	}
	return false
}

// ClientIPExtractor is the one rule for "the client's address", used by the rate limits and the
// logs (Echo's c.RealIP() calls it, so every handler mounted on the Echo instance gets the same
// answer). Without trusted proxies it is the TCP peer: headers are the client's to invent.
// With them, and only when the peer is one of them, it is the rightmost address in
// X-Forwarded-For that is not a trusted proxy (Echo's extractor, with Echo's default trust of
// loopback, link-local and private ranges switched off: only the configured ranges are trusted).
// A request from a trusted proxy without X-Forwarded-For but with an RFC 7239 Forwarded header
// gets that header's for= values, by the same rule; X-Forwarded-For wins when both are sent.
func ClientIPExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, r := range trusted {
		opts = append(opts, echo.TrustIPRange(r))
	}
	fromXFF := echo.ExtractIPFromXFFHeader(opts...)
	direct := echo.ExtractIPDirect()
	return func(r *http.Request) string {
		peer := direct(r)
		ip := net.ParseIP(peer)
		if ip == nil || !Trusted(trusted, ip) {
			return peer
		}
		if len(r.Header[echo.HeaderXForwardedFor]) == 0 {
			if fwd := forwardedFor(r.Header.Values("Forwarded")); fwd != "" {
				r2 := &http.Request{RemoteAddr: r.RemoteAddr, Header: http.Header{echo.HeaderXForwardedFor: {fwd}}}
				return fromXFF(r2)
			}
		}
		return fromXFF(r)
	}
}

// forwardedFor turns the for= parameters of RFC 7239 Forwarded headers into an
// X-Forwarded-For list ("a, b"), dropping ports and quotes. An element without for=, or with an
// obfuscated or unknown node, becomes "unknown", which no extractor trusts or parses, so the
// rightmost-untrusted walk stops there and falls back to the peer.
func forwardedFor(values []string) string {
	var hops []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			node := "unknown"
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				val = strings.Trim(strings.TrimSpace(val), `"`)
				if strings.HasPrefix(val, "[") { // "[2001:db8::1]:4711"
					if end := strings.Index(val, "]"); end > 0 {
						val = val[1:end]
					}
				} else if host, _, err := net.SplitHostPort(val); err == nil {
					val = host
				}
				if net.ParseIP(val) != nil {
					node = val
				}
			}
			hops = append(hops, node)
		}
	}
	return strings.Join(hops, ", ")
}
